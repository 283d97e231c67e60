// The task list: fetching with the list API's filters, sort and cursor; rendering rows
// keyed by id (a row is rebuilt only when its task's version changes, and focus stays
// where it was); quick add, inline title edit, complete/reopen and delete; and applying
// changes that arrive live from other tabs and devices.
import {api, ApiError} from './api.js';
import {$, h, clear, announce} from './dom.js';
import {formatDue, isOverdue} from './time.js';

const PRIORITY_RANK = {none: 0, low: 1, medium: 2, high: 3, urgent: 4};
const PRIORITY_LABEL = {none: 'No priority', low: 'Low', medium: 'Medium', high: 'High',
                        urgent: 'Urgent'};

let tasks = [];            // in display order
let nextCursor = null;
let loading = 0;           // generation of the latest list request
let editingId = null;      // the row whose title is being edited inline
let hooks = {openEditor: () => {}, openHistory: () => {}};

// ---------- filters ----------

function filters() {
  const f = $('filters');
  return {
    q: f.q.value.trim(),
    status: f.status.value,
    priority: f.priority.value,
    tag: f.tag.value.trim().toLowerCase(),
    sort: f.sort.value,
    order: f.order.value,
    overdue: f.overdue.checked,
  };
}

function query(f, cursor) {
  const q = {status: f.status, limit: 50};
  if (f.q) q.q = f.q;
  if (f.priority) q.priority = f.priority;
  if (f.tag) q.tag = f.tag;
  // A search sorts by relevance unless the user picked another key.
  if (!f.q || f.sort !== 'created_at') q.sort = f.sort;
  if (f.order) q.order = f.order;
  if (f.overdue) q.overdue = 'true';
  if (cursor) q.cursor = cursor;
  return q;
}

// Whether a task changed live still belongs in the list as filtered (the search is an
// approximation of the server's prefix match; the next reload settles it).
function matches(task, f = filters()) {
  if (f.status !== 'all' && task.status !== f.status) return false;
  if (f.priority && task.priority !== f.priority) return false;
  if (f.tag && !task.tags.includes(f.tag)) return false;
  if (f.overdue && !isOverdue(task)) return false;
  if (f.q) {
    const text = `${task.title} ${task.description || ''}`.toLowerCase();
    for (const word of f.q.toLowerCase().split(/\s+/))
      if (word && !text.includes(word)) return false;
  }
  return true;
}

function compare(a, b, f) {
  const key = f.q && f.sort === 'created_at' ? 'relevance' : f.sort;
  const defaultDesc = ['created_at', 'updated_at', 'priority', 'relevance'].includes(key);
  const desc = f.order ? f.order === 'desc' : defaultDesc;
  let c = 0;
  switch (key) {
  case 'priority': c = PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority]; break;
  case 'title': c = a.title.localeCompare(b.title, undefined, {sensitivity: 'base'}); break;
  case 'due_at':
    if (!a.due_at || !b.due_at) return (a.due_at ? -1 : 0) + (b.due_at ? 1 : 0);
    c = a.due_at < b.due_at ? -1 : a.due_at > b.due_at ? 1 : 0;
    break;
  case 'relevance': return 0;
  default: c = a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
  }
  return desc ? -c : c;
}

// ---------- loading ----------

// Changes applied while a list request is in flight: its answer may predate them.
let inflight = null;

export async function loadTasks() {
  const gen = ++loading;
  const f = filters();
  inflight = new Map();
  const seen = inflight;
  try {
    const page = await api.get('/api/tasks', query(f));
    if (gen !== loading) return;   // a newer request superseded this one
    tasks = page.items;
    nextCursor = page.next_cursor;
    inflight = null;
    for (const [id, t] of seen) {
      if (t) upsert(t);
      else remove(id);
    }
    render();
  } catch (err) {
    if (gen === loading) {
      inflight = null;
      report(err);
    }
  }
  loadTags();
}

async function loadMore() {
  if (!nextCursor) return;
  const gen = loading;
  try {
    const page = await api.get('/api/tasks', query(filters(), nextCursor));
    if (gen !== loading) return;
    const known = new Set(tasks.map((t) => t.id));
    tasks.push(...page.items.filter((t) => !known.has(t.id)));
    nextCursor = page.next_cursor;
    render();
  } catch (err) {
    report(err);
  }
}

async function loadTags() {
  try {
    const tags = await api.get('/api/tags');
    const list = $('tag-list');
    clear(list);
    for (const t of tags) list.append(h('option', {value: t.tag}));
  } catch { /* the filter works without suggestions */ }
}

export function resetTasks() {
  tasks = [];
  nextCursor = null;
  loading++;
  clear($('task-list'));
}

function report(err) {
  announce(err instanceof ApiError ? err.describe() : String(err));
  $('list-summary').textContent = err instanceof ApiError ? err.describe() : String(err);
}

// ---------- changes (own writes and live ones) ----------

// Puts task where it belongs (or takes it out when it no longer matches the filters).
export function upsert(task) {
  if (inflight) inflight.set(task.id, task);
  const f = filters();
  const i = tasks.findIndex((t) => t.id === task.id);
  if (i >= 0 && tasks[i].version > task.version) return;   // an older copy arrived late
  if (i >= 0) tasks.splice(i, 1);
  if (matches(task, f)) {
    const at = tasks.findIndex((t) => compare(task, t, f) < 0);
    tasks.splice(at < 0 ? (i >= 0 ? Math.min(i, tasks.length) : tasks.length) : at, 0, task);
  }
  render();
}

export function remove(id) {
  if (inflight) inflight.set(id, null);
  const i = tasks.findIndex((t) => t.id === id);
  if (i < 0) return;
  tasks.splice(i, 1);
  render();
}

export function findTask(id) {
  return tasks.find((t) => t.id === id);
}

// A `task` message of the live channel.
export function applyLive(msg) {
  if (msg.event_type === 'task_deleted' || !msg.task) remove(msg.task_id);
  else upsert(msg.task);
}

async function run(promise, done) {
  try {
    const result = await promise;
    if (done) done(result);
    return result;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 412 || err.status === 404)) {
      announce(err.status === 412 ? 'The task changed meanwhile; showing the latest version.'
                                  : 'The task no longer exists.');
      loadTasks();
    } else {
      announce(err instanceof ApiError ? err.describe() : String(err));
    }
    return null;
  }
}

function toggle(task, checked) {
  const action = checked ? 'complete' : 'reopen';
  run(api.post(`/api/tasks/${task.id}/${action}`), (t) => {
    upsert(t);
    announce(checked ? `Completed ${t.title}` : `Reopened ${t.title}`);
  });
}

function del(task) {
  run(api.del(`/api/tasks/${task.id}`, task.version), () => {
    remove(task.id);
    announce(`Deleted ${task.title}`);
  });
}

function saveTitle(task, title) {
  editingId = null;
  title = title.trim();
  if (!title || title === task.title) {
    render(true);
    return;
  }
  run(api.patch(`/api/tasks/${task.id}`, {title}, task.version), (t) => {
    upsert(t);
    announce('Title saved');
  }).then((t) => { if (!t) render(true); });
}

// "Pay rent #home !high" -> {title: 'Pay rent', tags: ['home'], priority: 'high'}
export function parseQuickAdd(text) {
  const body = {};
  const tags = [];
  const words = [];
  for (const word of text.trim().split(/\s+/)) {
    const tag = /^#([^\s#,]{1,50})$/.exec(word);
    const prio = /^!(urgent|high|medium|low|none)$/i.exec(word);
    if (tag) tags.push(tag[1].toLowerCase());
    else if (prio) body.priority = prio[1].toLowerCase();
    else words.push(word);
  }
  body.title = words.join(' ');
  if (tags.length) body.tags = tags;
  return body;
}

async function quickAdd(e) {
  e.preventDefault();
  const input = $('quick-title');
  const body = parseQuickAdd(input.value);
  if (!body.title) {
    announce('Write a title first.');
    input.focus();
    return;
  }
  const t = await run(api.post('/api/tasks', body));
  if (t) {
    input.value = '';
    upsert(t);
    announce(`Added ${t.title}`);
    loadTags();
  }
  input.focus();
}

// ---------- rendering ----------

function row(task) {
  const overdue = isOverdue(task);
  const done = task.status === 'completed';
  const titleId = `title-${task.id}`;
  const classes = ['task', `prio-${task.priority}`];
  if (done) classes.push('done');
  if (overdue) classes.push('overdue');

  const title = editingId === task.id
    ? h('input', {
      class: 'title-input', type: 'text', value: task.title, maxlength: '500',
      'aria-label': 'Title', dataset: {key: `${task.id}:title`},
      onkeydown: (e) => {
        if (e.key === 'Enter') { e.preventDefault(); e.target.blur(); }
        if (e.key === 'Escape') { editingId = null; render(true); }
      },
      onblur: (e) => { if (editingId === task.id) saveTitle(task, e.target.value); },
    })
    : h('button', {
      type: 'button', class: 'title-button', id: titleId, dataset: {key: `${task.id}:title`},
      title: 'Click to rename', onclick: () => { editingId = task.id; render(true); },
    }, task.title);

  const meta = h('div', {class: 'meta'},
    h('span', {class: `prio-badge prio-${task.priority}`}, PRIORITY_LABEL[task.priority]),
    task.due_at && h('time', {datetime: task.due_at, class: 'due'},
      `Due ${formatDue(task.due_at, task.all_day)}`),
    overdue && h('strong', {class: 'overdue-label'}, 'Overdue'),
    task.recurrence && h('span', {class: 'recurs'}, `Repeats ${describeRule(task)}`),
    task.reminders && task.reminders.length > 0 &&
      h('span', {class: 'reminder-count'}, `${task.reminders.length} reminder${task.reminders.length > 1 ? 's' : ''}`),
    task.tags.map((tag) => h('button', {
      type: 'button', class: 'tag', 'aria-label': `Show tasks tagged ${tag}`,
      onclick: () => { $('f-tag').value = tag; loadTasks(); },
    }, `#${tag}`)),
  );

  return h('li', {class: classes.join(' '), dataset: {id: task.id, version: String(task.version)}},
    h('input', {
      type: 'checkbox', class: 'done-box', checked: done, 'aria-labelledby': titleId,
      'aria-describedby': `state-${task.id}`, dataset: {key: `${task.id}:done`},
      onchange: (e) => toggle(task, e.target.checked),
    }),
    h('span', {class: 'visually-hidden', id: `state-${task.id}`},
      done ? 'completed' : 'not completed'),
    h('div', {class: 'task-main'},
      task.description ? h('div', {class: 'title-line'}, title,
        h('p', {class: 'description'}, task.description)) : title,
      meta),
    h('div', {class: 'actions'},
      h('button', {type: 'button', class: 'secondary small', dataset: {key: `${task.id}:edit`},
        'aria-label': `Edit ${task.title}`, onclick: () => hooks.openEditor(task)}, 'Edit'),
      h('button', {type: 'button', class: 'secondary small', dataset: {key: `${task.id}:history`},
        'aria-label': `History of ${task.title}`, onclick: () => hooks.openHistory(task)}, 'History'),
      h('button', {type: 'button', class: 'danger small', dataset: {key: `${task.id}:delete`},
        'aria-label': `Delete ${task.title}`, onclick: () => del(task)}, 'Delete')));
}

const DAY_NAMES = {MO: 'Mon', TU: 'Tue', WE: 'Wed', TH: 'Thu', FR: 'Fri', SA: 'Sat', SU: 'Sun'};
const UNITS = {DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month', YEARLY: 'year'};

// "every 2 weeks on Mon, Thu, until 31 Dec 2030" for the rules the picker makes; other
// rules are shown as written.
export function describeRule(task) {
  const parts = Object.fromEntries(task.recurrence.split(';').map((p) => p.split('=')));
  const unit = UNITS[parts.FREQ];
  const known = ['FREQ', 'INTERVAL', 'BYDAY', 'COUNT', 'UNTIL'];
  let text;
  if (!unit || Object.keys(parts).some((k) => !known.includes(k)) ||
      (parts.BYDAY && !parts.BYDAY.split(',').every((d) => DAY_NAMES[d]))) {
    text = task.recurrence;
  } else {
    const n = Number(parts.INTERVAL || 1);
    text = n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
    if (parts.BYDAY) text += ` on ${parts.BYDAY.split(',').map((d) => DAY_NAMES[d]).join(', ')}`;
    if (parts.COUNT) text += `, ${parts.COUNT} times`;
    if (parts.UNTIL) {
      const u = parts.UNTIL;
      text += `, until ${formatDue(`${u.slice(0, 4)}-${u.slice(4, 6)}-${u.slice(6, 8)}T12:00:00Z`, true)}`;
    }
  }
  return task.recurrence_anchor === 'completion' ? `${text}, counted from completion` : text;
}

// force: rebuild every row (after an inline edit starts or ends).
function render(force = false) {
  const list = $('task-list');
  const focusKey = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.key : undefined;
  const old = new Map();
  for (const li of list.children) old.set(li.dataset.id, li);
  const now = Date.now();
  tasks.forEach((task, i) => {
    let li = old.get(task.id);
    const stale = !li || force || li.dataset.version !== String(task.version) ||
      li.classList.contains('overdue') !== Boolean(isOverdue(task, now)) || editingId === task.id;
    if (stale) {
      const fresh = row(task);
      if (li) li.replaceWith(fresh);
      li = fresh;
    }
    old.delete(task.id);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  for (const li of old.values()) li.remove();
  if (focusKey) {
    const el = list.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    if (el && el !== document.activeElement) el.focus();
  }
  const n = tasks.length;
  $('list-summary').textContent = n === 0 ? 'No tasks here yet.'
    : `${n} task${n > 1 ? 's' : ''}${nextCursor ? ' (more below)' : ''}`;
  $('more').hidden = !nextCursor;
}

// Every row again (after the user's time zone changed: the due dates read differently).
export function redraw() {
  render(true);
}

// Overdue highlighting follows the clock without a reload.
function tick() {
  if (tasks.some((t) => isOverdue(t) !== Boolean(document.querySelector(
    `li[data-id="${t.id}"].overdue`)))) render();
}

export function initTasks(h) {
  hooks = h;
  $('quick-add').addEventListener('submit', quickAdd);
  let timer = null;
  const form = $('filters');
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', () => loadTasks());
  form.addEventListener('input', (e) => {
    if (e.target.type !== 'search' && e.target.type !== 'text') return;
    clearTimeout(timer);
    timer = setTimeout(loadTasks, 250);
  });
  $('more').addEventListener('click', loadMore);
  setInterval(tick, 30000);
}

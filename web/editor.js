// The task editor dialog: every field of a task, its recurrence (recur.js) and its
// reminders. Only what changed is sent (PATCH with If-Match), so the history stays
// readable and a concurrent change is refused (412) instead of overwritten.
import {api, ApiError} from './api.js';
import {$, h, clear, announce, showError} from './dom.js';
import {toLocalInput, toLocalDate, localToIso, currentZone} from './time.js';
import {setRule, getRule, getAnchor, initRecur, preview} from './recur.js';

const OFFSETS = [
  ['PT5M', '5 minutes before'], ['PT15M', '15 minutes before'],
  ['PT30M', '30 minutes before'], ['PT1H', '1 hour before'], ['PT2H', '2 hours before'],
  ['P1D', '1 day before'], ['P2D', '2 days before'], ['P1W', '1 week before'],
];
const CHANNELS = [['in_app', 'In the app'], ['email', 'Email'], ['webhook', 'Webhook']];

let task = null;       // the task as opened
let initial = null;    // the form's values as opened
let reminderSeq = 0;
let hooks = {saved: () => {}, history: () => {}};

function zoneOf(t) {
  return (t && t.time_zone) || currentZone();
}

function options(list, selected) {
  return list.map(([value, label]) => h('option', {value, selected: value === selected}, label));
}

// One reminder row: "before the due time" with a preset offset, or "at" a local time.
function reminderRow(rem = {offset: 'PT15M', channel: 'in_app'}) {
  const n = ++reminderSeq;
  const kind = rem.at ? 'at' : 'offset';
  const offsets = OFFSETS.some(([v]) => v === rem.offset) || !rem.offset
    ? OFFSETS : [...OFFSETS, [rem.offset, rem.offset]];
  const kindSel = h('select', {id: `rem-kind-${n}`, class: 'rem-kind'},
    options([['offset', 'Before the due time'], ['at', 'At a date and time']], kind));
  const offsetSel = h('select', {id: `rem-offset-${n}`, class: 'rem-offset', hidden: kind !== 'offset'},
    options(offsets, rem.offset || 'PT15M'));
  const atInput = h('input', {id: `rem-at-${n}`, class: 'rem-at', type: 'datetime-local',
    hidden: kind !== 'at', value: rem.at ? toLocalInput(rem.at, zoneOf(task)) : ''});
  const channel = h('select', {id: `rem-channel-${n}`, class: 'rem-channel'},
    options(CHANNELS, rem.channel || 'in_app'));
  const li = h('li', {class: 'rem'},
    h('label', {for: `rem-kind-${n}`, class: 'visually-hidden'}, `Reminder ${n} kind`),
    kindSel,
    h('label', {for: `rem-offset-${n}`, class: 'visually-hidden'}, `Reminder ${n} time before due`),
    offsetSel,
    h('label', {for: `rem-at-${n}`, class: 'visually-hidden'}, `Reminder ${n} date and time`),
    atInput,
    h('label', {for: `rem-channel-${n}`, class: 'visually-hidden'}, `Reminder ${n} channel`),
    channel,
    h('button', {type: 'button', class: 'danger small', 'aria-label': `Remove reminder ${n}`,
      onclick: () => { li.remove(); $('rem-add').focus(); }}, 'Remove'));
  kindSel.addEventListener('change', () => {
    offsetSel.hidden = kindSel.value !== 'offset';
    atInput.hidden = kindSel.value !== 'at';
  });
  return li;
}

function readReminders() {
  const out = [];
  for (const li of $('rem-list').children) {
    const kind = li.querySelector('.rem-kind').value;
    const channel = li.querySelector('.rem-channel').value;
    if (kind === 'offset') {
      out.push({offset: li.querySelector('.rem-offset').value, channel});
    } else {
      const at = li.querySelector('.rem-at').value;
      if (!at) throw new Error('Pick the date and time of each reminder.');
      out.push({at: localToIso(at, zoneOf(task)), channel});
    }
  }
  return out;
}

function sameReminders(a, b) {
  const norm = (list) => JSON.stringify((list || []).map((r) => r.at
    ? {at: new Date(r.at).toISOString(), channel: r.channel || 'in_app'}
    : {offset: r.offset, channel: r.channel || 'in_app'}));
  return norm(a) === norm(b);
}

function readForm() {
  const allDay = $('ed-allday').checked;
  const due = $('ed-due').value;
  return {
    title: $('ed-title').value.trim(),
    description: $('ed-description').value,
    priority: $('ed-priority').value,
    tags: $('ed-tags').value.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean),
    due: !due ? null : allDay ? due.slice(0, 10) : due,
  };
}

export function openEditor(t) {
  task = t;
  showError('editor-error', '');
  $('editor-title').textContent = `Edit ${t.title}`;
  $('ed-title').value = t.title;
  $('ed-description').value = t.description || '';
  $('ed-priority').value = t.priority;
  $('ed-tags').value = t.tags.join(', ');
  $('ed-allday').checked = Boolean(t.all_day);
  $('ed-due').value = t.due_at ? toLocalInput(t.due_at, zoneOf(t)) : '';
  $('ed-due-zone').textContent = `Time zone: ${zoneOf(t)}`;
  clear($('rem-list'));
  reminderSeq = 0;
  for (const r of t.reminders || []) $('rem-list').append(reminderRow(r));
  setRule(t);
  initial = readForm();
  if (t.all_day && t.due_at) initial.due = toLocalDate(t.due_at, zoneOf(t));
  if (!$('editor').open) $('editor').showModal();
  $('ed-title').focus();
  if (t.recurrence) preview();
}

async function save(e) {
  e.preventDefault();
  showError('editor-error', '');
  const f = readForm();
  if (!f.title) {
    showError('editor-error', 'The title cannot be empty.');
    $('ed-title').focus();
    return;
  }
  const body = {};
  try {
    if (f.title !== initial.title) body.title = f.title;
    if (f.description !== initial.description) body.description = f.description || null;
    if (f.priority !== initial.priority) body.priority = f.priority;
    if (f.tags.join(',') !== initial.tags.join(',')) body.tags = f.tags;
    if (f.due !== initial.due) body.due_at = f.due;
    const rule = getRule();
    if (rule !== task.recurrence) body.recurrence = rule;
    if (getAnchor() !== task.recurrence_anchor) body.recurrence_anchor = getAnchor();
    const reminders = readReminders();
    if (!sameReminders(reminders, task.reminders)) body.reminders = reminders;
  } catch (err) {
    showError('editor-error', err.message);
    return;
  }
  if (Object.keys(body).length === 0) {
    $('editor').close();
    return;
  }
  $('ed-save').disabled = true;
  try {
    const t = await api.patch(`/api/tasks/${task.id}`, body, task.version);
    hooks.saved(t);
    announce('Task saved');
    if (t.recurrence && (body.recurrence !== undefined || body.due_at !== undefined ||
                         body.recurrence_anchor !== undefined)) {
      // Stay open on a changed rule so that the new dates can be previewed.
      openEditor(t);
      announce('Task saved; the preview shows the new dates');
    } else {
      $('editor').close();
    }
  } catch (err) {
    const msg = err instanceof ApiError && err.status === 412
      ? 'This task changed in another place. Close and open it again to see the latest version.'
      : err instanceof ApiError ? err.describe() : String(err);
    showError('editor-error', msg);
  } finally {
    $('ed-save').disabled = false;
  }
}

export function initEditor(h2) {
  hooks = h2;
  initRecur();
  $('editor-form').addEventListener('submit', save);
  $('ed-cancel').addEventListener('click', () => $('editor').close());
  $('ed-history').addEventListener('click', () => hooks.history(task));
  $('rem-add').addEventListener('click', () => {
    const li = reminderRow();
    $('rem-list').append(li);
    li.querySelector('select').focus();
  });
}

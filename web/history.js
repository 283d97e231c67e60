// A task's history from the audit log (GET /api/audit?task_id=...): who changed what,
// when, oldest first, with the fields each update changed.
import {api, ApiError} from './api.js';
import {$, h, clear} from './dom.js';
import {formatStamp} from './time.js';

const VERB = {
  'todo.task.created': 'Created', 'todo.task.updated': 'Updated',
  'todo.task.completed': 'Completed', 'todo.task.deleted': 'Deleted',
};
const IGNORED = new Set(['version', 'updated_at', 'due_date', 'completed', 'recurrence_pattern',
                         'user_id', 'id', 'created_at']);

function show(value) {
  if (value === null || value === undefined || value === '') return '(none)';
  if (Array.isArray(value)) return value.length ? value.map(show).join(', ') : '(none)';
  if (typeof value === 'object')
    return value.offset ? `${value.offset} before (${value.channel})`
      : value.at ? `at ${formatStamp(value.at)} (${value.channel})` : JSON.stringify(value);
  return String(value);
}

function changes(before, after) {
  if (!before || !after) return [];
  const out = [];
  for (const key of Object.keys(after)) {
    if (IGNORED.has(key)) continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key]))
      out.push(h('li', {}, h('span', {class: 'field-name'}, key.replace(/_/g, ' ')), ': ',
        h('del', {}, show(before[key])), ' \u2192 ', h('ins', {}, show(after[key]))));
  }
  return out;
}

export async function openHistory(task) {
  const list = $('history-list');
  clear(list);
  $('history-title').textContent = `History of ${task.title}`;
  $('history-note').textContent = 'Loading\u2026';
  const dialog = $('history');
  if (!dialog.open) dialog.showModal();
  $('history-close').focus();
  try {
    const items = [];
    let cursor;
    do {
      const page = await api.get('/api/audit', {task_id: task.id, limit: 200, cursor});
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < 1000);
    for (const rec of items) {
      const diff = rec.type === 'todo.task.updated' ? changes(rec.before, rec.after) : [];
      list.append(h('li', {class: 'history-item'},
        h('strong', {}, VERB[rec.type] || rec.type), ' ',
        h('time', {datetime: rec.occurred_at}, formatStamp(rec.occurred_at)),
        diff.length ? h('ul', {class: 'diff'}, diff) : null));
    }
    $('history-note').textContent = items.length
      ? `${items.length} change${items.length > 1 ? 's' : ''}.`
      : 'No history yet (it appears a moment after a change).';
  } catch (err) {
    $('history-note').textContent = err instanceof ApiError ? err.describe() : String(err);
  }
}

export function initHistory() {
  $('history-close').addEventListener('click', () => $('history').close());
}

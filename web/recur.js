// The recurrence picker of the editor: frequency, interval, weekdays, end (count or
// date) or a custom RFC 5545 RRULE, the anchor (from the due date or from completion),
// and a preview of the next occurrences as the server computes them
// (GET /api/tasks/{id}/occurrences).
import {api, ApiError} from './api.js';
import {$, h, clear} from './dom.js';
import {formatDue, toLocalDate} from './time.js';

const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
let saved = {rule: null, anchor: 'schedule'};   // what the stored task has
let taskId = null;

function show(name, visible) {
  for (const el of $('recur').querySelectorAll(`[data-recur="${name}"]`)) el.hidden = !visible;
}

function sync() {
  const freq = $('rc-freq').value;
  const simple = freq && freq !== 'custom';
  show('simple', simple);
  show('weekly', freq === 'WEEKLY');
  show('count', simple && $('rc-end').value === 'count');
  show('until', simple && $('rc-end').value === 'until');
  show('custom', freq === 'custom');
  show('any', Boolean(freq));
  notePreview();
}

// Fills the controls from a stored rule ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=4").
export function setRule(task) {
  taskId = task ? task.id : null;
  const rule = task ? task.recurrence : null;
  saved = {rule, anchor: (task && task.recurrence_anchor) || 'schedule'};
  $('rc-interval').value = '1';
  $('rc-end').value = 'never';
  $('rc-count').value = '5';
  $('rc-until').value = '';
  $('rc-rule').value = rule || '';
  $('rc-anchor').value = saved.anchor;
  for (const d of DAYS) $(`rc-${d}`).checked = false;
  clear($('rc-preview-list'));
  $('rc-freq').value = rule ? parseInto(rule, task) : '';
  sync();
}

// Returns the <select> value for rule: its FREQ when the simple controls can show it
// whole, else "custom".
function parseInto(rule, task) {
  const parts = {};
  for (const p of rule.split(';')) {
    const [k, v] = p.split('=');
    parts[k] = v;
  }
  const known = new Set(['FREQ', 'INTERVAL', 'BYDAY', 'COUNT', 'UNTIL']);
  const simple = ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'].includes(parts.FREQ) &&
    Object.keys(parts).every((k) => known.has(k)) &&
    (!parts.BYDAY || (parts.FREQ === 'WEEKLY' && parts.BYDAY.split(',').every((d) => DAYS.includes(d))));
  if (!simple) return 'custom';
  if (parts.INTERVAL) $('rc-interval').value = parts.INTERVAL;
  if (parts.BYDAY) for (const d of parts.BYDAY.split(',')) $(`rc-${d}`).checked = true;
  if (parts.COUNT) {
    $('rc-end').value = 'count';
    $('rc-count').value = parts.COUNT;
  } else if (parts.UNTIL) {
    $('rc-end').value = 'until';
    const u = parts.UNTIL;   // 20261231T235959Z or 20261231
    const iso = `${u.slice(0, 4)}-${u.slice(4, 6)}-${u.slice(6, 8)}` +
      (u.length > 8 ? `T${u.slice(9, 11)}:${u.slice(11, 13)}:${u.slice(13, 15)}Z` : 'T12:00:00Z');
    $('rc-until').value = toLocalDate(iso, task && task.time_zone);
  }
  return parts.FREQ;
}

// The rule the controls say, or null for none; throws a message when incomplete.
export function getRule() {
  const freq = $('rc-freq').value;
  if (!freq) return null;
  if (freq === 'custom') {
    const rule = $('rc-rule').value.trim().replace(/^RRULE:/i, '');
    if (!rule) throw new Error('Write a rule, or pick another repeat.');
    return rule;
  }
  const parts = [`FREQ=${freq}`];
  const interval = parseInt($('rc-interval').value, 10);
  if (!(interval >= 1)) throw new Error('Repeat every 1 or more.');
  if (interval > 1) parts.push(`INTERVAL=${interval}`);
  if (freq === 'WEEKLY') {
    const days = DAYS.filter((d) => $(`rc-${d}`).checked);
    if (days.length) parts.push(`BYDAY=${days.join(',')}`);
  }
  const end = $('rc-end').value;
  if (end === 'count') {
    const n = parseInt($('rc-count').value, 10);
    if (!(n >= 1)) throw new Error('Repeat 1 or more times.');
    parts.push(`COUNT=${n}`);
  } else if (end === 'until') {
    const d = $('rc-until').value;
    if (!d) throw new Error('Pick the last date.');
    parts.push(`UNTIL=${d.replace(/-/g, '')}T235959Z`);
  }
  return parts.join(';');
}

export function getAnchor() {
  return $('rc-anchor').value;
}

function changed() {
  try {
    return getRule() !== saved.rule || getAnchor() !== saved.anchor;
  } catch {
    return true;
  }
}

function notePreview() {
  const note = $('rc-preview-note');
  if (!taskId) note.textContent = 'Save the task to preview its dates.';
  else if (changed()) note.textContent = 'Save to preview the changed rule.';
  else note.textContent = '';
  $('rc-preview').disabled = !taskId || changed() || !saved.rule;
}

// Asks the server for the stored rule's next dates.
export async function preview(count = 5) {
  const list = $('rc-preview-list');
  clear(list);
  if (!taskId || !saved.rule) return;
  try {
    const r = await api.get(`/api/tasks/${taskId}/occurrences`, {count});
    for (const at of r.occurrences)
      list.append(h('li', {}, h('time', {datetime: at}, formatDue(at, false))));
    $('rc-preview-note').textContent = r.occurrences.length
      ? `Next ${r.occurrences.length} dates:` : 'The series has ended.';
  } catch (err) {
    $('rc-preview-note').textContent = err instanceof ApiError ? err.describe() : String(err);
  }
}

export function initRecur() {
  for (const id of ['rc-freq', 'rc-end', 'rc-interval', 'rc-count', 'rc-until', 'rc-rule',
                    'rc-anchor', ...DAYS.map((d) => `rc-${d}`)])
    $(id).addEventListener('change', sync);
  $('rc-rule').addEventListener('input', notePreview);
  $('rc-preview').addEventListener('click', () => preview());
}

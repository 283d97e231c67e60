// The notifications bell: the in_app reminders the server fired (GET /api/notifications),
// new ones live, mark read, and snooze (POST /api/notifications/{id}/snooze).
import {api, ApiError} from './api.js';
import {$, h, clear, announce} from './dom.js';
import {formatStamp} from './time.js';

let items = [];

const SNOOZES = [['10', 'Snooze 10 minutes'], ['60', 'Snooze 1 hour'], ['1440', 'Snooze 1 day']];

export async function loadNotifications() {
  try {
    const page = await api.get('/api/notifications', {limit: 30});
    items = page.items;
  } catch (err) {
    // A server without the notify role has no notifications: the bell stays empty.
    if (!(err instanceof ApiError) || err.status !== 404) announce(err.message);
    items = [];
  }
  render();
}

export function resetNotifications() {
  items = [];
  render();
  closePanel();
}

// A `notification` message of the live channel.
export function applyLiveNotification(n) {
  items = [n, ...items.filter((x) => x.id !== n.id)];
  render();
  announce(`Reminder: ${n.title}`);
}

async function markRead(n) {
  try {
    const updated = await api.post(`/api/notifications/${n.id}/read`);
    items = items.map((x) => (x.id === n.id ? updated : x));
    render();
    $('bell-button').focus();
  } catch (err) {
    announce(err instanceof ApiError ? err.describe() : String(err));
  }
}

async function snooze(n, minutes) {
  const until = new Date(Date.now() + minutes * 60000).toISOString().replace(/\.\d+Z$/, 'Z');
  try {
    await api.post(`/api/notifications/${n.id}/snooze`, {until});
    items = items.map((x) => (x.id === n.id ? {...x, read: true} : x));
    render();
    announce(`Snoozed until ${formatStamp(until)}`);
    $('bell-button').focus();
  } catch (err) {
    announce(err instanceof ApiError ? err.describe() : String(err));
  }
}

function item(n) {
  const sel = h('select', {id: `snooze-${n.id}`, 'aria-label': `Snooze ${n.title}`},
    h('option', {value: ''}, 'Snooze\u2026'),
    SNOOZES.map(([v, label]) => h('option', {value: v}, label)));
  sel.addEventListener('change', () => { if (sel.value) snooze(n, Number(sel.value)); });
  return h('li', {class: n.read ? 'note read' : 'note unread'},
    h('p', {class: 'note-title'}, n.read ? '' : h('span', {class: 'visually-hidden'}, 'Unread: '),
      n.title),
    h('p', {class: 'muted small-text'},
      n.due_at ? `Due ${formatStamp(n.due_at)}` : `Reminder at ${formatStamp(n.remind_at)}`,
      n.late ? ' (late)' : ''),
    h('div', {class: 'note-actions'},
      n.read ? null : h('button', {type: 'button', class: 'secondary small',
        'aria-label': `Mark read: ${n.title}`, onclick: () => markRead(n)}, 'Mark read'),
      sel));
}

function render() {
  const unread = items.filter((n) => !n.read).length;
  const badge = $('bell-count');
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
  $('bell-label').textContent = unread ? `Notifications, ${unread} unread` : 'Notifications';
  const list = $('bell-list');
  clear(list);
  for (const n of items) list.append(item(n));
  $('bell-empty').hidden = items.length > 0;
}

function openPanel() {
  $('bell-panel').hidden = false;
  $('bell-button').setAttribute('aria-expanded', 'true');
  loadNotifications();
}

function closePanel() {
  $('bell-panel').hidden = true;
  $('bell-button').setAttribute('aria-expanded', 'false');
}

export function initNotifications() {
  $('bell-button').addEventListener('click', () => {
    if ($('bell-panel').hidden) openPanel();
    else closePanel();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('bell-panel').hidden) {
      closePanel();
      $('bell-button').focus();
    }
  });
  document.addEventListener('click', (e) => {
    if (!$('bell-panel').hidden && !e.target.closest('.bell')) closePanel();
  });
}

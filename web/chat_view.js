// The chat panel's pieces of DOM: message bubbles, the compact rows of the tasks an
// answer is about, and the entries of the past-conversations list. Nothing here talks
// to the server; chat.js passes the callbacks.
import {h} from './dom.js';
import {formatDue, isOverdue} from './time.js';

// A compact, clickable row for a task the answer lists: title, state, due date, tags.
function taskRow(task, open) {
  const done = task.status === 'completed';
  const overdue = isOverdue(task);
  return h('li', {class: `chat-task prio-${task.priority || 'none'}${done ? ' done' : ''}`},
    h('button', {type: 'button', class: 'chat-task-button', dataset: {id: task.id},
      onclick: () => open(task)},
      h('span', {class: 'visually-hidden'}, 'Open task: '),
      h('span', {class: 'chat-task-title'}, task.title),
      h('span', {class: 'chat-task-meta'},
        done && h('span', {class: 'chat-task-state'}, 'Done'),
        overdue && h('strong', {class: 'overdue-label'}, 'Overdue'),
        task.due_at && h('time', {datetime: task.due_at, class: 'due'},
          `Due ${formatDue(task.due_at, task.all_day)}`),
        (task.tags || []).map((tag) => h('span', {class: 'chat-tag'}, `#${tag}`)))));
}

// One message: {role: 'user' | 'assistant', content, tasks?, at?}.
export function bubble(msg, open) {
  const mine = msg.role === 'user';
  const tasks = msg.tasks || [];
  return h('div', {class: `msg ${mine ? 'msg-user' : 'msg-assistant'}`},
    h('span', {class: 'visually-hidden'}, mine ? 'You said: ' : 'Assistant: '),
    h('p', {class: 'msg-text'}, msg.content),
    tasks.length > 0 && h('ul', {class: 'chat-tasks', 'aria-label': 'Tasks in this answer'},
      tasks.map((t) => taskRow(t, open))),
    msg.at && h('time', {class: 'msg-time', datetime: msg.at}, formatDue(msg.at, false)));
}

// An entry of the past-conversations list.
export function conversationItem(conv, current, open) {
  return h('li', {},
    h('button', {type: 'button', class: 'chat-conv', dataset: {id: conv.id},
      'aria-current': conv.id === current ? 'true' : null, onclick: () => open(conv.id)},
      h('span', {class: 'chat-conv-title'}, conv.title || 'Conversation'),
      h('time', {class: 'chat-conv-time', datetime: conv.updated_at},
        formatDue(conv.updated_at, false))));
}

// The tasks a stored assistant message was about, read back from its tool calls (the
// stored messages keep the calls, not the answer's task list): every task-shaped
// result, or the tasks of a listing, once each.
export function tasksOfCalls(calls) {
  const seen = new Map();
  const add = (t) => {
    if (t && typeof t === 'object' && typeof t.id === 'string' && typeof t.title === 'string')
      seen.set(t.id, t);
  };
  for (const call of calls || []) {
    const r = call && call.result;
    if (!r || typeof r !== 'object') continue;
    add(r);
    add(r.task);
    for (const key of ['tasks', 'items'])
      if (Array.isArray(r[key])) r[key].forEach(add);
  }
  return [...seen.values()];
}

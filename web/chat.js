// The chat panel (#chat-panel): talks to POST /api/chat and reads the stored
// conversations (GET /api/conversations[/{id}]). The open conversation's id is kept in
// sessionStorage, so a reload of the tab continues it. The tasks the assistant changes
// reach the task list through the live channel like any other change; only while that
// channel is down does the panel ask the list to reload.
import {api, ApiError} from './api.js';
import {$, clear, announce, showError} from './dom.js';
import {bubble, conversationItem, tasksOfCalls} from './chat_view.js';

const KEY = 'todod.chat.conversation';
let hooks = {openEditor: () => {}, liveOn: () => true, refresh: () => {}};
let available = false;   // the server answered GET /api/conversations
let wanted = false;      // the current view shows the panel
let conversation = sessionStorage.getItem(KEY);
let busy = false;

function show() {
  $('chat-panel').hidden = !(available && wanted);
  $('chat-jump').hidden = $('chat-panel').hidden;
}

// The problem's detail (its title when it has none), e.g. "message must be at most 1000 bytes".
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}

function setConversation(id) {
  conversation = id;
  if (id) sessionStorage.setItem(KEY, id);
  else sessionStorage.removeItem(KEY);
}

function append(msg) {
  const log = $('chat-log');
  $('chat-empty').hidden = true;
  const el = bubble(msg, openTask);
  log.append(el);
  log.scrollTop = log.scrollHeight;
  return el;
}

function resetLog() {
  const log = $('chat-log');
  for (const el of [...log.querySelectorAll('.msg')]) el.remove();
  $('chat-empty').hidden = false;
}

// Opens the editor on the task's current version (the answer's copy may be older).
async function openTask(task) {
  try {
    hooks.openEditor(await api.get(`/api/tasks/${task.id}`));
  } catch (err) {
    showError('chat-error', err instanceof ApiError && err.status === 404
      ? `"${task.title}" no longer exists.` : describe(err));
  }
}

async function send(text) {
  if (busy) return;
  busy = true;
  showError('chat-error', '');
  const log = $('chat-log');
  const mine = append({role: 'user', content: text, at: new Date().toISOString()});
  log.setAttribute('aria-busy', 'true');
  $('chat-status').textContent = 'The assistant is answering\u2026';
  try {
    const body = {message: text};
    if (conversation) body.conversation_id = conversation;
    const r = await api.post('/api/chat', body);
    setConversation(r.conversation_id);
    $('chat-input').value = '';
    append({role: 'assistant', content: r.response, tasks: r.tasks,
            at: new Date().toISOString()});
    if (!hooks.liveOn() && (r.tool_calls || []).length) hooks.refresh();
    if (!$('chat-history').hidden) loadConversations();
  } catch (err) {
    mine.remove();   // not sent: the text stays in the field to try again
    if (!log.querySelector('.msg')) $('chat-empty').hidden = false;
    if (err instanceof ApiError && err.problem.type &&
        String(err.problem.type).endsWith('conversation-not-found')) setConversation(null);
    showError('chat-error', describe(err));
  } finally {
    busy = false;
    log.removeAttribute('aria-busy');
    $('chat-status').textContent = '';
  }
}

async function loadConversations() {
  const list = $('chat-conversations');
  try {
    const page = await api.get('/api/conversations', {limit: 20});
    clear(list);
    for (const c of page.conversations) list.append(conversationItem(c, conversation, openConversation));
    $('chat-history-empty').hidden = page.conversations.length > 0;
  } catch (err) {
    showError('chat-error', describe(err));
  }
}

async function openConversation(id, quiet = false) {
  try {
    const c = await api.get(`/api/conversations/${id}`);
    setConversation(c.id);
    resetLog();
    for (const m of c.messages)
      append({role: m.role, content: m.content, at: m.created_at, tasks: tasksOfCalls(m.tool_calls)});
    showError('chat-error', '');
    togglePast(false);
    if (!quiet) {
      announce(`Conversation opened: ${c.title}`);
      $('chat-input').focus();
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) setConversation(null);
    if (!quiet) showError('chat-error', describe(err));
  }
}

function newConversation() {
  setConversation(null);
  resetLog();
  showError('chat-error', '');
  togglePast(false);
  $('chat-input').value = '';
  $('chat-input').focus();
  announce('New conversation');
}

function togglePast(open = $('chat-history').hidden) {
  $('chat-history').hidden = !open;
  $('chat-past').setAttribute('aria-expanded', String(open));
  if (open) loadConversations();
}

// Signed in: find out whether the server has the chat, then reopen this tab's conversation.
export async function startChat() {
  try {
    await api.get('/api/conversations', {limit: 1});
    available = true;
  } catch {
    available = false;   // 404: no chat on this server; the panel stays hidden
  }
  show();
  if (available && conversation) openConversation(conversation, true);
}

export function stopChat() {
  available = false;
  setConversation(null);
  resetLog();
  clear($('chat-conversations'));
  togglePast(false);
  showError('chat-error', '');
  $('chat-input').value = '';
  show();
}

// Whether the current view has the panel (app.js's router calls this).
export function showChat(visible) {
  wanted = visible;
  show();
}

// h: {openEditor(task), liveOn() -> bool, refresh()}
export function initChat(h) {
  hooks = {...hooks, ...h};
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-input').value.trim();
    if (text) send(text);
  });
  $('chat-new').addEventListener('click', newConversation);
  // Narrow screens have the panel below the tasks: the button above the list goes to it.
  $('chat-jump').addEventListener('click', () => {
    $('chat-panel').scrollIntoView({block: 'start'});
    $('chat-input').focus({preventScroll: true});
  });
  $('chat-past').addEventListener('click', () => togglePast());
  $('chat-history').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { togglePast(false); $('chat-past').focus(); }
  });
}

// The app's entry: wires the modules, switches views by the URL's fragment (#/tasks,
// #/settings) and starts or stops everything on sign-in and sign-out.
import {currentSession, onSession, setUser} from './api.js';
import {$, announce} from './dom.js';
import {initAuth, fetchMe} from './auth.js';
import {initTasks, loadTasks, resetTasks, applyLive, upsert, redraw} from './tasks.js';
import {initEditor, openEditor} from './editor.js';
import {initHistory, openHistory} from './history.js';
import {initNotifications, loadNotifications, resetNotifications,
        applyLiveNotification} from './notify.js';
import {initSettings, fillSettings} from './settings.js';
import {initChat, startChat, stopChat, showChat} from './chat.js';
import {setZone} from './time.js';
import {Live} from './live.js';

const live = new Live({
  task: applyLive,
  notification: applyLiveNotification,
  resync: () => { loadTasks(); loadNotifications(); },
  state: (name, text) => {
    const el = $('live-status');
    el.dataset.state = name;
    el.textContent = text;
  },
});

function view() {
  const signedIn = Boolean(currentSession());
  const route = location.hash.replace(/^#\/?/, '') || 'tasks';
  $('bar').hidden = !signedIn;
  $('auth-view').hidden = signedIn;
  $('tasks-view').hidden = !signedIn || route === 'settings';
  $('settings-view').hidden = !signedIn || route !== 'settings';
  showChat(signedIn && route !== 'settings');
  for (const [id, r] of [['nav-tasks', 'tasks'], ['nav-settings', 'settings']]) {
    const current = signedIn && (route === r || (r === 'tasks' && route !== 'settings'));
    if (current) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
  document.title = !signedIn ? 'todod: log in' : route === 'settings' ? 'todod: settings' : 'todod: tasks';
}

function showUser(user) {
  if (!user) return;
  setZone(user.time_zone);
  $('who').textContent = user.name || user.email || '';
  fillSettings(user);
}

async function signedIn(s) {
  showUser(s.user);
  view();
  loadTasks();
  loadNotifications();
  live.start();
  startChat();
  try {
    const user = await fetchMe();
    setUser(user);
    showUser(user);
  } catch { /* a 401 signs out; anything else keeps the session's copy */ }
}

function signedOut() {
  live.stop();
  stopChat();
  resetTasks();
  resetNotifications();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  view();
}

function start() {
  initAuth();
  initTasks({openEditor, openHistory});
  initEditor({saved: upsert, history: openHistory});
  initHistory();
  initNotifications();
  initSettings({changed: (user) => { showUser(user); redraw(); }});
  initChat({openEditor, refresh: loadTasks,
            liveOn: () => $('live-status').dataset.state === 'on'});
  window.addEventListener('hashchange', () => {
    view();
    const heading = location.hash.includes('settings') ? 'settings-title' : 'tasks-title';
    $(heading).setAttribute('tabindex', '-1');
    $(heading).focus();
  });
  onSession((s) => {
    if (s) {
      signedIn(s);
      announce('Signed in');
      $('quick-title').focus();
    } else {
      signedOut();
      announce('Signed out');
      $('login-email').focus();
    }
  });
  const s = currentSession();
  if (s) signedIn(s);
  else view();
}

start();

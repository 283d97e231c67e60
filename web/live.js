// Live updates over the sync role's WebSocket (the contract: POST /api/ws-ticket for a
// single-use ticket, then /ws?ticket=T&since=N; the token itself never goes in a URL).
// Messages: hello {seq}, task {seq, event_type, task_id, task}, notification
// {notification}, resync {seq}. After a drop or a server restart the client reconnects
// with backoff and since=<last seq seen>, so it gets what it missed.
import {api, ApiError} from './api.js';

const MIN_DELAY = 250;
const MAX_DELAY = 15000;

export class Live {
  // handlers: {task(msg), notification(n), resync(), state(name, detail)}
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.seq = null;          // the last sequence number applied
    this.delay = MIN_DELAY;
    this.timer = null;
    this.running = false;
    this.online = () => { if (this.running && !this.ws) this.connectNow(); };
  }

  start() {
    if (this.running) return;
    this.running = true;
    window.addEventListener('online', this.online);
    this.connect();
  }

  stop() {
    this.running = false;
    window.removeEventListener('online', this.online);
    clearTimeout(this.timer);
    this.timer = null;
    this.seq = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'signed out');
    }
    this.state('off', 'Offline');
  }

  state(name, text) {
    if (this.h.state) this.h.state(name, text);
  }

  connectNow() {
    clearTimeout(this.timer);
    this.delay = MIN_DELAY;
    this.connect();
  }

  async connect() {
    this.timer = null;
    if (!this.running || this.ws) return;
    this.state('connecting', 'Connecting\u2026');
    let ticket;
    try {
      ticket = (await api.post('/api/ws-ticket')).ticket;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;   // signed out
      const none = err instanceof ApiError && (err.status === 404 || err.status === 405);
      this.retry(none ? 'Live updates unavailable' : 'Offline');
      return;
    }
    if (!this.running || this.ws) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const qs = new URLSearchParams({ticket});
    if (this.seq !== null) qs.set('since', String(this.seq));
    const ws = new WebSocket(`${scheme}//${location.host}/ws?${qs}`);
    this.ws = ws;
    ws.onmessage = (e) => this.message(e.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry('Reconnecting\u2026');
    };
    ws.onerror = () => { /* onclose follows and retries */ };
  }

  retry(text) {
    if (!this.running) return;
    this.state('off', text);
    // Exponential backoff with jitter, so that clients of a restarted server do not all
    // come back at the same instant.
    const wait = this.delay / 2 + Math.random() * this.delay / 2;
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  message(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    switch (msg.type) {
    case 'hello':
      this.delay = MIN_DELAY;
      // A reconnection gets what it missed next (task messages with seq > since).
      // On the first connection (and when the server's sequence went back) the list is
      // fetched again from here on: nothing changed between the page's first fetch and
      // this hello is lost.
      if (this.seq === null || msg.seq < this.seq) {
        this.seq = msg.seq;
        this.h.resync();
      }
      this.state('on', 'Live');
      break;
    case 'task':
      if (typeof msg.seq === 'number') {
        if (this.seq !== null && msg.seq <= this.seq) return;   // seen already
        this.seq = msg.seq;
      }
      this.h.task(msg);
      break;
    case 'notification':
      if (msg.notification) this.h.notification(msg.notification);
      break;
    case 'resync':
      this.seq = msg.seq;
      this.h.resync();
      break;
    default:
      break;
    }
  }
}

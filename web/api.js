// The REST client: the session (token kept in memory and in localStorage, never in a
// URL), JSON requests with the bearer token, and RFC 9457 problems turned into errors.

const KEY = 'todod.session';
let session = load();
const listeners = new Set();

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (s && s.token && s.expires_at > Date.now()) return s;
  } catch { /* unreadable: start signed out */ }
  return null;
}

export function currentSession() {
  return session;
}

export function setSession(token, expiresIn, user) {
  session = {token, user, expires_at: Date.now() + (expiresIn || 3600) * 1000};
  localStorage.setItem(KEY, JSON.stringify(session));
  for (const fn of listeners) fn(session);
}

export function setUser(user) {
  if (!session) return;
  session.user = user;
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  session = null;
  localStorage.removeItem(KEY);
  for (const fn of listeners) fn(null);
}

// fn(session or null) on every sign-in and sign-out (also in other tabs).
export function onSession(fn) {
  listeners.add(fn);
}

window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  const next = load();
  if ((next && next.token) === (session && session.token)) return;
  session = next;
  for (const fn of listeners) fn(session);
});

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  // "title: message" of each field error, or the detail.
  describe() {
    const errors = this.problem.errors;
    if (Array.isArray(errors) && errors.length)
      return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return this.message;
  }
}

// request('GET', '/api/tasks', {query, body, ifMatch}) -> parsed JSON (null for 204).
export async function request(method, path, opts = {}) {
  const headers = {Accept: 'application/json'};
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.ifMatch !== undefined) headers['If-Match'] = `"${opts.ifMatch}"`;
  let url = path;
  if (opts.query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query))
      if (v !== undefined && v !== null && v !== '') qs.append(k, String(v));
    const s = qs.toString();
    if (s) url += `?${s}`;
  }
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError(0, {title: 'Network error', detail: 'The server cannot be reached.'});
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && session && !opts.anonymous) clearSession();
    throw new ApiError(res.status, data);
  }
  return data;
}

export const api = {
  get: (path, query) => request('GET', path, {query}),
  post: (path, body) => request('POST', path, {body}),
  patch: (path, body, ifMatch) => request('PATCH', path, {body, ifMatch}),
  del: (path, ifMatch) => request('DELETE', path, {ifMatch}),
};

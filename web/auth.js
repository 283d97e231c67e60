// Sign up, log in, log out.
import {api, request, setSession, clearSession, ApiError} from './api.js';
import {$, showError} from './dom.js';
import {browserZone} from './time.js';

async function submit(form, errorId, path, body) {
  showError(errorId, '');
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const s = await request('POST', path, {body, anonymous: true});
    setSession(s.token, s.expires_in, s.user);
    form.reset();
  } catch (err) {
    showError(errorId, err instanceof ApiError ? err.describe() : String(err));
    form.querySelector('input').focus();
  } finally {
    button.disabled = false;
  }
}

export function initAuth() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const email = $('login-email').value.trim();
    const password = $('login-password').value;
    if (!email || !password) {
      showError('login-error', 'Enter your email and password.');
      return;
    }
    submit(e.target, 'login-error', '/api/auth/login', {email, password});
  });
  $('signup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const email = $('signup-email').value.trim();
    const password = $('signup-password').value;
    const name = $('signup-name').value.trim();
    if (!email || password.length < 8) {
      showError('signup-error', 'Enter an email and a password of 8 characters or more.');
      return;
    }
    const body = {email, password, time_zone: browserZone()};
    if (name) body.name = name;
    submit(e.target, 'signup-error', '/api/auth/signup', body);
  });
  $('logout').addEventListener('click', () => clearSession());
}

// The account (name, email, time zone) of the signed-in user.
export function fetchMe() {
  return api.get('/api/me');
}

// Account settings: name and time zone (PATCH /api/me).
import {api, ApiError, setUser} from './api.js';
import {$, h, announce, showError} from './dom.js';
import {zoneNames, validZone} from './time.js';

let hooks = {changed: () => {}};

export function fillSettings(user) {
  $('set-email').value = user.email || '';
  $('set-name').value = user.name || '';
  $('set-zone').value = user.time_zone || '';
}

async function save(e) {
  e.preventDefault();
  showError('settings-error', '');
  const name = $('set-name').value.trim();
  const zone = $('set-zone').value.trim();
  if (!name) {
    showError('settings-error', 'The name cannot be empty.');
    $('set-name').focus();
    return;
  }
  if (!validZone(zone)) {
    showError('settings-error', `${zone || 'An empty name'} is not a time zone this browser knows.`);
    $('set-zone').focus();
    return;
  }
  try {
    const user = await api.patch('/api/me', {name, time_zone: zone});
    setUser(user);
    fillSettings(user);
    hooks.changed(user);
    announce('Settings saved');
  } catch (err) {
    showError('settings-error', err instanceof ApiError ? err.describe() : String(err));
  }
}

export function initSettings(h2) {
  hooks = h2;
  const list = $('zone-list');
  for (const z of zoneNames()) list.append(h('option', {value: z}));
  $('settings-form').addEventListener('submit', save);
}

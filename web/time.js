// Dates in the user's time zone (the account's, else the browser's). The API speaks
// RFC 3339 UTC; a datetime-local value is sent without an offset and the server reads it
// in the task's zone, so what the user types is what the task means.

let zone = browserZone();

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function setZone(z) {
  zone = validZone(z) ? z : browserZone();
}

export function currentZone() {
  return zone;
}

export function validZone(z) {
  if (!z) return false;
  try {
    new Intl.DateTimeFormat('en', {timeZone: z});
    return true;
  } catch {
    return false;
  }
}

export function zoneNames() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

// "Tue, Dec 8, 09:00" in the user's zone; the year when it is not this one.
export function formatDue(iso, allDay) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameYear = parts(d).year === parts(new Date()).year;
  const opts = {timeZone: zone, weekday: 'short', month: 'short', day: 'numeric'};
  if (!sameYear) opts.year = 'numeric';
  if (!allDay) Object.assign(opts, {hour: '2-digit', minute: '2-digit'});
  return new Intl.DateTimeFormat(undefined, opts).format(d);
}

export function formatStamp(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(d);
}

export function isOverdue(task, now = Date.now()) {
  return task.status === 'pending' && task.due_at && new Date(task.due_at).getTime() < now;
}

// The wall-clock fields of instant d in zone z (default: the user's).
function parts(d, z = zone) {
  const out = {};
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: z, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit',
  });
  for (const p of fmt.formatToParts(d)) out[p.type] = p.value;
  return out;
}

// "2026-12-08T09:00" for a datetime-local input, the instant seen in zone z.
export function toLocalInput(iso, z) {
  if (!iso) return '';
  const p = parts(new Date(iso), z || zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// "2026-12-08" for a date input.
export function toLocalDate(iso, z) {
  return toLocalInput(iso, z).slice(0, 10);
}

// The UTC instant of wall-clock "YYYY-MM-DDTHH:MM" in zone z (for absolute reminders,
// which the API takes as RFC 3339 with an offset).
export function localToIso(local, z) {
  const [date, time = '00:00'] = local.split('T');
  const [y, mo, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  let guess = Date.UTC(y, mo - 1, d, hh, mm);
  // Two corrections settle the zone's offset at that wall time (also across DST).
  for (let i = 0; i < 2; i++) {
    const p = parts(new Date(guess), z || zone);
    const seen = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    guess += Date.UTC(y, mo - 1, d, hh, mm) - seen;
  }
  return new Date(guess).toISOString().replace('.000Z', 'Z');
}

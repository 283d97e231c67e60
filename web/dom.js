// Small DOM helpers: element building without innerHTML (nothing the server or a user
// wrote is ever parsed as markup), lookups and screen-reader announcements.

export const $ = (id) => document.getElementById(id);

// h('li', {class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', child, ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== 'string') {
      el[key] = value;   // checked, value, hidden, ...
    } else {
      el.setAttribute(key, value === true ? '' : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// A polite announcement for screen readers (and a visible toast).
export function announce(text) {
  const region = $('announcer');
  region.textContent = '';
  // A new text node each time so that the same message is read again.
  setTimeout(() => { region.textContent = text; }, 30);
}

export function showError(id, message) {
  const el = $(id);
  el.textContent = message || '';
  el.hidden = !message;
}

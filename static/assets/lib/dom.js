// Building DOM without markup strings: every piece of text goes in through a text node,
// so nothing a visitor, bot or specialist typed can ever become HTML.

/**
 * h('button', {class: 'x', type: 'button', onclick: fn, 'aria-label': 'Send'}, 'Send')
 * Attributes are set with setAttribute (values become text), `on*` keys add listeners,
 * `hidden`/`disabled` are booleans, strings among the children become text nodes.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/** The same for SVG elements (charts). */
export function svg(tag, props = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

// A line for errors and notices: read out by screen readers, hidden while empty.
export function alertLine() {
  return h('p', { class: 'form-error', role: 'alert', hidden: true });
}

export function showAlert(line, text) {
  line.textContent = text || '';
  line.hidden = !text;
}

/**
 * Runs `action` when `form` is submitted: `error` cleared first, `button` disabled while
 * it runs (no second submit), and a failure's message shown on `error`.
 */
export function onSubmit(form, { button, error }, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showAlert(error, '');
    button.disabled = true;
    try {
      await action();
    } catch (failure) {
      showAlert(error, failure.message);
    } finally {
      button.disabled = false;
    }
  });
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function formatTime(iso) {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** "less than a minute", "about 3 minutes", "about 1 hour". */
export function formatDuration(secs) {
  if (secs < 60) return 'less than a minute';
  const minutes = Math.round(secs / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  return `about ${hours} hour${hours === 1 ? '' : 's'}`;
}

/**
 * Ids for client_msg_id and refs. crypto.randomUUID exists only in secure contexts, and
 * the widget also runs on plain-http sites; getRandomValues works everywhere.
 */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const ICONS = {
  chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
  clip: 'M16.5 6.5 8.6 14.4a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.6-5.6l-8 8a6 6 0 0 0 8.5 8.5l6.4-6.4',
  close: 'M6 6l12 12M18 6 6 18',
};

/** A small line icon, hidden from screen readers (its button carries the name). */
export function icon(name) {
  return svg('svg', { class: `icon-${name}`, viewBox: '0 0 24 24', width: 20, height: 20, 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d: ICONS[name], fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }));
}

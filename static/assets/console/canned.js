// Canned responses in the composer: typing `/` at the start of the message opens a
// listbox of the specialist's own and the shared responses, filtered by what follows the
// slash; arrows move, Enter (or a click) puts the response, rendered for this
// conversation by the server, into the input; Escape closes.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';

const QUERY_DELAY_MS = 150;

export class CannedPicker {
  /** input: the composer's textarea; onError(text) shows a problem under it. */
  constructor({ input, sessionId, token, onError }) {
    this.input = input;
    this.sessionId = sessionId;
    this.token = token;
    this.onError = onError;
    this.options = [];
    this.active = -1;
    this.asked = 0;
    this.el = h('ul', {
      id: `canned-${sessionId}`,
      class: 'canned',
      role: 'listbox',
      'aria-label': 'Canned responses',
      hidden: true,
    });
    input.setAttribute('aria-controls', this.el.id);
    input.setAttribute('aria-autocomplete', 'list');
  }

  get isOpen() {
    return !this.el.hidden;
  }

  /** Called on every input event. */
  onInput() {
    const match = /^\/(\S*)$/.exec(this.input.value);
    if (!match) {
      this.close();
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(match[1]), QUERY_DELAY_MS);
  }

  async load(query) {
    const asked = ++this.asked;
    const path = query ? `/canned-responses?q=${encodeURIComponent(query)}` : '/canned-responses';
    let responses;
    try {
      ({ canned_responses: responses } = await api(location.origin, path, { token: this.token }));
    } catch (error) {
      this.onError(`Canned responses unavailable: ${error.message}`);
      return;
    }
    // A slower answer to an older query must not replace a newer one.
    if (asked !== this.asked || !this.input.value.startsWith('/')) return;
    this.options = responses;
    this.render();
  }

  render() {
    const id = (i) => `${this.el.id}-${i}`;
    this.active = this.options.length ? 0 : -1;
    replace(this.el, this.options.length
      ? this.options.map((response, i) => h('li', {
        id: id(i),
        role: 'option',
        class: 'canned-option',
        'aria-selected': 'false',
        onmousedown: (event) => event.preventDefault(),
        onclick: () => this.choose(i),
      },
      h('span', { class: 'canned-shortcut' }, `/${response.shortcut}`),
      h('span', { class: 'canned-title' }, response.title),
      response.shared ? h('span', { class: 'pill' }, 'shared') : null,
      h('span', { class: 'canned-body muted' }, response.body)))
      : h('li', { class: 'muted canned-none', role: 'presentation' }, 'No canned response matches'));
    this.el.hidden = false;
    this.highlight();
  }

  highlight() {
    [...this.el.querySelectorAll('[role="option"]')].forEach((option, i) => {
      const on = i === this.active;
      option.setAttribute('aria-selected', String(on));
      option.classList.toggle('active', on);
      if (on) option.scrollIntoView({ block: 'nearest' });
    });
    if (this.active >= 0) this.input.setAttribute('aria-activedescendant', `${this.el.id}-${this.active}`);
    else this.input.removeAttribute('aria-activedescendant');
  }

  /** Keys while the list is open; returns whether the key was used here. */
  onKey(event) {
    if (!this.isOpen) return false;
    const count = this.options.length;
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp':
        if (!count) return true;
        this.active = (this.active + (event.key === 'ArrowDown' ? 1 : count - 1)) % count;
        this.highlight();
        return true;
      case 'Enter':
        if (this.active >= 0) this.choose(this.active);
        else this.close();
        return true;
      case 'Escape':
        this.close();
        return true;
      default:
        return false;
    }
  }

  async choose(index) {
    const response = this.options[index];
    this.close();
    try {
      const { body } = await api(
        location.origin,
        `/canned-responses/${response.id}/render?session_id=${this.sessionId}`,
        { token: this.token },
      );
      this.input.value = body;
      this.input.focus();
      this.input.setSelectionRange(body.length, body.length);
    } catch (error) {
      this.onError(`Canned response not inserted: ${error.message}`);
    }
  }

  close() {
    clearTimeout(this.timer);
    this.asked += 1;
    this.el.hidden = true;
    this.options = [];
    this.active = -1;
    this.input.removeAttribute('aria-activedescendant');
  }
}

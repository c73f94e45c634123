// The workspace around one conversation (SPEC section 10): its tags, its analytics and
// the specialist's scheduled messages. Each piece owns its element; the Conversation
// places them and forwards the frames that concern them.

import { alertLine, h, replace, formatTime, showAlert } from '../lib/dom.js';
import { api } from '../lib/api.js';

const TAG = /^[a-z0-9_-]{1,32}$/;
const RECHECK_MS = 2000;

/** Tags as typed ("VIP, refund  late") → the server's form, or an error line. */
export function parseTags(text) {
  const tags = [...new Set(text.split(/[\s,]+/).map((t) => t.trim().toLowerCase()).filter(Boolean))];
  const bad = tags.find((t) => !TAG.test(t));
  if (bad) return { error: `"${bad}" is not a tag: use a-z, 0-9, _ and -, up to 32 characters` };
  if (tags.length > 20) return { error: 'At most 20 tags' };
  return { tags };
}

/**
 * The `Tags` input of a conversation. Saving goes over the socket (`session.tag`), so
 * every console in the session, this one included, hears `session.tagged` and shows it.
 */
export class TagsEditor {
  constructor({ sessionId, socket, readOnly = false }) {
    this.sessionId = sessionId;
    this.socket = socket;
    const id = `tags-${sessionId}`;
    this.chips = h('ul', { class: 'tag-list', 'aria-label': 'Tagged' });
    this.problem = alertLine();
    if (readOnly) {
      this.el = h('div', { class: 'tags' }, h('span', { class: 'muted' }, 'Tagged: '), this.chips);
      return;
    }
    this.input = h('input', { id, autocomplete: 'off', placeholder: 'vip, refund', maxlength: '700' });
    this.el = h(
      'form',
      { class: 'tags', onsubmit: (event) => { event.preventDefault(); this.save(); } },
      h('label', { for: id }, 'Tags'),
      this.input,
      h('button', { type: 'submit', class: 'secondary' }, 'Save tags'),
      this.chips,
      this.problem,
    );
  }

  save() {
    const { tags, error } = parseTags(this.input.value);
    this.say(error);
    if (error) return;
    this.socket
      .request({ type: 'session.tag', session_id: this.sessionId, tags })
      .then(() => this.input.blur())
      .catch((failure) => this.say(`Tags not saved: ${failure.message}`));
  }

  say(text) {
    showAlert(this.problem, text);
  }

  show(tags) {
    const list = tags || [];
    replace(this.chips, list.map((tag) => h('li', { class: 'tag' }, tag)));
    // Someone else's change must not overwrite what is being typed here.
    if (this.input && document.activeElement !== this.input) this.input.value = list.join(', ');
  }
}

const seconds = (value) => {
  if (value === null || value === undefined) return '–';
  if (value < 90) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  return `${Math.round(value / 60)} min`;
};

/** Message counts and response times of one conversation, loaded when opened. */
export class AnalyticsPanel {
  constructor({ sessionId, token }) {
    this.sessionId = sessionId;
    this.token = token;
    this.figures = h('dl', { class: 'stats' });
    this.el = h(
      'details',
      { class: 'analytics', ontoggle: () => { if (this.el.open) this.load(); } },
      h('summary', {}, 'Analytics'),
      this.figures,
      h('button', { type: 'button', class: 'link', onclick: () => this.load() }, 'Refresh analytics'),
    );
  }

  /** Reloads if the panel is open, e.g. after a new message. */
  refresh() {
    if (this.el.open) this.load();
  }

  async load() {
    try {
      const a = await api(location.origin, `/sessions/${this.sessionId}/analytics`, { token: this.token });
      const tiles = [
        ['Visitor messages', a.messages.visitor],
        ['Specialist messages', a.messages.specialist],
        ['Bot messages', a.messages.bot],
        ['System messages', a.messages.system],
        ['Notes', a.messages.note],
        ['Wait', seconds(a.wait_secs)],
        ['First response', seconds(a.first_response_secs)],
        ['Average response', seconds(a.avg_response_secs)],
        ['Duration', seconds(a.duration_secs)],
        ['Rating', a.rating ? `${a.rating} / 5` : '–'],
      ];
      replace(this.figures, tiles.map(([label, value]) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, String(value)))));
    } catch (error) {
      replace(this.figures, h('p', { class: 'muted' }, `Analytics unavailable: ${error.message}`));
    }
  }
}

/** `datetime-local` wants local wall-clock time without a zone. */
export function localInputValue(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 19);
}

/** The specialist's pending scheduled messages for a conversation, each with Unschedule. */
export class ScheduledList {
  constructor({ sessionId, socket, token }) {
    this.sessionId = sessionId;
    this.socket = socket;
    this.token = token;
    this.pending = [];
    this.items = h('ul', { class: 'scheduled-list', 'aria-label': 'Scheduled to send' });
    this.problem = alertLine();
    this.el = h('div', { class: 'scheduled', hidden: true }, h('h3', {}, 'Scheduled'), this.items, this.problem);
  }

  async load() {
    try {
      const { scheduled } = await api(location.origin, `/sessions/${this.sessionId}/scheduled`, { token: this.token });
      this.pending = scheduled.filter((s) => s.state === 'pending');
      this.render();
      // A message that is due may be sent a moment later than its time; look again then.
      clearTimeout(this.recheck);
      const due = this.pending.some((s) => new Date(s.send_at).getTime() <= Date.now());
      if (due) this.recheck = setTimeout(() => this.load(), RECHECK_MS);
    } catch (error) {
      this.say(`Scheduled messages unavailable: ${error.message}`);
    }
  }

  /** One of ours arrived: if it was a scheduled one, it is no longer pending. */
  onOwnMessage() {
    if (this.pending.length) this.load();
  }

  render() {
    replace(this.items, this.pending.map((item) => h('li', { class: 'scheduled-item' },
      h('span', { class: 'scheduled-when' }, `${new Date(item.send_at).toLocaleDateString()} ${formatTime(item.send_at)}`),
      h('span', { class: 'scheduled-body' }, item.body),
      h('button', {
        type: 'button',
        class: 'link',
        'aria-label': `Unschedule "${item.body.slice(0, 40)}"`,
        onclick: () => this.unschedule(item),
      }, 'Unschedule'))));
    this.el.hidden = this.pending.length === 0;
  }

  unschedule(item) {
    this.say(null);
    this.socket
      .request({ type: 'message.unschedule', scheduled_id: item.id })
      .then(() => this.load())
      .catch((error) => this.say(`Not unscheduled: ${error.message}`));
  }

  say(text) {
    showAlert(this.problem, text);
    if (text) this.el.hidden = false;
  }
}

// "Needs reply" (SPEC section 14): the messages visitors left while nobody could answer,
// each an `offline` session that no specialist took yet, or that this specialist took.
// No frame announces a new one, so the list is read again every 10 s while the console
// is open, and right after a Reply.

import { alertLine, h, replace, showAlert } from '../lib/dom.js';
import { api } from '../lib/api.js';

const REFRESH_MS = 10000;
const PAGE = 50;
// The visitor's message comes after whatever a bot said before it.
const PREVIEW_SCAN = 50;
const PREVIEW_CHARS = 200;

export class NeedsReplyView {
  /** onReply(session) takes the session (or opens it when it is already this specialist's). */
  constructor({ token, me, onReply }) {
    this.token = token;
    this.me = me;
    this.onReply = onReply;
    // The visitor's first message in each session, by id: it does not change, so it is
    // read once.
    this.previews = new Map();
    this.list = h('ul', { class: 'needs-reply-list' });
    this.problem = alertLine();
    this.el = h('section', { class: 'card', 'aria-labelledby': 'needs-reply-heading' },
      h('h2', { id: 'needs-reply-heading' }, 'Needs reply'), this.problem, this.list);
    this.timer = null;
  }

  start() {
    this.load();
    this.timer = setInterval(() => {
      // A view that left the page (after signing out) stops asking.
      if (this.el.isConnected) this.load();
      else clearInterval(this.timer);
    }, REFRESH_MS);
  }

  async load() {
    let page;
    try {
      page = await api(location.origin, `/sessions?status=offline&limit=${PAGE}`, { token: this.token });
    } catch (error) {
      showAlert(this.problem, `Messages left could not be loaded: ${error.message}`);
      return;
    }
    showAlert(this.problem, null);
    replace(this.list, page.sessions.length
      ? page.sessions.map((session) => this.item(session))
      : h('li', { class: 'muted' }, 'Nothing waiting'));
  }

  item(session) {
    const titleId = `needs-reply-${session.id}`;
    const { visitor } = session;
    const preview = h('p', { class: 'preview' });
    this.showPreview(session, preview);
    const mine = session.specialist && session.specialist.id === this.me.id;
    return h(
      'li',
      { class: 'needs-reply-item', 'data-session': session.id },
      h('p', { class: 'queue-title', id: titleId },
        `${visitor.name || 'Visitor'} `, h('span', { class: 'muted' }, session.number)),
      visitor.email ? h('p', { class: 'contact' }, visitor.email) : null,
      visitor.phone ? h('p', { class: 'contact' }, visitor.phone) : null,
      session.callback ? h('p', { class: 'pill callback' }, 'Call back requested') : null,
      preview,
      mine ? h('p', { class: 'muted' }, 'Taken by you') : null,
      h('button', {
        type: 'button',
        class: 'secondary',
        'aria-describedby': titleId,
        onclick: (event) => {
          event.currentTarget.disabled = true;
          this.onReply(session);
        },
      }, 'Reply'),
    );
  }

  async showPreview(session, element) {
    if (!this.previews.has(session.id)) {
      try {
        const { messages } = await api(
          location.origin,
          `/sessions/${session.id}/messages?after_seq=0&limit=${PREVIEW_SCAN}`,
          { token: this.token },
        );
        const first = messages.find((message) => message.sender.type === 'visitor' && message.body);
        this.previews.set(session.id, first ? first.body : '');
      } catch {
        return;
      }
    }
    const text = this.previews.get(session.id);
    element.textContent = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  }
}

// One conversation in the console: the visitor's context, the messages (bot transcript,
// notes and system lines included, each styled for what it is), typing and read state,
// and the specialist's actions: send, add a note, schedule, transfer, end; around it the
// workspace of SPEC section 10 (tags, canned responses, analytics, archive).

import { alertLine, h, replace, randomId, showAlert } from '../lib/dom.js';
import { MessageList } from '../lib/messages.js';
import { api, download } from '../lib/api.js';
import { CannedPicker } from './canned.js';
import { AnalyticsPanel, ScheduledList, TagsEditor } from './tools.js';

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;

export class Conversation {
  /**
   * socket: the console's Socket; token: for downloads; me: the signed-in specialist;
   * colleagues(): specialists a chat can be transferred to (empty when the roster is not
   * visible to this role), asked each time the transfer form opens;
   * events: {onUnread(conversation), onTransferred(conversation), onClose(conversation)}.
   */
  constructor({ session, me, socket, token, colleagues, events }) {
    this.session = session;
    this.me = me;
    this.socket = socket;
    this.events = events;
    this.unread = 0;
    this.shown = false;
    this.lastReadSent = 0;
    this.typingSentAt = 0;
    this.list = new MessageList({
      label: 'Conversation',
      isMine: (message) => message.sender.type === 'specialist' && message.sender.id === me.id,
      onAttachment: (attachment) => {
        download(location.origin, token, attachment).catch((error) => this.say(error.message));
      },
    });
    this.colleagues = colleagues;
    this.token = token;
    this.build();
    this.renderSession();
    this.scheduled.load();
  }

  get id() {
    return this.session.id;
  }

  /** Not over: live, waiting, or a message left that is answered by e-mail. */
  get isOpen() {
    return ['active', 'waiting', 'offline'].includes(this.session.status);
  }

  get title() {
    return this.session.visitor.name || `Visitor ${this.session.number}`;
  }

  build() {
    this.heading = h('h2', {});
    this.state = h('span', { class: 'pill' });
    this.context = h('dl', { class: 'context' });
    this.typing = h('p', { class: 'typing', 'aria-live': 'polite' });
    this.notice = alertLine();
    this.awayHint = h('p', { class: 'muted away-hint', hidden: true },
      'The visitor left this message and is away: each reply is also sent to their e-mail.');
    const inputId = `message-${this.id}`;
    this.input = h('textarea', {
      id: inputId,
      rows: '2',
      maxlength: '4000',
      placeholder: 'Reply to the visitor, or write a note only colleagues see',
      oninput: () => {
        this.canned.onInput();
        this.onTyping();
      },
      onblur: () => this.canned.close(),
      onkeydown: (event) => {
        if (this.canned.onKey(event)) {
          event.preventDefault();
          return;
        }
        if (event.key === 'Enter' && !event.shiftKey) {
          event.preventDefault();
          this.send();
        }
      },
    });
    this.canned = new CannedPicker({
      input: this.input, sessionId: this.id, token: this.token, onError: (text) => this.say(text),
    });
    this.sendAt = h('input', { id: `send-at-${this.id}`, type: 'datetime-local', step: '1' });
    this.composer = h(
      'form',
      { class: 'composer', onsubmit: (event) => { event.preventDefault(); this.send(); } },
      h('label', { for: inputId, class: 'visually-hidden' }, 'Message'),
      this.canned.el,
      this.input,
      h('div', { class: 'composer-actions' },
        h('span', { class: 'schedule-field' },
          h('label', { for: this.sendAt.id }, 'Send at'),
          this.sendAt,
          h('button', { type: 'button', class: 'secondary', onclick: () => this.schedule() }, 'Schedule')),
        h('button', { type: 'button', class: 'note-button', onclick: () => this.addNote() }, 'Add note'),
        h('button', { type: 'submit', class: 'primary' }, 'Send')),
    );
    this.tags = new TagsEditor({ sessionId: this.id, socket: this.socket });
    this.analytics = new AnalyticsPanel({ sessionId: this.id, token: this.token });
    this.scheduled = new ScheduledList({ sessionId: this.id, socket: this.socket, token: this.token });
    this.transferForm = this.buildTransfer();
    this.actions = h(
      'div',
      { class: 'chat-actions' },
      h('button', {
        type: 'button',
        class: 'secondary',
        'aria-expanded': 'false',
        onclick: (event) => this.toggleTransfer(event.currentTarget),
      }, 'Transfer'),
      h('button', { type: 'button', class: 'danger', onclick: () => this.end() }, 'End chat'),
    );
    this.closed = h(
      'div',
      { class: 'closed', hidden: true },
      h('p', {}, 'This chat has ended.'),
      h('button', { type: 'button', class: 'secondary', onclick: () => this.archive() }, 'Archive'),
      h('button', { type: 'button', class: 'secondary', onclick: () => this.events.onClose(this) }, 'Close'),
    );
    this.el = h(
      'section',
      { class: 'conversation', 'aria-label': `Chat with ${this.title}`, hidden: true },
      h('header', { class: 'conversation-header' }, this.heading, this.state, this.actions),
      h('details', { class: 'context-box', open: true }, h('summary', {}, 'Visitor details'), this.context),
      h('div', { class: 'workspace-tools' }, this.tags.el, this.analytics.el),
      this.transferForm,
      this.list.el,
      this.typing,
      this.scheduled.el,
      this.notice,
      this.awayHint,
      this.composer,
      this.closed,
    );
  }

  buildTransfer() {
    const prefix = `transfer-${this.id}`;
    this.transferTarget = h('select', { id: `${prefix}-to` });
    this.transferSkills = h('input', { id: `${prefix}-skills`, placeholder: 'billing, spanish' });
    this.transferNote = h('textarea', { id: `${prefix}-note`, rows: '2', maxlength: '4000' });
    return h(
      'form',
      { class: 'transfer card', hidden: true, onsubmit: (event) => this.transfer(event) },
      h('h3', {}, 'Transfer this chat'),
      h('label', { for: `${prefix}-to` }, 'To specialist'),
      this.transferTarget,
      h('label', { for: `${prefix}-skills` }, 'Required skills (comma separated)'),
      this.transferSkills,
      h('label', { for: `${prefix}-note` }, 'Note for the next specialist'),
      this.transferNote,
      h('button', { type: 'submit', class: 'primary' }, 'Transfer chat'),
    );
  }

  renderSession() {
    const session = this.session;
    replace(this.heading, this.title, ' ', h('span', { class: 'muted' }, session.number));
    replace(this.state, session.status);
    this.state.className = `pill status-${session.status}`;
    const rows = [
      ['Email', session.visitor.email],
      ['Phone', session.visitor.phone],
      ['Call back', session.callback ? 'requested' : null],
      ['Intent', session.intent],
      ['Priority', session.priority],
      ['Language', session.language],
      ['Skills', session.skills && session.skills.join(', ')],
      ['Visitor', this.visitorOnline === undefined ? null : this.visitorOnline ? 'online' : 'away'],
    ];
    for (const [key, value] of Object.entries(session.metadata || {})) {
      rows.push([key, typeof value === 'string' ? value : JSON.stringify(value)]);
    }
    replace(
      this.context,
      rows.filter(([, value]) => value).map(([key, value]) => [h('dt', {}, key), h('dd', {}, value)]),
    );
    const open = this.isOpen;
    this.awayHint.hidden = session.status !== 'offline';
    this.composer.hidden = !open;
    this.actions.hidden = !open;
    this.closed.hidden = open;
    if (!open) this.transferForm.hidden = true;
    this.tags.show(session.tags);
  }

  show(shown) {
    this.shown = shown;
    this.el.hidden = !shown;
    if (shown) {
      this.unread = 0;
      this.markRead();
    }
  }

  /** A frame about this session (already routed by session id). */
  apply(frame) {
    switch (frame.type) {
      case 'session.state':
        this.session = frame.session;
        frame.messages.forEach((message) => this.list.add(message));
        this.renderSession();
        return this.markRead();
      case 'message.new':
      case 'message.ack':
        return this.receive(frame.message);
      case 'typing':
        return this.showTyping(frame);
      case 'read':
        if (frame.by.type === 'visitor') this.list.markRead(frame.seq);
        return;
      case 'presence':
        if (frame.participant.type !== 'visitor') return;
        this.visitorOnline = frame.online;
        return this.renderSession();
      case 'session.assigned':
        this.session = { ...this.session, status: 'active', specialist: frame.specialist };
        return this.renderSession();
      case 'session.ended':
        this.session = frame.session;
        this.typing.textContent = '';
        this.analytics.refresh();
        return this.renderSession();
      case 'session.tagged':
        this.session = { ...this.session, tags: frame.tags };
        return this.tags.show(frame.tags);
      default:
    }
  }

  receive(message) {
    const fresh = this.list.add(message);
    if (fresh) this.analytics.refresh();
    if (fresh && this.list.isMine(message)) this.scheduled.onOwnMessage();
    if (!fresh || this.list.isMine(message) || message.kind === 'note') return;
    if (message.sender.type === 'visitor') this.typing.textContent = '';
    if (this.shown && document.visibilityState === 'visible') {
      this.markRead();
    } else {
      this.unread += 1;
      this.events.onUnread(this);
    }
  }

  markRead() {
    if (!this.shown || document.visibilityState !== 'visible') return;
    const seq = this.list.lastSeqFromOthers();
    if (seq <= this.lastReadSent) return;
    if (this.socket.send({ type: 'read', session_id: this.id, seq })) this.lastReadSent = seq;
  }

  showTyping(frame) {
    clearTimeout(this.typingTimer);
    if (frame.from.type !== 'visitor' || !frame.is_typing) {
      this.typing.textContent = '';
      return;
    }
    this.typing.textContent = `${this.title} is typing…`;
    this.typingTimer = setTimeout(() => { this.typing.textContent = ''; }, TYPING_SHOWN_MS);
  }

  onTyping() {
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS
      && this.socket.send({ type: 'typing', session_id: this.id, is_typing: true })) {
      this.typingSentAt = now;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    this.socket.send({ type: 'typing', session_id: this.id, is_typing: false });
  }

  say(text) {
    showAlert(this.notice, text);
  }

  /**
   * Sends the composer's text as a frame built by `frame(body)`; keeps it on failure.
   * Resolves with the reply, or null when nothing went out.
   */
  submit(frame) {
    const body = this.input.value.trim();
    if (!body) return Promise.resolve(null);
    this.say(null);
    this.input.value = '';
    this.canned.close();
    this.stopTyping();
    return this.socket.request(frame(body)).catch((error) => {
      if (!this.input.value) this.input.value = body;
      this.say(`Not sent: ${error.message}`);
      return null;
    });
  }

  send() {
    const clientMsgId = randomId();
    this.submit((body) => ({ type: 'message.send', session_id: this.id, client_msg_id: clientMsgId, body }));
  }

  addNote() {
    this.submit((body) => ({ type: 'note.add', session_id: this.id, body }));
  }

  /** Sends the typed text later, at the time in `Send at`. */
  schedule() {
    const at = this.sendAt.value ? new Date(this.sendAt.value) : null;
    if (!at || Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
      this.say('Choose a time in the future in "Send at" first.');
      this.sendAt.focus();
      return;
    }
    if (!this.input.value.trim()) {
      this.say('Type the message to schedule first.');
      this.input.focus();
      return;
    }
    const clientMsgId = randomId();
    this.submit((body) => ({
      type: 'message.send', session_id: this.id, client_msg_id: clientMsgId, body, send_at: at.toISOString(),
    })).then((reply) => {
      if (!reply) return;
      this.sendAt.value = '';
      this.scheduled.load();
    });
  }

  archive() {
    api(location.origin, `/sessions/${this.id}/archive`, { token: this.token, method: 'POST' })
      .then(() => this.events.onClose(this))
      .catch((error) => this.say(`Not archived: ${error.message}`));
  }

  toggleTransfer(button) {
    const open = this.transferForm.hidden;
    this.transferForm.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (!open) return;
    replace(
      this.transferTarget,
      h('option', { value: '' }, 'Anyone who fits'),
      this.colleagues()
        .filter((colleague) => colleague.id !== this.me.id && !colleague.disabled)
        .map((colleague) => h('option', { value: colleague.id }, `${colleague.name} (${colleague.email})`)),
    );
    this.transferTarget.focus();
  }

  transfer(event) {
    event.preventDefault();
    const frame = { type: 'session.transfer', session_id: this.id };
    if (this.transferTarget.value) frame.to_specialist_id = this.transferTarget.value;
    const skills = this.transferSkills.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (skills.length) frame.skills = skills;
    const note = this.transferNote.value.trim();
    if (note) frame.note = note;
    this.socket
      .request(frame)
      .then(() => this.events.onTransferred(this))
      .catch((error) => this.say(`Not transferred: ${error.message}`));
  }

  end() {
    this.socket
      .request({ type: 'session.end', session_id: this.id })
      .catch((error) => this.say(`Not ended: ${error.message}`));
  }
}

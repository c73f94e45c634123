// The specialist console (SPEC section 7): sign in, set a status, take offers, work
// several chats at once, watch the queue and pick chats up from it; answer the messages
// visitors left while nobody could (SPEC section 14); search past conversations and open
// them read-only (SPEC section 10).
//
// Every frame from the server is routed here: offers to the offer tray, queue snapshots
// to the queue view, and everything about a session to that session's Conversation.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { Socket } from '../lib/socket.js';
import { QueueView } from '../lib/queue.js';
import { loginForm, savedLogin, saveLogin, socketUrl, tokenAccepted } from '../lib/login.js';
import { Conversation } from './conversation.js';
import { Offers } from './offers.js';
import { ConversationsView, PastConversation } from './history.js';
import { NeedsReplyView } from './needs-reply.js';
import { chime, notify, unlock } from './alerts.js';

const LOGIN_KEY = 'switchboard.console.login';
const app = document.getElementById('app');

function boot() {
  const saved = savedLogin(LOGIN_KEY);
  if (saved) new Console(saved);
  else showLogin();
}

function showLogin() {
  document.title = 'Sign in · Switchboard console';
  replace(app, h('main', { class: 'centered' }, loginForm({
    title: 'Switchboard console',
    onLogin: (login) => {
      unlock();
      saveLogin(LOGIN_KEY, login);
      new Console(login);
    },
  })));
  app.querySelector('input').focus();
}

class Console {
  constructor(login) {
    this.login = login;
    this.me = login.specialist;
    this.conversations = new Map();
    this.selected = null;
    this.colleagues = [];
    this.socket = new Socket({
      url: () => socketUrl(login.token),
      onFrame: (frame) => this.onFrame(frame),
      onState: (state) => this.onConnection(state),
      onRefused: async () => {
        if (!(await tokenAccepted(location.origin, login.token))) this.signOut();
      },
    });
    this.offers = new Offers({
      onAccept: (offer) => this.accept(offer),
      onDecline: (offer) => this.socket.request({ type: 'offer.decline', offer_id: offer.offer_id }),
    });
    this.queue = new QueueView({ onPickUp: (session) => this.pickUp(session) });
    this.needsReply = new NeedsReplyView({ token: login.token, me: this.me, onReply: (session) => this.reply(session) });
    this.history = new ConversationsView({ token: login.token, onOpen: (found) => this.openPast(found) });
    this.past = null;
    this.build();
    document.addEventListener('pointerdown', unlock, { once: true });
    document.addEventListener('visibilitychange', () => {
      if (this.selected) this.selected.markRead();
    });
    this.loadColleagues();
    this.socket.start();
  }

  build() {
    document.title = 'Switchboard console';
    this.status = h(
      'select',
      { id: 'status', onchange: () => this.setStatus(this.status.value) },
      h('option', { value: 'online' }, 'Online'),
      h('option', { value: 'away' }, 'Away'),
      h('option', { value: 'offline' }, 'Offline'),
    );
    this.status.value = 'offline';
    // Changing status needs the connection; the select waits for it.
    this.status.disabled = true;
    this.statusHint = h('span', { class: 'status-hint', 'aria-live': 'polite' });
    this.connection = h('span', { class: 'connection', 'aria-live': 'polite' });
    this.chatList = h('ul', { class: 'chat-list', 'aria-label': 'My chats' });
    this.empty = h('p', { class: 'empty muted' }, 'No chat selected. Go online to receive chats, or pick one up from the queue.');
    this.stage = h('div', { class: 'stage' }, this.empty);
    replace(
      app,
      h('header', { class: 'topbar' },
        h('h1', {}, 'Switchboard'),
        h('span', { class: 'me' }, this.me.name),
        h('span', { class: 'status-field' }, h('label', { for: 'status' }, 'Status'), this.status, this.statusHint),
        this.connection,
        h('button', { type: 'button', class: 'link', onclick: () => this.logOut() }, 'Log out')),
      h('main', { class: 'workspace' },
        h('aside', { class: 'sidebar' },
          this.offers.el,
          h('section', { class: 'card', 'aria-labelledby': 'chats-heading' },
            h('h2', { id: 'chats-heading' }, 'My chats'), this.chatList),
          h('section', { class: 'card', 'aria-labelledby': 'queue-heading' },
            h('h2', { id: 'queue-heading' }, 'Queue'), this.queue.el),
          this.needsReply.el,
          this.history.el),
        this.stage),
    );
    this.renderChatList();
    this.history.load();
    this.needsReply.start();
  }

  async loadColleagues() {
    // Only admins may list specialists; for others transfer goes by skill.
    if (this.me.role !== 'admin') return;
    try {
      const { specialists } = await api(location.origin, '/specialists', { token: this.login.token });
      this.colleagues = specialists;
    } catch {
      this.colleagues = [];
    }
  }

  onConnection(state) {
    const labels = { open: '', connecting: 'Connecting…', offline: 'Offline', closed: '' };
    this.connection.textContent = labels[state];
    this.status.disabled = state !== 'open';
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'status':
        return this.showStatus(frame.status);
      case 'offer':
        this.offers.show(frame);
        chime();
        notify('New chat request', `${frame.session.visitor.name || 'A visitor'} wants to chat`, frame.offer_id);
        return;
      case 'offer.revoked':
        return this.offers.remove(frame.offer_id);
      case 'queue.snapshot':
        return this.queue.update(frame);
      case 'session.state': {
        const conversation = this.conversation(frame.session);
        conversation.apply(frame);
        // A resume returns at most 500 messages; the rest follow page by page.
        if (frame.has_more) this.resume(conversation);
        return;
      }
      case 'message.new':
      case 'message.ack':
        return this.route(frame.message.session_id, frame);
      case 'session.transferred':
        // Our own transfer's reply: the chat leaves this console.
        return this.drop(frame.session_id);
      default:
        if (frame.session_id) this.route(frame.session_id, frame);
    }
  }

  onHello(frame) {
    this.me = { ...this.me, ...frame.me };
    this.showStatus(frame.me.status || 'offline');
    const ids = new Set(frame.sessions.map((session) => session.id));
    for (const session of frame.sessions) this.conversation(session);
    for (const conversation of this.conversations.values()) {
      if (ids.has(conversation.id) || conversation.isOpen) {
        this.resume(conversation);
      }
    }
    this.socket.request({ type: 'queue.watch' }).catch(() => {});
  }

  resume(conversation) {
    this.socket
      .request({ type: 'session.resume', session_id: conversation.id, after_seq: conversation.list.lastSeq })
      .catch((error) => {
        if (error.code === 'forbidden' || error.code === 'not_found') this.drop(conversation.id);
      });
  }

  route(sessionId, frame) {
    const conversation = this.conversations.get(sessionId);
    if (conversation) conversation.apply(frame);
    this.renderChatList();
  }

  conversation(session) {
    let conversation = this.conversations.get(session.id);
    if (conversation) return conversation;
    conversation = new Conversation({
      session,
      me: this.me,
      socket: this.socket,
      token: this.login.token,
      colleagues: () => this.colleagues,
      events: {
        onUnread: () => this.renderChatList(),
        onTransferred: (c) => this.drop(c.id),
        onClose: (c) => this.drop(c.id),
      },
    });
    this.conversations.set(session.id, conversation);
    this.stage.append(conversation.el);
    if (!this.selected) this.select(conversation);
    this.renderChatList();
    return conversation;
  }

  select(conversation) {
    this.closePast();
    if (this.selected) this.selected.show(false);
    this.selected = conversation;
    this.empty.hidden = conversation !== null;
    if (conversation) {
      conversation.show(true);
      conversation.input.focus({ preventScroll: true });
    }
    this.renderChatList();
  }

  /** A search result: one of this console's live chats, or a read-only past one. */
  openPast(found) {
    const live = this.conversations.get(found.id);
    if (live) {
      this.select(live);
      return;
    }
    this.closePast();
    if (this.selected) this.selected.show(false);
    this.empty.hidden = true;
    this.past = new PastConversation({
      session: found,
      token: this.login.token,
      me: this.me,
      onClose: () => {
        this.closePast();
        this.select(this.selected);
      },
      onArchived: (session) => this.history.remove(session.id),
    });
    this.stage.prepend(this.past.el);
    this.past.el.scrollIntoView({ block: 'start' });
    this.renderChatList();
  }

  closePast() {
    if (!this.past) return;
    this.past.el.remove();
    this.past = null;
  }

  drop(sessionId) {
    const conversation = this.conversations.get(sessionId);
    if (!conversation) return;
    // An ended chat that was closed or archived shows in the search results differently.
    this.history.load();
    conversation.el.remove();
    this.conversations.delete(sessionId);
    if (this.selected === conversation) {
      this.selected = null;
      const next = this.conversations.values().next();
      this.select(next.done ? null : next.value);
    }
    this.renderChatList();
  }

  renderChatList() {
    const items = [...this.conversations.values()].map((conversation) => {
      const current = conversation === this.selected;
      const unread = conversation.unread;
      return h('li', {},
        h('button', {
          type: 'button',
          class: `chat-item${current ? ' current' : ''}`,
          'aria-current': current ? 'true' : false,
          onclick: () => this.select(conversation),
        },
        h('span', { class: 'chat-name' }, conversation.title),
        h('span', { class: 'muted' }, ` ${conversation.session.number} · ${conversation.session.status}`),
        unread ? h('span', { class: 'unread', 'aria-label': `${unread} unread` }, String(unread)) : null));
    });
    replace(this.chatList, items.length ? items : h('li', { class: 'muted' }, 'None yet'));
    const unread = [...this.conversations.values()].reduce((sum, c) => sum + c.unread, 0);
    document.title = unread ? `(${unread}) Switchboard console` : 'Switchboard console';
  }

  /** The status the server confirmed (the select may briefly show a wish). */
  showStatus(status) {
    const hints = { online: 'Taking new chats', away: 'No new chats', offline: 'Not available' };
    this.status.value = status;
    this.statusHint.textContent = hints[status];
  }

  setStatus(status) {
    unlock();
    this.socket.request({ type: 'status.set', status }).catch(() => {
      this.connection.textContent = 'Status not changed: not connected';
    });
  }

  async accept(offer) {
    const reply = await this.socket.request({ type: 'offer.accept', offer_id: offer.offer_id });
    this.select(this.conversation(reply.session));
  }

  pickUp(session) {
    this.socket
      .request({ type: 'session.pickup', session_id: session.id })
      .then((reply) => this.select(this.conversation(reply.session)))
      .catch((error) => {
        this.connection.textContent = `Could not pick up: ${error.message}`;
      });
  }

  /**
   * Replying to a message left: the session is taken like a pickup from the queue, or
   * opened when it is this specialist's already.
   */
  reply(session) {
    const open = this.conversations.get(session.id);
    if (open) {
      this.select(open);
      return;
    }
    if (session.specialist && session.specialist.id === this.me.id) {
      const conversation = this.conversation(session);
      this.resume(conversation);
      this.select(conversation);
      return;
    }
    this.socket
      .request({ type: 'session.pickup', session_id: session.id })
      .then((reply) => this.select(this.conversation(reply.session)))
      .catch((error) => {
        this.connection.textContent = `Could not take it: ${error.message}`;
      })
      .finally(() => this.needsReply.load());
  }

  /** Going offline first, so no offer waits for a console that has left. */
  async logOut() {
    await this.socket.request({ type: 'status.set', status: 'offline' }).catch(() => {});
    this.signOut();
  }

  signOut() {
    this.socket.stop();
    saveLogin(LOGIN_KEY, null);
    showLogin();
  }
}

boot();

// The visitor's chat widget (SPEC section 7). It lives in a shadow root so the host
// page's styles cannot break it and its styles cannot leak out.
//
// Robustness on bad networks comes from three pieces: the socket reconnects by itself;
// after every (re)connect the conversation is resumed from the last seq shown; and every
// message goes through the persisted outbox, so anything typed while offline (or not
// yet acknowledged when the page was closed) is sent again with the same client_msg_id
// and the server's idempotency makes sure it is stored once.

import { h, replace, formatDuration, randomId, showAlert } from '../lib/dom.js';
import { Socket } from '../lib/socket.js';
import { MessageList } from '../lib/messages.js';
import { api, download } from '../lib/api.js';
import { tokenAccepted } from '../lib/login.js';
import { store } from './store.js';
import { buildView } from './view.js';

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
// The server forgets a typing indicator after 6 s without a repeat; so does the widget.
const TYPING_SHOWN_MS = 6000;
const RETRYABLE = new Set(['disconnected', 'timeout']);

/**
 * Whether the server lets this site use the chat (SWITCHBOARD_ALLOWED_ORIGINS): true,
 * false, or null when it cannot be asked. Asked before anything else, because a call the
 * site may not make fails exactly like a lost network (CORS hides the reason) and leaves
 * an error in the browser's console; this answer is readable from every site.
 */
async function embeddingAllowed(server) {
  try {
    return (await api(server, '/embedding')).allowed;
  } catch {
    return null;
  }
}

export function mount(options) {
  if (document.getElementById('switchboard-widget')) return;
  const host = h('div', { id: 'switchboard-widget' });
  document.body.append(host);
  const root = host.attachShadow({ mode: 'open' });
  root.append(h('link', { rel: 'stylesheet', href: `${options.server}/assets/widget.css` }));
  new Widget(root, options);
}

class Widget {
  constructor(root, options) {
    this.server = options.server;
    this.title = options.title || 'Chat with us';
    this.askDetails = options.prechat !== 'off';
    this.session = null;
    this.queue = null;
    this.specialistOnline = true;
    this.transferring = false;
    this.everConnected = false;
    this.phase = 'intro';
    this.startWanted = false;
    this.rating = 0;
    this.unread = 0;
    this.lastReadSent = 0;
    this.inFlight = new Set();
    this.typingSentAt = 0;
    this.list = new MessageList({
      label: 'Conversation',
      isMine: (message) => message.sender.type === 'visitor',
      onAttachment: (attachment) => this.download(attachment),
    });
    this.socket = new Socket({
      url: () => this.socketUrl(),
      onFrame: (frame) => this.onFrame(frame),
      onState: (state) => this.onConnection(state),
      onRefused: () => this.socketRefused(),
    });
    this.embedding = embeddingAllowed(this.server);
    Object.assign(this, buildView(this, root));
    document.addEventListener('visibilitychange', () => this.markRead());
    this.toggle(store.open);
    this.render();
    this.begin();
  }

  /** Connects a returning visitor, once the server has said this site may use the chat. */
  async begin() {
    if ((await this.mayRun()) && store.token) this.socket.start();
  }

  /**
   * Whether this site may use the chat, as far as the server says; shows the refusal
   * when it may not. `fresh` asks again, after a failure that a refusal looks like.
   */
  async mayRun(fresh = false) {
    if (fresh) this.embedding = embeddingAllowed(this.server);
    if ((await this.embedding) !== false) return true;
    this.refuse();
    return false;
  }

  refuse() {
    this.socket.stop();
    this.phase = 'refused';
    this.render();
  }

  socketUrl() {
    if (!store.token) return null;
    const url = new URL('/ws', this.server);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', store.token);
    return url.href;
  }

  toggle(open) {
    this.panel.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    store.open = open;
    if (!open) return;
    this.unread = 0;
    this.badge.hidden = true;
    this.markRead();
    const target = this.phase === 'chat' ? this.input : this.startForm.querySelector('input, button');
    if (target && !target.closest('[hidden]')) target.focus();
  }

  render() {
    const phase = this.phase;
    const known = store.token !== null;
    this.startForm.hidden = phase !== 'intro' && phase !== 'rated';
    this.details.hidden = known || !this.askDetails;
    this.list.el.hidden = phase === 'intro' || phase === 'refused';
    this.refusal.hidden = phase !== 'refused';
    this.composer.hidden = phase !== 'chat';
    this.endButton.parentElement.hidden = phase !== 'chat';
    this.ratingForm.hidden = phase !== 'ended';
    this.thanks.hidden = phase !== 'rated';
    if (phase !== 'chat') this.typing.textContent = '';
    this.renderStatus();
  }

  renderStatus() {
    replace(this.status, this.statusText());
  }

  statusText() {
    const session = this.session;
    if (this.phase === 'refused') return 'Chat is not available on this site.';
    if (this.phase === 'ended' || this.phase === 'rated') return 'This chat has ended.';
    if (this.phase !== 'chat' || !session) return '';
    if (session.status === 'active' && session.specialist) {
      const name = session.specialist.name || 'a specialist';
      return this.specialistOnline
        ? `You are chatting with ${name}.`
        : `You are chatting with ${name}, who is reconnecting…`;
    }
    if (this.transferring) return 'Connecting you to another specialist…';
    if (!this.queue) return 'Connecting you to a specialist…';
    const { position, estimated_wait_secs: wait } = this.queue;
    const place = position <= 1 ? 'You are next in the queue.' : `You are number ${position} in the queue.`;
    const eta = wait === null || wait === undefined
      ? 'Nobody is available right now; stay here and we will connect you as soon as someone is.'
      : `Estimated wait: ${formatDuration(wait)}.`;
    return `${place} ${eta}`;
  }

  onConnection(state) {
    const messages = {
      open: null,
      connecting: this.everConnected ? 'Reconnecting…' : null,
      offline: 'You are offline. Messages you write now are sent when the connection is back.',
      closed: null,
    };
    if (state === 'open') this.everConnected = true;
    const text = messages[state];
    showAlert(this.connection, text);
  }

  /** The socket keeps failing: this site may be refused now, or the token dead. */
  async socketRefused() {
    if (await this.mayRun(true)) await this.checkToken();
  }

  /** A token the server no longer accepts (e.g. expired) would keep failing: start over. */
  async checkToken() {
    const token = store.token;
    if (!token || (await tokenAccepted(this.server, token))) return;
    this.socket.stop();
    store.forget();
    this.session = null;
    this.list.clear();
    this.phase = 'intro';
    this.render();
    this.showError('Your earlier chat is no longer available. You can start a new one.');
  }

  showError(text) {
    showAlert(this.error, text);
  }

  async start(event) {
    event.preventDefault();
    this.showError(null);
    const button = this.startForm.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      if (!(await this.mayRun())) return;
      if (!store.token) {
        const details = {};
        if (this.askDetails && this.nameInput.value.trim()) details.name = this.nameInput.value.trim();
        if (this.askDetails && this.emailInput.value.trim()) details.email = this.emailInput.value.trim();
        const { token } = await api(this.server, '/visitors', { method: 'POST', json: details });
        store.token = token;
      }
      store.sessionId = null;
      this.session = null;
      this.list.clear();
      this.lastReadSent = 0;
      this.startWanted = true;
      if (this.socket.isOpen) this.requestStart();
      else this.socket.start();
    } catch (error) {
      if (error.code === 'network' && !(await this.mayRun(true))) return;
      this.showError(error.message);
    } finally {
      button.disabled = false;
    }
  }

  requestStart() {
    this.startWanted = false;
    const metadata = { page_title: document.title };
    if (document.referrer) metadata.referrer = document.referrer;
    this.socket
      .request({ type: 'session.start', page_url: location.href, metadata })
      .catch((error) => this.showError(`The chat could not start: ${error.message}`));
  }

  onHello(frame) {
    const stored = store.sessionId;
    const open = frame.sessions.find((session) => session.id === stored) || frame.sessions[0];
    const id = stored || (open && open.id);
    if (id) this.resume(id);
    else if (this.startWanted) this.requestStart();
  }

  resume(sessionId) {
    this.socket
      .request({ type: 'session.resume', session_id: sessionId, after_seq: this.list.lastSeq })
      .catch((error) => {
        if (RETRYABLE.has(error.code)) return;
        // The conversation is gone (or not ours): start afresh rather than get stuck.
        store.sessionId = null;
        this.session = null;
        this.phase = 'intro';
        this.render();
      });
  }

  adopt(session) {
    if (this.session && this.session.id !== session.id) this.list.clear();
    this.session = session;
    store.sessionId = session.id;
    if (session.status === 'waiting' || session.status === 'active') this.phase = 'chat';
    else if (session.status === 'ended') this.phase = session.rating ? 'rated' : 'ended';
    else this.phase = 'intro';
    this.render();
  }

  isCurrent(sessionId) {
    return this.session !== null && this.session.id === sessionId;
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'session.started':
        this.queue = null;
        return this.adopt(frame.session);
      case 'session.state':
        this.adopt(frame.session);
        for (const message of frame.messages) this.list.add(message);
        // A resume returns at most 500 messages; the rest follow page by page.
        if (frame.has_more) return this.resume(frame.session.id);
        this.flushOutbox();
        return this.markRead();
      case 'queue.update':
        if (!this.isCurrent(frame.session_id)) return;
        this.queue = frame;
        return this.renderStatus();
      case 'session.assigned':
        if (!this.isCurrent(frame.session_id)) return;
        this.transferring = false;
        this.specialistOnline = true;
        this.session = { ...this.session, status: 'active', specialist: frame.specialist };
        return this.renderStatus();
      case 'session.transferred':
        if (!this.isCurrent(frame.session_id)) return;
        this.transferring = true;
        this.queue = null;
        this.session = { ...this.session, status: 'waiting' };
        return this.renderStatus();
      case 'presence':
        if (!this.isCurrent(frame.session_id) || frame.participant.type !== 'specialist') return;
        this.specialistOnline = frame.online;
        return this.renderStatus();
      case 'message.ack':
      case 'message.new':
        return this.onMessage(frame);
      case 'typing':
        if (this.isCurrent(frame.session_id) && frame.from.type !== 'visitor') this.showTyping(frame);
        return;
      case 'read':
        if (this.isCurrent(frame.session_id) && frame.by.type !== 'visitor') this.list.markRead(frame.seq);
        return;
      case 'session.ended':
        if (!this.isCurrent(frame.session_id)) return;
        return this.adopt(frame.session);
      case 'session.rated':
        if (!this.isCurrent(frame.session_id)) return;
        this.phase = 'rated';
        return this.render();
      default:
    }
  }

  onMessage({ message, client_msg_id: clientMsgId }) {
    if (clientMsgId || message.client_msg_id) store.remove(clientMsgId || message.client_msg_id);
    if (!this.isCurrent(message.session_id)) return;
    const fresh = this.list.add(message);
    if (message.sender.type === 'visitor') return;
    this.typing.textContent = '';
    if (fresh && this.panel.hidden) {
      this.unread += 1;
      this.badge.textContent = String(this.unread);
      this.badge.hidden = false;
    }
    this.markRead();
  }

  showTyping(frame) {
    clearTimeout(this.typingTimer);
    if (!frame.is_typing) {
      this.typing.textContent = '';
      return;
    }
    const who = frame.from.name || (frame.from.type === 'bot' ? 'The bot' : 'The specialist');
    this.typing.textContent = `${who} is typing…`;
    this.typingTimer = setTimeout(() => { this.typing.textContent = ''; }, TYPING_SHOWN_MS);
  }

  markRead() {
    if (!this.session || this.panel.hidden || document.visibilityState !== 'visible') return;
    const seq = this.list.lastSeqFromOthers();
    if (seq <= this.lastReadSent) return;
    if (this.socket.send({ type: 'read', session_id: this.session.id, seq })) this.lastReadSent = seq;
  }

  onTyping() {
    if (!this.session || this.phase !== 'chat') return;
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      if (this.socket.send({ type: 'typing', session_id: this.session.id, is_typing: true })) {
        this.typingSentAt = now;
      }
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingSentAt || !this.session) return;
    this.typingSentAt = 0;
    this.socket.send({ type: 'typing', session_id: this.session.id, is_typing: false });
  }

  send() {
    const body = this.input.value.trim();
    if (!body || !this.session || this.phase !== 'chat') return;
    this.input.value = '';
    this.stopTyping();
    this.enqueue({ client_msg_id: randomId(), session_id: this.session.id, body });
  }

  enqueue(item) {
    store.push(item);
    this.list.addPending(item.client_msg_id, item.body || item.label);
    this.transmit(item);
  }

  /** Sends every stored message of this conversation that has no ack yet, in order. */
  flushOutbox() {
    for (const item of store.outbox) {
      if (item.session_id !== this.session.id) {
        store.remove(item.client_msg_id);
      } else if (this.phase !== 'chat') {
        store.remove(item.client_msg_id);
        this.list.addPending(item.client_msg_id, item.body || item.label);
        this.list.failPending(item.client_msg_id, 'the chat has ended');
      } else {
        this.list.addPending(item.client_msg_id, item.body || item.label);
        this.transmit(item);
      }
    }
  }

  transmit(item) {
    if (this.inFlight.has(item.client_msg_id) || !this.socket.isOpen) return;
    this.inFlight.add(item.client_msg_id);
    const frame = { type: 'message.send', session_id: item.session_id, client_msg_id: item.client_msg_id };
    if (item.body) frame.body = item.body;
    if (item.attachment_id) frame.attachment_id = item.attachment_id;
    this.socket
      .request(frame)
      .catch((error) => {
        // Kept in the outbox: the next resume sends it again with the same id.
        if (RETRYABLE.has(error.code)) return;
        store.remove(item.client_msg_id);
        this.list.failPending(item.client_msg_id, error.message);
      })
      .finally(() => this.inFlight.delete(item.client_msg_id));
  }

  async upload() {
    const file = this.fileInput.files[0];
    this.fileInput.value = '';
    if (!file || !this.session) return;
    this.showError(null);
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const { attachment } = await api(this.server, `/sessions/${this.session.id}/attachments`, {
        token: store.token, method: 'POST', form,
      });
      this.enqueue({
        client_msg_id: randomId(),
        session_id: this.session.id,
        attachment_id: attachment.id,
        label: `File: ${attachment.file_name}`,
      });
    } catch (error) {
      if (error.code === 'network' && !(await this.mayRun(true))) return;
      const reasons = {
        404: 'Sending files is not available here.',
        413: 'That file is too large.',
      };
      this.showError(reasons[error.status] || `The file could not be sent: ${error.message}`);
    }
  }

  download(attachment) {
    download(this.server, store.token, attachment).catch((error) => this.showError(error.message));
  }

  end() {
    if (!this.session) return;
    this.socket
      .request({ type: 'session.end', session_id: this.session.id })
      .catch((error) => this.showError(`The chat could not be ended: ${error.message}`));
  }

  choose(rating) {
    this.rating = rating;
    this.stars.forEach((star, i) => {
      star.setAttribute('aria-pressed', String(i + 1 === rating));
      star.classList.toggle('on', i < rating);
    });
  }

  rate(event) {
    event.preventDefault();
    if (!this.rating) {
      this.showError('Choose from 1 to 5 stars first.');
      return;
    }
    this.showError(null);
    const frame = { type: 'session.rate', session_id: this.session.id, rating: this.rating };
    const comment = this.comment.value.trim();
    if (comment) frame.comment = comment;
    this.socket.request(frame).catch((error) => {
      if (error.code === 'conflict') {
        this.phase = 'rated';
        this.render();
      } else {
        this.showError(`The rating could not be sent: ${error.message}`);
      }
    });
  }
}

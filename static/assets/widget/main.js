// The visitor's chat widget (SPEC sections 7 and 14). It lives in a shadow root so the
// host page's styles cannot break it and its styles cannot leak out.
//
// Before a chat starts the widget asks whether anyone can answer; when nobody can (closed,
// or nobody online) its start form becomes a "leave a message" form, and a visitor who
// has waited long in the queue is offered the same. A message left makes an `offline`
// session that is answered by e-mail, or here when the visitor comes back.
//
// Robustness on bad networks comes from three pieces: the socket reconnects by itself;
// after every (re)connect the conversation is resumed from the last seq shown; and every
// message goes through the persisted outbox (outbox.js).

import { h, replace, randomId, showAlert } from '../lib/dom.js';
import { Socket } from '../lib/socket.js';
import { MessageList } from '../lib/messages.js';
import { api, download } from '../lib/api.js';
import { tokenAccepted } from '../lib/login.js';
import { store } from './store.js';
import { buildView } from './view.js';
import { Availability } from './availability.js';
import { Outbox, retryable } from './outbox.js';
import { Typing } from './typing.js';
import { nobodyFree, statusText } from './status.js';
import { requestTranscript } from './transcript.js';

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
    // What to ask once connected: start a chat or leave a message (a function, or null).
    this.whenGreeted = null;
    this.availability = new Availability(this.server, () => this.render());
    // The visitor of a waiting session chose to leave a message instead.
    this.leaving = false;
    this.justLeft = false;
    this.rating = 0;
    this.unread = 0;
    this.lastReadSent = 0;
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
    this.outbox = new Outbox({ socket: this.socket, list: this.list });
    Object.assign(this, buildView(this, root));
    this.typingState = new Typing({ socket: this.socket, line: this.typing });
    this.nameInput.value = store.contact.name || '';
    this.emailInput.value = store.contact.email || '';
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
    // A conversation about to be resumed needs no answer; one to be started does.
    if (this.phase === 'rated' || (this.phase === 'intro' && !store.sessionId)) this.availability.check();
    const target = this.writing ? this.input : this.startForm.querySelector('input, button');
    if (target && !target.closest('[hidden]')) target.focus();
  }

  /** A new chat can be started from here (first visit, or after rating the last one). */
  get starting() {
    return this.phase === 'intro' || this.phase === 'rated';
  }

  /** The visitor can write into the conversation: live, waiting, or left as a message. */
  get writing() {
    return (this.phase === 'chat' && !this.leaving) || this.phase === 'offline';
  }

  /** The start form is the "leave a message" form. */
  get offersLeaving() {
    return this.phase === 'chat' ? this.leaving : this.starting && this.availability.closed !== null;
  }

  render() {
    const phase = this.phase;
    const known = store.token !== null;
    const leaving = this.offersLeaving;
    const { closed } = this.availability;
    const canWait = this.starting && (!closed || closed.canWait);
    this.startForm.hidden = !this.starting && !leaving;
    this.leave.show(leaving, this.startForm, this.waitHint);
    this.details.hidden = !leaving && (known || !this.askDetails);
    replace(this.intro, leaving
      ? "Leave us a message and we'll reply by e-mail."
      : 'Questions? Write to us and a person will answer.');
    this.waitHint.hidden = !leaving || !canWait;
    this.startButton.hidden = !canWait;
    this.startButton.className = leaving ? 'secondary' : 'primary';
    // Waiting needs neither the e-mail address nor the message the form asks for.
    this.startButton.formNoValidate = leaving;
    this.keepWaitingButton.hidden = !(phase === 'chat' && this.leaving);
    this.list.el.hidden = phase === 'intro' || phase === 'refused' || (phase === 'chat' && this.leaving);
    this.refusal.hidden = phase !== 'refused';
    this.composer.hidden = !this.writing;
    this.endButton.hidden = !this.writing;
    this.leaveInstead.hidden = !this.mayLeaveInstead();
    this.endButton.parentElement.hidden = this.endButton.hidden && this.leaveInstead.hidden;
    this.ratingForm.hidden = phase !== 'ended';
    this.thanks.hidden = phase !== 'rated';
    const over = phase === 'ended' || phase === 'rated';
    this.transcript.show(over, this.panel, this.composer, store.contact.email);
    if (!this.writing) this.typingState.clear();
    this.renderStatus();
  }

  /**
   * A waiting visitor may leave a message instead once nobody is free, or once they
   * have waited longer than the server's leave_message_after_secs.
   */
  mayLeaveInstead() {
    const session = this.session;
    if (this.phase !== 'chat' || this.leaving || !session || session.status !== 'waiting') return false;
    return (this.queue && nobodyFree(this.queue)) || this.availability.waitedLong(session);
  }

  renderStatus() {
    replace(this.status, statusText({
      phase: this.phase,
      session: this.session,
      queue: this.queue,
      closed: this.availability.closed,
      justLeft: this.justLeft,
      specialistOnline: this.specialistOnline,
      transferring: this.transferring,
    }));
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
    this.availability.check();
    this.showError('Your earlier chat is no longer available. You can start a new one.');
  }

  showError(text) {
    showAlert(this.error, text);
  }

  /** The start form's two buttons: start a chat, or send the message left. */
  submitStart(event) {
    event.preventDefault();
    if (this.leave.sends(event.submitter)) this.leaveMessage();
    else this.start();
  }

  async start() {
    this.showError(null);
    this.startButton.disabled = true;
    try {
      if (!(await this.mayRun())) return;
      await this.ensureToken();
      store.sessionId = null;
      this.session = null;
      this.list.clear();
      this.lastReadSent = 0;
      this.whenConnected(() => this.requestStart());
    } catch (error) {
      if (error.code === 'network' && !(await this.mayRun(true))) return;
      this.showError(error.message);
    } finally {
      this.startButton.disabled = false;
    }
  }

  /** A visitor without a token becomes one, with the name and e-mail the form shows. */
  async ensureToken() {
    if (store.token) return;
    const details = {};
    if (!this.details.hidden) {
      const name = this.nameInput.value.trim();
      const email = this.emailInput.value.trim();
      if (name) details.name = name;
      if (email) details.email = email;
      store.contact = details;
    }
    const { token } = await api(this.server, '/visitors', { method: 'POST', json: details });
    store.token = token;
  }

  /** Runs `action` now when connected, else once the connection has said hello. */
  whenConnected(action) {
    if (this.socket.isOpen) {
      action();
      return;
    }
    this.whenGreeted = action;
    this.socket.start();
  }

  requestStart() {
    const metadata = { page_title: document.title };
    if (document.referrer) metadata.referrer = document.referrer;
    this.socket
      .request({ type: 'session.start', page_url: location.href, metadata })
      .catch((error) => {
        // Outside business hours: the refusal says when it opens; a message can be left.
        if (error.code === 'conflict') {
          this.availability.refused(error.message);
          this.render();
          return;
        }
        this.showError(`The chat could not start: ${error.message}`);
      });
  }

  /** "Leave a message instead", from the queue. */
  offerLeaving() {
    this.leaving = true;
    this.showError(null);
    this.render();
    (this.emailInput.value ? this.leave.body : this.emailInput).focus();
  }

  keepWaiting() {
    this.leaving = false;
    this.render();
    this.input.focus();
  }

  async leaveMessage() {
    this.showError(null);
    this.leave.button.disabled = true;
    try {
      if (!(await this.mayRun())) return;
      await this.ensureToken();
    } catch (error) {
      if (error.code === 'network' && !(await this.mayRun(true))) return;
      this.showError(error.message);
      return;
    } finally {
      this.leave.button.disabled = false;
    }
    const frame = this.leave.request(this.leaving ? this.session.id : null);
    store.contact = { name: frame.name, email: frame.email };
    this.whenConnected(() => this.sendLeave(frame));
  }

  sendLeave(frame) {
    // Disabled until the answer, so a second click does not leave the message twice.
    this.leave.button.disabled = true;
    this.socket
      .request(frame)
      .catch((error) => this.showError(`Your message could not be sent: ${error.message}`))
      .finally(() => { this.leave.button.disabled = false; });
  }

  /** The message was left: the session is offline, and its messages are fetched. */
  onLeft(session) {
    this.leaving = false;
    this.queue = null;
    this.leave.clear();
    this.adopt(session);
    this.justLeft = true;
    this.renderStatus();
    this.resume(session.id);
  }

  emailTranscript(email) {
    if (email) store.contact = { ...store.contact, email };
    return requestTranscript(this.server, store.token, this.session.id, email);
  }

  onHello(frame) {
    const stored = store.sessionId;
    const open = frame.sessions.find((session) => session.id === stored) || frame.sessions[0];
    const id = stored || (open && open.id);
    const action = this.whenGreeted;
    this.whenGreeted = null;
    if (id) this.resume(id);
    else if (action) action();
  }

  resume(sessionId) {
    this.socket
      .request({ type: 'session.resume', session_id: sessionId, after_seq: this.list.lastSeq })
      .catch((error) => {
        if (retryable(error)) return;
        // The conversation is gone (or not ours): start afresh rather than get stuck.
        store.sessionId = null;
        this.session = null;
        this.phase = 'intro';
        this.render();
        this.availability.check();
      });
  }

  adopt(session) {
    if (this.session && this.session.id !== session.id) this.list.clear();
    this.session = session;
    store.sessionId = session.id;
    if (session.status === 'waiting' || session.status === 'active') this.phase = 'chat';
    else if (session.status === 'offline') this.phase = 'offline';
    else if (session.status === 'ended') this.phase = session.rating ? 'rated' : 'ended';
    else this.phase = 'intro';
    if (session.status !== 'waiting') this.leaving = false;
    if (session.status !== 'offline') this.justLeft = false;
    this.availability.watch(session);
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
        this.outbox.flush(this.session.id, this.writing);
        return this.markRead();
      case 'queue.update':
        if (!this.isCurrent(frame.session_id)) return;
        this.queue = frame;
        return this.render();
      case 'session.assigned':
        if (!this.isCurrent(frame.session_id)) return;
        this.transferring = false;
        this.specialistOnline = true;
        return this.adopt({ ...this.session, status: 'active', specialist: frame.specialist });
      case 'session.transferred':
        if (!this.isCurrent(frame.session_id)) return;
        this.transferring = true;
        this.queue = null;
        return this.adopt({ ...this.session, status: 'waiting' });
      case 'session.offline':
        return this.onLeft(frame.session);
      case 'presence':
        if (!this.isCurrent(frame.session_id) || frame.participant.type !== 'specialist') return;
        this.specialistOnline = frame.online;
        return this.renderStatus();
      case 'message.ack':
      case 'message.new':
        return this.onMessage(frame);
      case 'typing':
        if (this.isCurrent(frame.session_id) && frame.from.type !== 'visitor') this.typingState.show(frame);
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
    if (clientMsgId || message.client_msg_id) this.outbox.acknowledged(clientMsgId || message.client_msg_id);
    if (!this.isCurrent(message.session_id)) return;
    const fresh = this.list.add(message);
    if (message.sender.type === 'visitor') return;
    this.typingState.clear();
    if (fresh && this.panel.hidden) {
      this.unread += 1;
      this.badge.textContent = String(this.unread);
      this.badge.hidden = false;
    }
    this.markRead();
  }

  markRead() {
    if (!this.session || this.panel.hidden || document.visibilityState !== 'visible') return;
    const seq = this.list.lastSeqFromOthers();
    if (seq <= this.lastReadSent) return;
    if (this.socket.send({ type: 'read', session_id: this.session.id, seq })) this.lastReadSent = seq;
  }

  onTyping() {
    if (this.session && this.writing) this.typingState.typed(this.session.id);
  }

  send() {
    const body = this.input.value.trim();
    if (!body || !this.session || !this.writing) return;
    this.input.value = '';
    this.typingState.stop();
    this.outbox.add({ client_msg_id: randomId(), session_id: this.session.id, body });
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
      this.outbox.add({
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

// A conversation's message list, shared by the widget and the console. Messages are
// kept in seq order whatever order they arrive in (acks, live events and resumes race),
// each appears once (keyed by seq; a pending one by its client_msg_id), and every body
// goes in as text.

import { h, icon, formatTime } from './dom.js';

const SENDER_LABELS = { visitor: 'Visitor', specialist: 'Specialist', bot: 'Bot', system: '' };

/**
 * new MessageList({label, isMine(message), onAttachment(attachment)})
 * `el` is the <ol> to place in the page.
 */
export class MessageList {
  constructor({ label, isMine, onAttachment }) {
    this.isMine = isMine;
    this.onAttachment = onAttachment;
    this.readUpTo = 0;
    this.el = h('ol', { class: 'messages', 'aria-label': label, tabindex: '0' });
  }

  get lastSeq() {
    const all = this.el.querySelectorAll('li[data-seq]');
    return all.length ? Number(all[all.length - 1].dataset.seq) : 0;
  }

  /** Highest seq of a message someone else wrote (what "read" should report). */
  lastSeqFromOthers() {
    const items = this.el.querySelectorAll('li[data-seq]:not(.mine)');
    return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
  }

  clear() {
    this.el.replaceChildren();
    this.readUpTo = 0;
  }

  /** Adds or replaces a stored message; returns whether it was new. */
  add(message) {
    const stick = this.nearBottom();
    const item = this.render(message);
    const existing = this.el.querySelector(`li[data-seq="${message.seq}"]`);
    const pending = message.client_msg_id && this.pendingItem(message.client_msg_id);
    if (pending) pending.remove();
    if (existing) {
      existing.replaceWith(item);
      return false;
    }
    const after = [...this.el.querySelectorAll('li[data-seq]')].find(
      (li) => Number(li.dataset.seq) > message.seq,
    );
    this.el.insertBefore(item, after || this.firstPending());
    if (stick || this.isMine(message)) this.scrollToEnd();
    return true;
  }

  /** Shows a message that is not stored yet (sending, or waiting for the network). */
  addPending(clientMsgId, body) {
    if (this.pendingItem(clientMsgId)) return;
    const item = h(
      'li',
      { class: 'msg mine pending', 'data-client-msg-id': clientMsgId },
      h('span', { class: 'who' }, 'You'),
      h('p', { class: 'body' }, body),
      h('span', { class: 'meta' }, h('span', { class: 'tick' }, 'Sending…')),
    );
    this.el.append(item);
    this.scrollToEnd();
  }

  failPending(clientMsgId, reason) {
    const item = this.pendingItem(clientMsgId);
    if (!item) return;
    item.classList.add('failed');
    item.querySelector('.tick').textContent = `Not sent: ${reason}`;
  }

  /** The other side has read everything up to `seq`. */
  markRead(seq) {
    this.readUpTo = Math.max(this.readUpTo, seq);
    for (const li of this.el.querySelectorAll('li.mine[data-seq]')) {
      if (Number(li.dataset.seq) <= this.readUpTo) setTick(li, true);
    }
  }

  render(message) {
    const mine = this.isMine(message);
    const classes = ['msg', `from-${message.sender.type}`, `kind-${message.kind}`];
    if (mine) classes.push('mine');
    const item = h('li', { class: classes.join(' '), 'data-seq': message.seq });
    const who = senderLabel(message, mine);
    if (who) item.append(h('span', { class: 'who' }, who));
    if (message.body) item.append(h('p', { class: 'body' }, message.body));
    if (message.attachment) item.append(this.renderAttachment(message.attachment));
    const meta = h(
      'span',
      { class: 'meta' },
      h('time', { datetime: message.created_at }, formatTime(message.created_at)),
    );
    item.append(meta);
    if (mine && message.kind !== 'note') {
      meta.append(' ', h('span', { class: 'tick' }));
      setTick(item, message.seq <= this.readUpTo);
    }
    return item;
  }

  renderAttachment(attachment) {
    const size = `${Math.max(1, Math.round(attachment.size_bytes / 1024))} KB`;
    return h(
      'button',
      {
        type: 'button',
        class: 'file',
        onclick: () => this.onAttachment && this.onAttachment(attachment),
      },
      icon('clip'),
      ` ${attachment.file_name} (${size})`,
    );
  }

  pendingItem(clientMsgId) {
    return [...this.el.querySelectorAll('li.pending')].find(
      (li) => li.dataset.clientMsgId === clientMsgId,
    );
  }

  firstPending() {
    return this.el.querySelector('li.pending');
  }

  nearBottom() {
    return this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 48;
  }

  scrollToEnd() {
    this.el.scrollTop = this.el.scrollHeight;
  }
}

function senderLabel(message, mine) {
  if (message.kind === 'note') return `Note · ${message.sender.name || 'Specialist'}`;
  if (message.kind === 'system' || message.sender.type === 'system') return '';
  if (mine) return 'You';
  if (message.sender.type === 'bot') return message.sender.name ? `Bot · ${message.sender.name}` : 'Bot';
  return message.sender.name || SENDER_LABELS[message.sender.type];
}

function setTick(item, read) {
  const tick = item.querySelector('.tick');
  if (!tick) return;
  tick.textContent = read ? '✓✓' : '✓';
  tick.setAttribute('aria-label', read ? 'Read' : 'Sent');
  tick.classList.toggle('read', read);
}

// The visitor's messages on their way to the server. Each is kept in localStorage
// (store.outbox) until its ack, so anything typed while offline, or not yet acknowledged
// when the page was closed, is sent again after the next resume with the same
// client_msg_id, and the server's idempotency makes sure it is stored once.

import { store } from './store.js';

// Failures after which the message stays in the outbox for the next resume.
const RETRYABLE = new Set(['disconnected', 'timeout']);

/** Whether a failed request may succeed when asked again after a reconnect. */
export function retryable(error) {
  return RETRYABLE.has(error.code);
}

export class Outbox {
  /** socket: the widget's Socket; list: the conversation's MessageList. */
  constructor({ socket, list }) {
    this.socket = socket;
    this.list = list;
    this.inFlight = new Set();
  }

  /** A new message ({client_msg_id, session_id, body? | attachment_id + label}). */
  add(item) {
    store.push(item);
    this.list.addPending(item.client_msg_id, item.body || item.label);
    this.transmit(item);
  }

  /** The server stored it. */
  acknowledged(clientMsgId) {
    store.remove(clientMsgId);
  }

  /**
   * Sends every stored message of `sessionId` that has no ack yet, in order, when the
   * conversation still takes messages (`open`); otherwise shows them as not sent. Those
   * of other conversations are dropped.
   */
  flush(sessionId, open) {
    for (const item of store.outbox) {
      if (item.session_id !== sessionId) {
        store.remove(item.client_msg_id);
      } else if (!open) {
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
        if (retryable(error)) return;
        store.remove(item.client_msg_id);
        this.list.failPending(item.client_msg_id, error.message);
      })
      .finally(() => this.inFlight.delete(item.client_msg_id));
  }
}

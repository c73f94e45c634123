// Whether anyone can answer now (SPEC section 14). The widget asks before a chat starts:
// a visitor outside business hours, or while nobody is online, would only wait in vain,
// so they are offered to leave a message instead of the queue; and a visitor who has
// waited longer than the server's leave_message_after_secs is offered the same.
//
// The call is readable from every site (like /embedding), so it needs no other check
// first. When it cannot be answered the widget behaves as it did before there were
// business hours; the server still refuses to start a closed chat.

import { api } from '../lib/api.js';

export class Availability {
  /** onChange() is called when the answer changes what the widget should offer. */
  constructor(server, onChange) {
    this.server = server;
    this.onChange = onChange;
    this.answer = null;
    // Why the widget offers the form instead of a chat ({text, canWait}), or null.
    this.closed = null;
    // The visitor's waiting session, whose wait is timed.
    this.waiting = null;
    this.timer = null;
  }

  async check() {
    let answer;
    try {
      answer = await api(this.server, '/availability');
    } catch {
      answer = null;
    }
    this.closed = closedReason(answer);
    if (answer) {
      this.answer = answer;
      this.watch(this.waiting);
    }
    this.onChange();
  }

  /** session.start was refused: its message ("the chat is closed; it opens at …") says why. */
  refused(message) {
    this.closed = { text: message.charAt(0).toUpperCase() + message.slice(1), canWait: false };
  }

  /** Whether a waiting session has waited long enough to be offered to leave a message. */
  waitedLong(session) {
    if (!this.answer) return false;
    return Date.now() >= leaveAt(session, this.answer);
  }

  /**
   * Calls onChange when the waiting `session` (or null: none) has waited long enough;
   * the setting comes with an answer, so one is asked for when there is none yet.
   */
  watch(session) {
    clearTimeout(this.timer);
    this.waiting = session && session.status === 'waiting' ? session : null;
    if (!this.waiting) return;
    if (!this.answer) {
      this.check();
      return;
    }
    const due = leaveAt(this.waiting, this.answer) - Date.now();
    if (due > 0) this.timer = setTimeout(this.onChange, due);
  }
}

function leaveAt(session, answer) {
  return Date.parse(session.created_at) + answer.leave_message_after_secs * 1000;
}

/**
 * Why the widget offers the form instead of a chat, or null when a chat can start.
 * Waiting stays possible while it is open but nobody is online, since someone may come
 * online any moment.
 */
function closedReason(answer) {
  if (!answer || answer.open) return null;
  if (answer.reason === 'outside_hours') {
    const opens = answer.next_open_at ? ` We open at ${localTime(answer.next_open_at)}.` : '';
    return { text: `We're closed right now.${opens}`, canWait: false };
  }
  return { text: 'Nobody is online right now.', canWait: true };
}

function localTime(iso) {
  return new Date(iso).toLocaleString([], {
    weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
  });
}

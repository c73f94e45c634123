// "… is typing" both ways. The visitor's own is sent at most every 3 s while they type
// and withdrawn after 4 s without a key; the other side's is shown until their message
// arrives or 6 s pass without a repeat (the server forgets one after 6 s too).

const REPEAT_MS = 3000;
const IDLE_MS = 4000;
const SHOWN_MS = 6000;

export class Typing {
  /** socket: the widget's Socket; line: the element that shows the other side's typing. */
  constructor({ socket, line }) {
    this.socket = socket;
    this.line = line;
    this.sentAt = 0;
    this.sessionId = null;
  }

  /** The visitor pressed a key in the conversation `sessionId`. */
  typed(sessionId) {
    const now = Date.now();
    if (now - this.sentAt > REPEAT_MS
      && this.socket.send({ type: 'typing', session_id: sessionId, is_typing: true })) {
      this.sentAt = now;
      this.sessionId = sessionId;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), IDLE_MS);
  }

  /** The visitor stopped (sent their message, or went idle). */
  stop() {
    clearTimeout(this.idleTimer);
    if (!this.sentAt) return;
    this.sentAt = 0;
    this.socket.send({ type: 'typing', session_id: this.sessionId, is_typing: false });
  }

  /** A typing frame from the specialist or the bot. */
  show(frame) {
    clearTimeout(this.shownTimer);
    if (!frame.is_typing) {
      this.clear();
      return;
    }
    const who = frame.from.name || (frame.from.type === 'bot' ? 'The bot' : 'The specialist');
    this.line.textContent = `${who} is typing…`;
    this.shownTimer = setTimeout(() => this.clear(), SHOWN_MS);
  }

  clear() {
    this.line.textContent = '';
  }
}

// What the widget remembers across reloads, in localStorage: the visitor's token, the
// open conversation, whether the panel was open, the name and e-mail the visitor gave
// (so the message and transcript forms do not ask twice), and the outbox of messages
// that were typed but not yet acknowledged (so a reload or a lost connection never loses
// them and their client_msg_id stays the same when they are sent again).

const PREFIX = 'switchboard.widget.';

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or disabled (private mode): the widget still works for this page view.
  }
}

export const store = {
  get token() { return read('token', null); },
  set token(value) { write('token', value); },
  get sessionId() { return read('session', null); },
  set sessionId(value) { write('session', value); },
  get open() { return read('open', false); },
  set open(value) { write('open', value); },
  /** {name?, email?} as the visitor typed them. */
  get contact() { return read('contact', {}); },
  set contact(value) { write('contact', value); },

  /** Messages waiting for their ack: [{client_msg_id, session_id, body, attachment_id?}]. */
  get outbox() { return read('outbox', []); },
  push(item) { write('outbox', [...this.outbox, item]); },
  remove(clientMsgId) {
    write('outbox', this.outbox.filter((item) => item.client_msg_id !== clientMsgId));
  },
  forget() {
    for (const key of ['token', 'session', 'open', 'contact', 'outbox']) write(key, null);
  },
};

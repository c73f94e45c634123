// "Email transcript" at the end of a chat (SPEC section 14): the visitor asks for the
// conversation by e-mail, to the address they give or, left empty, the one the server
// has for them. The server sends one per chat; its refusal is shown as it words it.

import { h } from '../lib/dom.js';
import { api } from '../lib/api.js';

export class TranscriptForm {
  /** send(email or null) posts the request and resolves when the server accepted it. */
  constructor({ send }) {
    this.email = h('input', { id: 'sb-transcript-email', type: 'email', autocomplete: 'email' });
    this.button = h('button', { type: 'submit', class: 'secondary' }, 'Email transcript');
    this.result = h('p', { class: 'transcript-result', 'aria-live': 'polite' });
    this.el = h(
      'form',
      { class: 'transcript', onsubmit: (event) => this.submit(event, send) },
      h('label', { for: 'sb-transcript-email' }, 'Email'),
      h('div', { class: 'transcript-row' }, this.email, this.button),
      this.result,
    );
  }

  /**
   * Puts the form into `parent` before `before`, prefilled with `email`, or takes it out:
   * it is in the document only at the end of a chat, so before that the start form's
   * field is the one field called Email.
   */
  show(shown, parent, before, email) {
    if (!shown) {
      this.el.remove();
      return;
    }
    if (this.el.isConnected) return;
    this.email.value = email || '';
    this.result.textContent = '';
    this.button.disabled = false;
    parent.insertBefore(this.el, before);
  }

  async submit(event, send) {
    event.preventDefault();
    this.button.disabled = true;
    this.result.textContent = '';
    try {
      await send(this.email.value.trim() || null);
      this.result.textContent = 'Transcript sent';
    } catch (error) {
      this.result.textContent = error.message;
      this.button.disabled = false;
    }
  }
}

/** POST /sessions/{id}/transcript/email with the visitor's token. */
export function requestTranscript(server, token, sessionId, email) {
  return api(server, `/sessions/${sessionId}/transcript/email`, {
    token, method: 'POST', json: email ? { email } : {},
  });
}

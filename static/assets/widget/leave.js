// The "leave a message" part of the widget's start form (SPEC section 14): phone, "call
// me back", the message and its button, below the form's own Name and Email. The fields
// are in the document only while the form is offered, so the page never holds two fields
// called Message (the conversation's box is the other) and Enter in a field submits the
// button that is showing.

import { h } from '../lib/dom.js';

const EMAIL_HINTS = {
  chat: 'Optional, so we can follow up.',
  leave: "We'll reply to this address.",
};

export class LeaveFields {
  /** nameInput, emailInput, emailHint: the start form's own fields, shared by both uses. */
  constructor({ nameInput, emailInput, emailHint }) {
    this.nameInput = nameInput;
    this.emailInput = emailInput;
    this.emailHint = emailHint;
    this.phone = h('input', {
      id: 'sb-phone', name: 'phone', type: 'tel', autocomplete: 'tel', maxlength: '40',
    });
    this.callback = h('input', { id: 'sb-callback', name: 'callback', type: 'checkbox' });
    this.body = h('textarea', { id: 'sb-leave-body', name: 'body', rows: '4', maxlength: '4000', required: true });
    this.button = h('button', { type: 'submit', class: 'primary' }, 'Send message');
    this.el = h(
      'div',
      { class: 'leave' },
      h('label', { for: 'sb-phone' }, 'Phone (optional)'),
      this.phone,
      h('span', { class: 'check' }, this.callback, h('label', { for: 'sb-callback' }, 'Call me back')),
      h('label', { for: 'sb-leave-body' }, 'Message'),
      this.body,
      this.button,
    );
  }

  /** Puts the fields into `form` before `before`, or takes them out. */
  show(shown, form, before) {
    this.emailInput.required = shown;
    this.emailHint.textContent = EMAIL_HINTS[shown ? 'leave' : 'chat'];
    if (shown && !this.el.isConnected) form.insertBefore(this.el, before);
    if (!shown) this.el.remove();
  }

  /** Whether `submitter` is this form's button (the start form has its own). */
  sends(submitter) {
    return submitter === this.button;
  }

  /** The message.leave request, for the visitor's waiting session when there is one. */
  request(sessionId) {
    const frame = {
      type: 'message.leave',
      email: this.emailInput.value.trim(),
      body: this.body.value.trim(),
    };
    const name = this.nameInput.value.trim();
    const phone = this.phone.value.trim();
    if (name) frame.name = name;
    if (phone) frame.phone = phone;
    if (this.callback.checked) frame.callback = true;
    if (sessionId) frame.session_id = sessionId;
    return frame;
  }

  clear() {
    this.phone.value = '';
    this.callback.checked = false;
    this.body.value = '';
  }
}

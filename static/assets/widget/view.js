// The widget's elements: launcher, panel, pre-chat form (which also leaves a message when
// nobody can answer), conversation, composer, rating and transcript. Every control
// carries the accessible name SPEC sections 7 and 14 give it. Events go to the widget's
// methods; the widget keeps the returned elements to update them.

import { h, icon } from '../lib/dom.js';
import { LeaveFields } from './leave.js';
import { TranscriptForm } from './transcript.js';

export function buildView(widget, root) {
  const badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  const launcher = h(
    'button',
    {
      type: 'button',
      class: 'launcher',
      'aria-label': 'Chat with us',
      'aria-expanded': 'false',
      'aria-controls': 'sb-panel',
      onclick: () => widget.toggle(panel.hidden),
    },
    icon('chat'),
    h('span', { class: 'launcher-text', 'aria-hidden': 'true' }, 'Chat with us'),
    badge,
  );

  const status = h('p', { class: 'status', role: 'status' });
  const connection = h('p', { class: 'connection', 'aria-live': 'polite', hidden: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  // Why the chat cannot start on this site; the status line above says that it cannot.
  const refusal = h(
    'p',
    { class: 'refusal', hidden: true },
    'This website is not one of the sites this chat service is set up for. '
      + "Please contact the website's owner another way.",
  );

  const nameInput = h('input', { id: 'sb-name', name: 'name', autocomplete: 'name', maxlength: '100' });
  const emailInput = h('input', {
    id: 'sb-email', name: 'email', type: 'email', autocomplete: 'email', 'aria-describedby': 'sb-email-hint',
  });
  const emailHint = h('span', { id: 'sb-email-hint', class: 'hint' });
  const details = h(
    'div',
    { class: 'details' },
    h('label', { for: 'sb-name' }, 'Name'),
    nameInput,
    h('label', { for: 'sb-email' }, 'Email'),
    emailInput,
    emailHint,
  );
  const leave = new LeaveFields({ nameInput, emailInput, emailHint });
  const intro = h('p', { class: 'intro' });
  const waitHint = h('p', { class: 'hint' }, 'Or wait here until someone is free:');
  const startButton = h('button', { type: 'submit', class: 'primary' }, 'Start chat');
  const keepWaitingButton = h('button', {
    type: 'button', class: 'secondary', onclick: () => widget.keepWaiting(),
  }, 'Keep waiting');
  const startForm = h(
    'form',
    { class: 'start', onsubmit: (event) => widget.submitStart(event) },
    intro,
    details,
    waitHint,
    startButton,
    keepWaitingButton,
  );

  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const input = h('textarea', {
    id: 'sb-message', rows: '1', maxlength: '4000', placeholder: 'Write a message…',
    oninput: () => widget.onTyping(),
    onkeydown: (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        widget.send();
      }
    },
  });
  const fileInput = h('input', {
    type: 'file', hidden: true, tabindex: '-1', onchange: () => widget.upload(),
  });
  const composer = h(
    'form',
    { class: 'composer', onsubmit: (event) => { event.preventDefault(); widget.send(); } },
    h('label', { for: 'sb-message', class: 'visually-hidden' }, 'Message'),
    input,
    h('button', {
      type: 'button', class: 'icon', 'aria-label': 'Attach file', onclick: () => fileInput.click(),
    }, icon('clip')),
    fileInput,
    h('button', { type: 'submit', class: 'primary' }, 'Send'),
  );
  const endButton = h('button', { type: 'button', class: 'end', onclick: () => widget.end() }, 'End chat');
  const leaveInstead = h('button', {
    type: 'button', class: 'secondary', onclick: () => widget.offerLeaving(),
  }, 'Leave a message instead');

  const stars = [1, 2, 3, 4, 5].map((n) => h('button', {
    type: 'button',
    class: 'star',
    'aria-label': n === 1 ? '1 star' : `${n} stars`,
    'aria-pressed': 'false',
    onclick: () => widget.choose(n),
  }, '★'));
  const comment = h('textarea', { id: 'sb-comment', rows: '2', maxlength: '2000' });
  const ratingForm = h(
    'form',
    { class: 'rating', onsubmit: (event) => widget.rate(event) },
    h('fieldset', {},
      h('legend', {}, 'How was this conversation?'),
      h('div', { class: 'stars' }, stars)),
    h('label', { for: 'sb-comment' }, 'Comment (optional)'),
    comment,
    h('button', { type: 'submit', class: 'primary' }, 'Send rating'),
  );
  const thanks = h('p', { class: 'thanks' }, 'Thank you for your feedback!');
  const transcript = new TranscriptForm({ send: (email) => widget.emailTranscript(email) });

  const panel = h(
    'section',
    { id: 'sb-panel', class: 'panel', role: 'dialog', 'aria-labelledby': 'sb-title', hidden: true },
    h('header', {},
      h('h2', { id: 'sb-title' }, widget.title),
      h('button', {
        type: 'button', class: 'icon close', 'aria-label': 'Minimise chat', onclick: () => widget.toggle(false),
      }, icon('close'))),
    status,
    connection,
    error,
    refusal,
    startForm,
    widget.list.el,
    typing,
    ratingForm,
    thanks,
    composer,
    h('div', { class: 'actions' }, leaveInstead, endButton),
  );
  root.append(h('div', { class: 'switchboard' }, panel, launcher));
  return {
    badge,
    launcher,
    status,
    connection,
    error,
    refusal,
    nameInput,
    emailInput,
    details,
    leave,
    intro,
    waitHint,
    startButton,
    keepWaitingButton,
    startForm,
    typing,
    input,
    fileInput,
    composer,
    endButton,
    leaveInstead,
    stars,
    comment,
    ratingForm,
    thanks,
    transcript,
    panel,
  };
}

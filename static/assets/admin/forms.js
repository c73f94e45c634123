// Small pieces the admin forms share: labelled fields, comma lists, error lines and
// buttons for what cannot be undone.

import { alertLine, h, showAlert } from '../lib/dom.js';

export const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export function field(id, label, input) {
  input.id = id;
  return [h('label', { for: id }, label), input];
}

export const problemLine = alertLine;

export function showProblem(line, error) {
  showAlert(line, error?.message);
}

// A button for an action that cannot be undone: the first click only arms it (its text
// and accessible name ask for confirmation), the second runs `action`; a failure shows
// on `problem`.
export function confirmButton({ text, label, confirmText, confirmLabel, problem, action }) {
  const button = h('button', { type: 'button', class: 'danger', 'aria-label': label }, text);
  button.addEventListener('click', async () => {
    if (!button.dataset.armed) {
      button.dataset.armed = 'yes';
      button.textContent = confirmText;
      button.setAttribute('aria-label', confirmLabel);
      return;
    }
    try {
      await action();
    } catch (error) {
      showProblem(problem, error);
    }
  });
  return button;
}

// Small pieces the admin forms share: labelled fields, comma lists, error lines.

import { h } from '../lib/dom.js';

export const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export function field(id, label, input) {
  input.id = id;
  return [h('label', { for: id }, label), input];
}

export function problemLine() {
  return h('p', { class: 'form-error', role: 'alert', hidden: true });
}

export function showProblem(line, error) {
  line.textContent = error ? error.message : '';
  line.hidden = !error;
}

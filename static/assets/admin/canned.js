// Shared canned responses (SPEC section 10): every specialist sees them behind `/` in the
// console; only admins create, change or delete them here.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { confirmButton, field, problemLine, showProblem } from './forms.js';

export class CannedPanel {
  constructor(token) {
    this.token = token;
    this.editing = null;
    this.rows = h('tbody');
    this.problem = problemLine();
    this.shortcut = h('input', { required: true, maxlength: '32', pattern: '[a-z0-9_\\-]{1,32}', placeholder: 'greeting', autocomplete: 'off' });
    this.title = h('input', { required: true, maxlength: '200', autocomplete: 'off' });
    this.body = h('textarea', { required: true, maxlength: '4000', rows: '3', placeholder: 'Hello {{visitor.name}}, this is {{specialist.name}}.' });
    this.heading = h('h3', { id: 'canned-form-heading' }, 'Add a shared canned response');
    this.submit = h('button', { type: 'submit', class: 'primary' }, 'Save canned response');
    this.cancel = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => this.stopEditing() }, 'Cancel editing');
    const form = h(
      'form',
      { class: 'form-grid', 'aria-labelledby': 'canned-form-heading' },
      this.heading,
      h('span'),
      field('canned-shortcut', 'Shortcut', this.shortcut),
      field('canned-title', 'Title', this.title),
      field('canned-body', 'Text', this.body),
      h('p', { class: 'muted hint' }, 'Placeholders: {{visitor.name}}, {{specialist.name}}, {{session.number}}'),
      h('div', { class: 'row-actions' }, this.submit, this.cancel),
    );
    form.addEventListener('submit', (event) => this.save(event));
    this.form = form;
    this.el = h(
      'section',
      { class: 'card', 'aria-labelledby': 'canned-heading' },
      h('h2', { id: 'canned-heading' }, 'Shared canned responses'),
      this.problem,
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Shortcut', 'Title', 'Text', ''].map((t) => h('th', { scope: 'col' }, t)))),
        this.rows)),
      form,
    );
  }

  async load() {
    try {
      const { canned_responses: all } = await api(location.origin, '/canned-responses', { token: this.token });
      const shared = all.filter((response) => response.shared);
      replace(this.rows, shared.length
        ? shared.map((response) => this.row(response))
        : h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'None yet')));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  row(response) {
    const remove = confirmButton({
      text: 'Delete',
      label: `Delete /${response.shortcut}`,
      confirmText: 'Confirm delete',
      confirmLabel: `Confirm deleting /${response.shortcut}`,
      problem: this.problem,
      action: async () => {
        await api(location.origin, `/canned-responses/${response.id}`, { token: this.token, method: 'DELETE' });
        if (this.editing === response.id) this.stopEditing();
        await this.load();
      },
    });
    return h('tr', {},
      h('td', {}, `/${response.shortcut}`),
      h('td', {}, response.title),
      h('td', { class: 'pre' }, response.body),
      h('td', {}, h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit /${response.shortcut}`, onclick: () => this.edit(response) }, 'Edit'),
        remove)));
  }

  edit(response) {
    this.editing = response.id;
    this.shortcut.value = response.shortcut;
    this.title.value = response.title;
    this.body.value = response.body;
    this.heading.textContent = `Edit /${response.shortcut}`;
    this.submit.textContent = 'Save changes';
    this.cancel.hidden = false;
    this.shortcut.focus();
  }

  stopEditing() {
    this.editing = null;
    this.form.reset();
    this.heading.textContent = 'Add a shared canned response';
    this.submit.textContent = 'Save canned response';
    this.cancel.hidden = true;
  }

  async save(event) {
    event.preventDefault();
    showProblem(this.problem, null);
    const json = { shortcut: this.shortcut.value.trim(), title: this.title.value, body: this.body.value };
    try {
      if (this.editing) {
        await api(location.origin, `/canned-responses/${this.editing}`, { token: this.token, method: 'PATCH', json });
      } else {
        await api(location.origin, '/canned-responses', { token: this.token, method: 'POST', json: { ...json, shared: true } });
      }
      this.stopEditing();
      await this.load();
    } catch (error) {
      showProblem(this.problem, error);
    }
  }
}

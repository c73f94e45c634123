// Managing specialists: create, edit skills, languages, capacity and role, disable and
// enable again (a disabled specialist's tokens stop working at once).

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { field, list, problemLine, showProblem } from './forms.js';

export class SpecialistsPanel {
  constructor(token) {
    this.token = token;
    this.rows = h('tbody');
    this.problem = problemLine();
    this.createForm = this.buildCreate();
    this.editForm = this.buildEdit();
    this.el = h(
      'section',
      { class: 'card wide', 'aria-labelledby': 'specialists-heading' },
      h('h2', { id: 'specialists-heading' }, 'Specialists'),
      this.problem,
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Skills', 'Languages', 'Max chats', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
        this.rows)),
      this.editForm,
      this.createForm,
    );
  }

  buildCreate() {
    this.inputs = {
      name: h('input', { required: true, maxlength: '100' }),
      email: h('input', { type: 'email', required: true }),
      password: h('input', { type: 'password', required: true, minlength: '8', autocomplete: 'new-password' }),
      role: h('select', {}, h('option', { value: 'specialist' }, 'Specialist'), h('option', { value: 'admin' }, 'Admin')),
      skills: h('input', { placeholder: 'billing, returns' }),
      languages: h('input', { value: 'en' }),
      capacity: h('input', { type: 'number', min: '1', max: '100', value: '3' }),
    };
    const i = this.inputs;
    const problem = problemLine();
    const form = h(
      'form',
      { class: 'form-grid', 'aria-labelledby': 'new-specialist-heading' },
      h('h3', { id: 'new-specialist-heading' }, 'Add a specialist'),
      h('span'),
      field('new-name', 'Name', i.name),
      field('new-email', 'Email', i.email),
      field('new-password', 'Password', i.password),
      field('new-role', 'Role', i.role),
      field('new-skills', 'Skills', i.skills),
      field('new-languages', 'Languages', i.languages),
      field('new-capacity', 'Max chats', i.capacity),
      problem,
      h('button', { type: 'submit', class: 'primary' }, 'Create specialist'),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      showProblem(problem, null);
      try {
        await api(location.origin, '/specialists', {
          token: this.token,
          method: 'POST',
          json: {
            name: i.name.value,
            email: i.email.value,
            password: i.password.value,
            role: i.role.value,
            skills: list(i.skills.value),
            languages: list(i.languages.value),
            max_concurrent_chats: Number(i.capacity.value),
          },
        });
        form.reset();
        await this.load();
      } catch (error) {
        showProblem(problem, error);
      }
    });
    return form;
  }

  buildEdit() {
    this.edits = {
      role: h('select', {}, h('option', { value: 'specialist' }, 'Specialist'), h('option', { value: 'admin' }, 'Admin')),
      skills: h('input'),
      languages: h('input'),
      capacity: h('input', { type: 'number', min: '1', max: '100' }),
    };
    const e = this.edits;
    this.editHeading = h('h3', { id: 'edit-specialist-heading' });
    const problem = problemLine();
    const form = h(
      'form',
      { class: 'form-grid card', hidden: true, 'aria-labelledby': 'edit-specialist-heading' },
      this.editHeading,
      h('span'),
      field('edit-role', 'Role', e.role),
      field('edit-skills', 'Skills', e.skills),
      field('edit-languages', 'Languages', e.languages),
      field('edit-capacity', 'Max chats', e.capacity),
      problem,
      h('div', { class: 'row-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save changes'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { form.hidden = true; } }, 'Cancel')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      showProblem(problem, null);
      try {
        await this.change(this.editing.id, {
          role: e.role.value,
          skills: list(e.skills.value),
          languages: list(e.languages.value),
          max_concurrent_chats: Number(e.capacity.value),
        });
        form.hidden = true;
      } catch (error) {
        showProblem(problem, error);
      }
    });
    return form;
  }

  edit(specialist) {
    this.editing = specialist;
    replace(this.editHeading, `Edit ${specialist.name}`);
    this.edits.role.value = specialist.role;
    this.edits.skills.value = specialist.skills.join(', ');
    this.edits.languages.value = specialist.languages.join(', ');
    this.edits.capacity.value = String(specialist.max_concurrent_chats);
    this.editForm.hidden = false;
    this.edits.role.focus();
  }

  async change(id, changes) {
    await api(location.origin, `/specialists/${id}`, { token: this.token, method: 'PATCH', json: changes });
    await this.load();
  }

  async load() {
    try {
      const { specialists } = await api(location.origin, '/specialists', { token: this.token });
      this.specialists = specialists;
      showProblem(this.problem, null);
      replace(this.rows, specialists.map((s) => this.row(s)));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  row(specialist) {
    const toggle = () => this.change(specialist.id, { disabled: !specialist.disabled })
      .catch((error) => showProblem(this.problem, error));
    return h('tr', {},
      h('td', {}, specialist.name),
      h('td', {}, specialist.email),
      h('td', {}, specialist.role),
      h('td', {}, specialist.skills.join(', ')),
      h('td', {}, specialist.languages.join(', ')),
      h('td', {}, String(specialist.max_concurrent_chats)),
      h('td', {}, specialist.disabled ? 'disabled' : 'active'),
      h('td', {}, h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${specialist.name}`, onclick: () => this.edit(specialist) }, 'Edit'),
        h('button', {
          type: 'button',
          class: specialist.disabled ? 'secondary' : 'danger',
          'aria-label': `${specialist.disabled ? 'Enable' : 'Disable'} ${specialist.name}`,
          onclick: toggle,
        }, specialist.disabled ? 'Enable' : 'Disable'))));
  }
}

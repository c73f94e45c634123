// The first run (SPEC section 11): the page behind the one-time link a server logs when
// its database has no admin yet. It creates that admin, then sends them to sign in.

import { alertLine, h, onSubmit, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { field } from './forms.js';

const app = document.getElementById('app');
const token = new URLSearchParams(location.search).get('token') || '';
const query = `/setup?token=${encodeURIComponent(token)}`;

async function boot() {
  try {
    await api(location.origin, query);
    showForm();
  } catch (error) {
    showDone('This setup link does not work', error.message);
  }
}

function showForm() {
  const email = h('input', { type: 'email', autocomplete: 'username', required: true });
  const name = h('input', { autocomplete: 'name', maxlength: 100, required: true });
  const password = h('input', {
    type: 'password', autocomplete: 'new-password', minlength: 8, required: true,
  });
  const error = alertLine();
  const button = h('button', { type: 'submit', class: 'primary' }, 'Create the admin');
  const form = h(
    'form',
    { class: 'login card' },
    h('h1', {}, 'Set up Switchboard'),
    h('p', { class: 'muted' }, 'Create the first admin. This link works once.'),
    field('setup-email', 'Email', email),
    field('setup-name', 'Name', name),
    field('setup-password', 'Password (at least 8 characters)', password),
    error,
    button,
  );
  onSubmit(form, { button, error }, async () => {
    await api(location.origin, query, {
      method: 'POST',
      json: { email: email.value, name: name.value, password: password.value },
    });
    password.value = '';
    showDone('The admin is ready', 'Sign in with the e-mail and password you chose.');
  });
  replace(app, h('main', { class: 'centered' }, form));
  email.focus();
}

function showDone(title, text) {
  document.title = `${title} · Switchboard`;
  replace(app, h('main', { class: 'centered' }, h('section', { class: 'login card' },
    h('h1', {}, title),
    h('p', {}, text),
    h('p', {}, h('a', { href: '/admin' }, 'Admin page'), ' · ', h('a', { href: '/console' }, 'Console')))));
}

boot();

// The first run (SPEC section 11): the page behind the one-time link a server logs when
// its database has no admin yet. It creates that admin, then sends them to sign in.

import { alertLine, h, replace, showAlert } from '../lib/dom.js';
import { api } from '../lib/api.js';

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

function field(id, label, props) {
  return [h('label', { for: id }, label), h('input', { id, required: true, ...props })];
}

function showForm() {
  const [emailLabel, email] = field('setup-email', 'Email', { type: 'email', autocomplete: 'username' });
  const [nameLabel, name] = field('setup-name', 'Name', { autocomplete: 'name', maxlength: 100 });
  const [passwordLabel, password] = field('setup-password', 'Password (at least 8 characters)', {
    type: 'password', autocomplete: 'new-password', minlength: 8,
  });
  const error = alertLine();
  const button = h('button', { type: 'submit', class: 'primary' }, 'Create the admin');
  const form = h(
    'form',
    { class: 'login card' },
    h('h1', {}, 'Set up Switchboard'),
    h('p', { class: 'muted' }, 'Create the first admin. This link works once.'),
    emailLabel, email, nameLabel, name, passwordLabel, password,
    error,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showAlert(error, '');
    button.disabled = true;
    try {
      await api(location.origin, query, {
        method: 'POST',
        json: { email: email.value, name: name.value, password: password.value },
      });
      password.value = '';
      showDone('The admin is ready', 'Sign in with the e-mail and password you chose.');
    } catch (failure) {
      showAlert(error, failure.message);
      button.disabled = false;
    }
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

// Staff sign-in shared by the console and the admin page: the form, and the token kept
// in localStorage (so a reload or a second tab stays signed in) until it expires.

import { alertLine, h, onSubmit } from './dom.js';
import { api } from './api.js';

/** Seconds of slack so a token is not used in its last moments. */
const EXPIRY_MARGIN_SECS = 60;

export function savedLogin(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(key));
    if (!saved || !saved.token) return null;
    const claims = JSON.parse(atob(saved.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    if (claims.exp * 1000 < Date.now() + EXPIRY_MARGIN_SECS * 1000) return null;
    return saved;
  } catch {
    return null;
  }
}

export function saveLogin(key, login) {
  if (login) localStorage.setItem(key, JSON.stringify(login));
  else localStorage.removeItem(key);
}

/**
 * The sign-in form. onLogin({token, specialist}) is called after a successful login;
 * `check(specialist)` may return a reason to refuse (e.g. not an admin).
 */
export function loginForm({ title, onLogin, check = () => null }) {
  const email = h('input', { id: 'login-email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'login-password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const error = alertLine();
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'login card' },
    h('h1', {}, title),
    h('label', { for: 'login-email' }, 'Email'),
    email,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    button,
  );
  onSubmit(form, { button, error }, async () => {
    const login = await api(location.origin, '/auth/login', {
      method: 'POST',
      json: { email: email.value, password: password.value },
    });
    const refusal = check(login.specialist);
    if (refusal) throw new Error(refusal);
    password.value = '';
    onLogin(login);
  });
  return form;
}

/**
 * Whether the server still accepts a token (false only on a definite 401: expired,
 * disabled account, or a server that no longer knows it). Any caller may list sessions.
 */
export async function tokenAccepted(base, token) {
  try {
    await api(base, '/sessions?limit=1', { token });
    return true;
  } catch (error) {
    return error.status !== 401;
  }
}

export function socketUrl(token) {
  const url = new URL('/ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('token', token);
  return url.href;
}

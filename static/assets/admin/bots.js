// Managing bots: create (the token is shown once, right then) and revoke.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { confirmButton, problemLine, showProblem } from './forms.js';

export class BotsPanel {
  constructor(token) {
    this.token = token;
    this.rows = h('tbody');
    this.problem = problemLine();
    this.name = h('input', { id: 'bot-name', required: true, maxlength: '100' });
    this.secret = h('div', { class: 'secret', hidden: true });
    const form = h(
      'form',
      { class: 'form-grid', 'aria-labelledby': 'new-bot-heading' },
      h('h3', { id: 'new-bot-heading' }, 'Add a bot'),
      h('span'),
      h('label', { for: 'bot-name' }, 'Bot name'),
      this.name,
      h('button', { type: 'submit', class: 'primary' }, 'Create bot'),
    );
    form.addEventListener('submit', (event) => this.create(event));
    this.el = h(
      'section',
      { class: 'card', 'aria-labelledby': 'bots-heading' },
      h('h2', { id: 'bots-heading' }, 'Bots'),
      this.problem,
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Created', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
        this.rows)),
      form,
      this.secret,
    );
  }

  async create(event) {
    event.preventDefault();
    showProblem(this.problem, null);
    try {
      const { bot, token } = await api(location.origin, '/bots', {
        token: this.token, method: 'POST', json: { name: this.name.value },
      });
      this.name.value = '';
      this.showToken(bot, token);
      await this.load();
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  /** The token exists only in this response; once this box is closed it is gone. */
  showToken(bot, token) {
    const tokenField = h('textarea', { id: 'bot-token', class: 'token', rows: '3', readonly: true });
    tokenField.value = token;
    replace(
      this.secret,
      h('p', {}, `Token for ${bot.name}. Copy it now: it is not shown again.`),
      h('label', { for: 'bot-token' }, 'Bot token'),
      tokenField,
      h('div', { class: 'row-actions' },
        h('button', {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            tokenField.select();
            navigator.clipboard?.writeText(token).catch(() => {});
          },
        }, 'Copy'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { replace(this.secret); this.secret.hidden = true; } }, 'Done')),
    );
    this.secret.hidden = false;
    tokenField.select();
  }

  async load() {
    try {
      const { bots } = await api(location.origin, '/bots', { token: this.token });
      replace(this.rows, bots.map((bot) => this.row(bot)));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  row(bot) {
    // Revoking is not undoable, so it takes a second click to confirm.
    const revoke = confirmButton({
      text: 'Revoke',
      label: `Revoke ${bot.name}`,
      confirmText: 'Confirm revoke',
      confirmLabel: `Confirm revoking ${bot.name}`,
      problem: this.problem,
      action: async () => {
        await api(location.origin, `/bots/${bot.id}`, { token: this.token, method: 'DELETE' });
        await this.load();
      },
    });
    return h('tr', {},
      h('td', {}, bot.name),
      h('td', {}, new Date(bot.created_at).toLocaleString()),
      h('td', {}, bot.revoked ? 'revoked' : 'active'),
      h('td', {}, bot.revoked ? '' : revoke));
  }
}

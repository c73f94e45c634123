// Mail to visitors (SPEC section 14): replies to messages left and transcripts, as the
// outbox holds them. Mail leaves in the background and is retried, so this is where an
// admin sees what was sent, what still waits (with the last error) and what was given up.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { problemLine, showProblem } from './forms.js';

const LIMIT = 50;

export class MailPanel {
  constructor(token) {
    this.token = token;
    this.rows = h('tbody');
    this.problem = problemLine();
    this.el = h(
      'section',
      { class: 'card wide', 'aria-labelledby': 'mail-heading' },
      h('h2', { id: 'mail-heading' }, 'Mail'),
      this.problem,
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Recent mail' },
        h('thead', {}, h('tr', {}, ['When', 'To', 'Subject', 'Status', 'Attempts', 'Last error']
          .map((t) => h('th', { scope: 'col' }, t)))),
        this.rows)),
      h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => this.load() }, 'Refresh mail')),
    );
  }

  async load() {
    try {
      const { mail } = await api(location.origin, `/mail?limit=${LIMIT}`, { token: this.token });
      showProblem(this.problem, null);
      replace(this.rows, mail.length
        ? mail.map((item) => this.row(item))
        : h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No mail yet')));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  row(item) {
    const when = item.sent_at || item.gave_up_at || item.created_at;
    const next = item.status === 'pending' && item.next_attempt_at
      ? `, next try ${new Date(item.next_attempt_at).toLocaleTimeString()}`
      : '';
    return h('tr', {},
      h('td', {}, new Date(when).toLocaleString()),
      h('td', { class: 'url' }, item.to),
      h('td', {}, item.subject),
      h('td', {}, `${item.status}${next}`),
      h('td', {}, String(item.attempts)),
      h('td', { class: 'pre' }, item.last_error || ''));
  }
}

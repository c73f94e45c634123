// Webhooks (SPEC section 10): subscribe a URL to events (the signing secret is shown
// once, right then), delete, and look at a webhook's recent delivery attempts.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { confirmButton, field, problemLine, showProblem } from './forms.js';

const EVENTS = [
  'session.created', 'session.assigned', 'session.transferred', 'session.ended',
  'session.abandoned', 'session.rated', 'message.created', 'session.offline',
];

export class WebhooksPanel {
  constructor(token) {
    this.token = token;
    this.rows = h('tbody');
    this.problem = problemLine();
    this.url = h('input', { type: 'url', required: true, maxlength: '2000', placeholder: 'https://example.com/switchboard', autocomplete: 'off' });
    this.secretInput = h('input', { maxlength: '256', autocomplete: 'off', placeholder: 'generated when empty' });
    this.events = EVENTS.map((event) => h('input', { type: 'checkbox', id: `webhook-event-${event}`, value: event }));
    this.secret = h('div', { class: 'secret', hidden: true });
    this.deliveries = h('div', { class: 'deliveries', hidden: true });
    const form = h(
      'form',
      { class: 'form-grid', 'aria-labelledby': 'new-webhook-heading' },
      h('h3', { id: 'new-webhook-heading' }, 'Add a webhook'),
      h('span'),
      field('webhook-url', 'URL', this.url),
      h('span', { class: 'label-like' }, 'Events'),
      h('fieldset', { class: 'webhook-events' },
        h('legend', { class: 'visually-hidden' }, 'Events'),
        this.events.map((box) => h('span', {}, box, h('label', { for: box.id }, ` ${box.value}`)))),
      field('webhook-secret', 'Secret (optional)', this.secretInput),
      h('button', { type: 'submit', class: 'primary' }, 'Create webhook'),
    );
    form.addEventListener('submit', (event) => this.create(event));
    this.form = form;
    this.el = h(
      'section',
      { class: 'card wide', 'aria-labelledby': 'webhooks-heading' },
      h('h2', { id: 'webhooks-heading' }, 'Webhooks'),
      this.problem,
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['URL', 'Events', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
        this.rows)),
      this.deliveries,
      form,
      this.secret,
    );
  }

  async create(event) {
    event.preventDefault();
    showProblem(this.problem, null);
    const events = this.events.filter((box) => box.checked).map((box) => box.value);
    if (!events.length) {
      showProblem(this.problem, new Error('Choose at least one event.'));
      return;
    }
    const json = { url: this.url.value.trim(), events };
    if (this.secretInput.value) json.secret = this.secretInput.value;
    try {
      const { webhook, secret } = await api(location.origin, '/webhooks', { token: this.token, method: 'POST', json });
      this.form.reset();
      this.showSecret(webhook, secret);
      await this.load();
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  /** The secret exists only in the creation response; once this box is closed it is gone. */
  showSecret(webhook, secret) {
    const secretField = h('textarea', { id: 'webhook-secret-shown', class: 'token', rows: '2', readonly: true });
    secretField.value = secret;
    replace(
      this.secret,
      h('p', {}, `Signing secret for ${webhook.url}. Copy it now: it is not shown again.`),
      h('label', { for: 'webhook-secret-shown' }, 'Webhook secret'),
      secretField,
      h('div', { class: 'row-actions' },
        h('button', {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            secretField.select();
            navigator.clipboard?.writeText(secret).catch(() => {});
          },
        }, 'Copy secret'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { replace(this.secret); this.secret.hidden = true; } }, 'Done')),
    );
    this.secret.hidden = false;
    secretField.select();
  }

  async load() {
    try {
      const { webhooks } = await api(location.origin, '/webhooks', { token: this.token });
      replace(this.rows, webhooks.length
        ? webhooks.map((webhook) => this.row(webhook))
        : h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'None yet')));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  row(webhook) {
    const remove = confirmButton({
      text: 'Delete',
      label: `Delete webhook ${webhook.url}`,
      confirmText: 'Confirm delete',
      confirmLabel: `Confirm deleting webhook ${webhook.url}`,
      problem: this.problem,
      action: async () => {
        await api(location.origin, `/webhooks/${webhook.id}`, { token: this.token, method: 'DELETE' });
        if (this.deliveries.dataset.webhook === webhook.id) this.hideDeliveries();
        await this.load();
      },
    });
    return h('tr', {},
      h('td', { class: 'url' }, webhook.url),
      h('td', {}, webhook.events.join(', ')),
      h('td', {}, new Date(webhook.created_at).toLocaleString()),
      h('td', {}, h('div', { class: 'row-actions' },
        h('button', {
          type: 'button',
          class: 'secondary',
          'aria-label': `Deliveries of ${webhook.url}`,
          onclick: () => this.showDeliveries(webhook),
        }, 'Deliveries'),
        remove)));
  }

  async showDeliveries(webhook) {
    showProblem(this.problem, null);
    try {
      const { deliveries } = await api(location.origin, `/webhooks/${webhook.id}/deliveries`, { token: this.token });
      this.deliveries.dataset.webhook = webhook.id;
      replace(
        this.deliveries,
        h('h3', {}, `Recent deliveries to ${webhook.url}`),
        h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Recent deliveries' },
          h('thead', {}, h('tr', {}, ['When', 'Event', 'Attempt', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, deliveries.length
            ? deliveries.map((d) => h('tr', {},
              h('td', {}, new Date(d.at).toLocaleString()),
              h('td', {}, d.event),
              h('td', {}, String(d.attempt)),
              h('td', {}, d.error ? `failed: ${d.status_code ? `${d.status_code} ` : ''}${d.error}` : `delivered (${d.status_code})`)))
            : h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'No deliveries yet'))))),
        h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => this.showDeliveries(webhook) }, 'Refresh deliveries'),
          h('button', { type: 'button', class: 'secondary', onclick: () => this.hideDeliveries() }, 'Hide deliveries')),
      );
      this.deliveries.hidden = false;
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  hideDeliveries() {
    replace(this.deliveries);
    delete this.deliveries.dataset.webhook;
    this.deliveries.hidden = true;
  }
}

// The admin dashboard (SPEC section 7): the live queue and each specialist's load,
// charts of how the service is doing, the people and bots who use it, shared canned
// responses and webhooks, business hours and the mail sent to visitors (SPEC section 14).

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { Socket } from '../lib/socket.js';
import { QueueView } from '../lib/queue.js';
import { loginForm, savedLogin, saveLogin, socketUrl, tokenAccepted } from '../lib/login.js';
import { SpecialistsPanel } from './specialists.js';
import { BotsPanel } from './bots.js';
import { CannedPanel } from './canned.js';
import { WebhooksPanel } from './webhooks.js';
import { BusinessHoursPanel } from './hours.js';
import { MailPanel } from './mail.js';
import { PERIODS, loadSessions, renderCharts } from './charts.js';

const LOGIN_KEY = 'switchboard.admin.login';
const REFRESH_MS = 30000;
const STATS_REFRESH_MS = 10000;
const app = document.getElementById('app');

function boot() {
  const saved = savedLogin(LOGIN_KEY);
  if (saved) new Dashboard(saved);
  else showLogin();
}

function showLogin() {
  document.title = 'Sign in · Switchboard admin';
  replace(app, h('main', { class: 'centered' }, loginForm({
    title: 'Switchboard admin',
    check: (specialist) => (specialist.role === 'admin' ? null : 'This page is for admins. Specialists use the console.'),
    onLogin: (login) => {
      saveLogin(LOGIN_KEY, login);
      new Dashboard(login);
    },
  })));
  app.querySelector('input').focus();
}

class Dashboard {
  constructor(login) {
    this.token = login.token;
    this.queue = new QueueView();
    this.stats = h('dl', { class: 'stats' });
    this.specialists = new SpecialistsPanel(this.token);
    this.bots = new BotsPanel(this.token);
    this.canned = new CannedPanel(this.token);
    this.webhooks = new WebhooksPanel(this.token);
    this.hours = new BusinessHoursPanel(this.token);
    this.mail = new MailPanel(this.token);
    this.loadRows = h('tbody');
    this.charts = h('div', { class: 'charts' });
    this.chartNote = h('p', { class: 'muted', role: 'status' });
    this.period = h('select', { id: 'period', onchange: () => this.refreshCharts() },
      Object.entries(PERIODS).map(([key, period]) => h('option', { value: key }, period.label)));
    this.connection = h('span', { class: 'connection', 'aria-live': 'polite' });
    this.build(login.specialist);
    this.socket = new Socket({
      url: () => socketUrl(this.token),
      onFrame: (frame) => this.onFrame(frame),
      onState: (state) => { this.connection.textContent = state === 'open' ? '' : 'Live updates reconnecting…'; },
      onRefused: async () => {
        if (!(await tokenAccepted(location.origin, this.token))) this.logOut();
      },
    });
    this.socket.start();
    // Read once: refreshing would overwrite what the admin is typing.
    this.hours.load();
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
    setInterval(() => this.refreshStats(), STATS_REFRESH_MS);
  }

  build(me) {
    document.title = 'Switchboard admin';
    replace(
      app,
      h('header', { class: 'topbar' },
        h('h1', {}, 'Switchboard admin'),
        h('span', {}, me.name),
        this.connection,
        h('a', { class: 'link', href: '/console' }, 'Console'),
        h('button', { type: 'button', class: 'link', onclick: () => this.logOut() }, 'Log out')),
      h('main', { class: 'admin' },
        h('section', { class: 'card', 'aria-labelledby': 'queue-heading' },
          h('h2', { id: 'queue-heading' }, 'Live queue'), this.stats, this.queue.el),
        h('section', { class: 'card', 'aria-labelledby': 'load-heading' },
          h('h2', { id: 'load-heading' }, 'Load'),
          h('div', { class: 'table-wrap' }, h('table', {},
            h('thead', {}, h('tr', {}, ['Specialist', 'Open chats', 'Max chats'].map((t) => h('th', { scope: 'col' }, t)))),
            this.loadRows))),
        h('section', { class: 'card wide', 'aria-labelledby': 'charts-heading' },
          h('h2', { id: 'charts-heading' }, 'Service over time'),
          h('p', {}, h('label', { for: 'period' }, 'Period '), this.period),
          this.chartNote,
          this.charts),
        this.specialists.el,
        this.bots.el,
        this.canned.el,
        this.hours.el,
        this.webhooks.el,
        this.mail.el),
    );
  }

  onFrame(frame) {
    if (frame.type === 'hello') this.socket.request({ type: 'queue.watch' }).catch(() => {});
    if (frame.type === 'queue.snapshot') this.queue.update(frame);
  }

  async refresh() {
    await Promise.all([
      this.specialists.load(), this.bots.load(), this.canned.load(), this.webhooks.load(),
      this.mail.load(), this.refreshCharts(), this.refreshStats(),
    ]);
    this.refreshLoad();
  }

  async refreshCharts() {
    const period = PERIODS[this.period.value];
    try {
      this.sessions = await loadSessions(this.token);
      replace(this.chartNote, `${this.sessions.length} sessions loaded.`);
    } catch (error) {
      this.sessions = [];
      replace(this.chartNote, error.status === 404
        ? 'This server does not list sessions (GET /api/v1/sessions), so the charts are empty.'
        : `Sessions could not be loaded: ${error.message}`);
    }
    renderCharts(this.charts, this.sessions, period);
  }

  async refreshStats() {
    try {
      const stats = await api(location.origin, '/stats', { token: this.token });
      const secs = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} s`);
      const tiles = [
        ['Waiting', stats.waiting],
        ['Active chats', stats.active],
        ['Messages left', stats.offline],
        ['Online', stats.specialists.online],
        ['Away', stats.specialists.away],
        ['Chats, last hour', stats.last_hour.sessions],
        ['Wait, last hour', secs(stats.last_hour.avg_wait_secs)],
        ['First response, last hour', secs(stats.last_hour.avg_first_response_secs)],
        ['Rating, last hour', stats.last_hour.avg_rating ? stats.last_hour.avg_rating.toFixed(1) : '–'],
      ];
      replace(this.stats, tiles.map(([label, value]) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, String(value)))));
    } catch (error) {
      replace(this.stats, h('p', { class: 'muted' }, `Live figures unavailable: ${error.message}`));
    }
  }

  refreshLoad() {
    const open = new Map();
    for (const session of this.sessions || []) {
      if (session.status !== 'active' || !session.specialist) continue;
      open.set(session.specialist.id, (open.get(session.specialist.id) || 0) + 1);
    }
    const people = (this.specialists.specialists || []).filter((s) => !s.disabled);
    replace(this.loadRows, people.map((s) => h('tr', {},
      h('td', {}, s.name),
      h('td', {}, String(open.get(s.id) || 0)),
      h('td', {}, String(s.max_concurrent_chats)))));
  }

  logOut() {
    this.socket.stop();
    saveLogin(LOGIN_KEY, null);
    location.reload();
  }
}

boot();

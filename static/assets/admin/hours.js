// Business hours (SPEC section 14): the site's weekly schedule in a time zone, and the
// dates it is closed. Outside them the widget offers to leave a message. Each day is one
// line of ranges ("09:00-12:30, 13:30-17:30", empty = closed); the server checks the
// times and says what is wrong. Per-skill schedules are not edited here: whatever the
// server holds for them is sent back unchanged.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { confirmButton, field, problemLine, showProblem } from './forms.js';

const DAYS = [
  ['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'],
  ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday'],
];
const ZONES = [
  'UTC', 'Europe/London', 'Europe/Berlin', 'Europe/Paris', 'Europe/Madrid', 'Europe/Kyiv',
  'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles',
  'America/Sao_Paulo', 'Asia/Kolkata', 'Asia/Singapore', 'Asia/Tokyo', 'Australia/Sydney',
];
const RANGE = /^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/;

/** "09:00-12:30, 13:30-17:30" → [["09:00","12:30"],["13:30","17:30"]]; "" → []. */
function parseRanges(text, day) {
  return text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const match = RANGE.exec(part);
    if (!match) throw new Error(`${day}: write each range as from-to, like 09:00-17:30 ("${part}" is not).`);
    return [match[1].padStart(5, '0'), match[2].padStart(5, '0')];
  });
}

function formatRanges(ranges) {
  return (ranges || []).map(([from, to]) => `${from}-${to}`).join(', ');
}

/** One date per line; blank lines are ignored (the server checks the dates). */
function parseDates(text) {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}

export class BusinessHoursPanel {
  constructor(token) {
    this.token = token;
    this.skills = {};
    this.zone = h('input', { list: 'time-zones', autocomplete: 'off', required: true, placeholder: 'Europe/Berlin' });
    this.days = DAYS.map(([key, label]) => ({
      key,
      label,
      input: h('input', { autocomplete: 'off', placeholder: 'closed', 'data-day': key }),
    }));
    this.closedDates = h('textarea', { rows: '3', placeholder: '2026-12-25' });
    this.note = h('p', { class: 'muted hint' });
    this.result = h('p', { class: 'muted', role: 'status' });
    this.problem = problemLine();
    const form = h(
      'form',
      { class: 'form-grid', 'aria-labelledby': 'hours-heading' },
      this.note,
      field('hours-zone', 'Time zone', this.zone),
      h('datalist', { id: 'time-zones' }, ZONES.map((zone) => h('option', { value: zone }))),
      this.days.map(({ key, label, input }) => field(`hours-${key}`, label, input)),
      field('hours-closed', 'Closed dates', this.closedDates),
      h('p', { class: 'muted hint' }, 'Each day: times like 09:00-12:30, 13:30-17:30; empty means closed. Closed dates: one YYYY-MM-DD per line.'),
      h('button', { type: 'submit', class: 'primary' }, 'Save business hours'),
    );
    form.addEventListener('submit', (event) => this.save(event));
    this.removal = h('p');
    this.el = h(
      'section',
      { class: 'card', 'aria-labelledby': 'hours-heading' },
      h('h2', { id: 'hours-heading' }, 'Business hours'),
      this.problem,
      form,
      this.removal,
      this.result,
    );
  }

  async load() {
    try {
      const { business_hours: hours } = await api(location.origin, '/business-hours', { token: this.token });
      this.show(hours);
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  show(hours) {
    replace(this.note, hours
      ? 'Outside these hours visitors can leave a message.'
      : 'No business hours are set: the chat is open at all times.');
    this.zone.value = hours ? hours.time_zone : Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const { key, input } of this.days) input.value = hours ? formatRanges(hours.weekly[key]) : '';
    this.closedDates.value = hours ? hours.closed_dates.join('\n') : '';
    this.skills = hours ? hours.skills || {} : {};
    // A fresh button each time, so a second removal asks to be confirmed again.
    replace(this.removal, hours ? confirmButton({
      text: 'Remove business hours',
      label: 'Remove business hours',
      confirmText: 'Really remove? The chat will be open at all times',
      confirmLabel: 'Confirm removing business hours',
      problem: this.problem,
      action: () => this.remove(),
    }) : []);
  }

  async remove() {
    const { business_hours: hours } = await api(location.origin, '/business-hours', { token: this.token, method: 'DELETE' });
    this.show(hours);
    replace(this.result, 'Removed');
  }

  async save(event) {
    event.preventDefault();
    showProblem(this.problem, null);
    replace(this.result);
    let json;
    try {
      json = {
        time_zone: this.zone.value.trim(),
        weekly: Object.fromEntries(this.days.map(({ key, label, input }) => [key, parseRanges(input.value, label)])),
        closed_dates: parseDates(this.closedDates.value),
        skills: this.skills,
      };
      const { business_hours: hours } = await api(location.origin, '/business-hours', { token: this.token, method: 'PUT', json });
      this.show(hours);
      replace(this.result, 'Saved');
    } catch (error) {
      replace(this.result, error.message);
    }
  }
}

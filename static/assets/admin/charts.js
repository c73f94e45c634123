// Service charts drawn as plain SVG: wait time, first response time, volume and rating
// over time, computed in the browser from the session list (GET /api/v1/sessions).
// Four small charts do not justify a charting library; SVG keeps them crisp, styleable
// from app.css and within the page's Content-Security-Policy.

import { h, svg, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';

const PAGE_SIZE = 100;
const MAX_PAGES = 20;
const WIDTH = 560;
const HEIGHT = 220;
const MARGIN = { left: 44, right: 12, top: 12, bottom: 28 };

export const PERIODS = {
  day: { label: 'Last 24 hours', buckets: 24, bucketMs: 3600e3 },
  fortnight: { label: 'Last 14 days', buckets: 14, bucketMs: 86400e3 },
};

/** Every session the admin can see, newest pages first, up to MAX_PAGES pages. */
export async function loadSessions(token, status) {
  const sessions = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    if (status) query.set('status', status);
    const result = await api(location.origin, `/sessions?${query}`, { token });
    sessions.push(...result.sessions);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  return sessions;
}

const seconds = (from, to) => (from && to ? (new Date(to) - new Date(from)) / 1000 : null);

/** Per time bucket: chats started, mean wait, mean first response, mean rating. */
export function summarize(sessions, period, now = Date.now()) {
  const start = now - period.buckets * period.bucketMs;
  const buckets = Array.from({ length: period.buckets }, (_, i) => ({
    start: start + i * period.bucketMs, count: 0, waits: [], responses: [], ratings: [],
  }));
  for (const session of sessions) {
    const created = new Date(session.created_at).getTime();
    const index = Math.floor((created - start) / period.bucketMs);
    if (index < 0 || index >= buckets.length) continue;
    const bucket = buckets[index];
    bucket.count += 1;
    // A message left waits for a reply by mail, not in the queue.
    const wait = session.left_message_at ? null : seconds(session.created_at, session.assigned_at);
    if (wait !== null) bucket.waits.push(wait);
    // From the visitor's first request, as Intercom and Chatwoot count it; also immune to
    // assigned_at moving on when a chat is transferred.
    const response = seconds(session.created_at, session.first_response_at);
    if (response !== null) bucket.responses.push(response);
    if (session.rating) bucket.ratings.push(session.rating);
  }
  const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : null);
  return buckets.map((b) => ({
    start: b.start, count: b.count, wait: mean(b.waits), response: mean(b.responses), rating: mean(b.ratings),
  }));
}

/** Rounds up to 1, 2 or 5 × a power of ten, so axis labels are readable. */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((n) => n >= value);
}

function bucketLabel(time, period) {
  const date = new Date(time);
  return period.bucketMs < 86400e3
    ? date.toLocaleTimeString([], { hour: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/**
 * One chart: `values` (numbers or null) per bucket, drawn as bars or a line. The y axis
 * goes to `max`, or to at least `least` so a near-empty chart still reads sensibly
 * (0–2 chats, 0–60 s). `describe` summarises the chart for screen readers.
 */
export function chart({ title, values, buckets, period, kind, max, least, format, describe }) {
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const present = values.filter((v) => v !== null);
  const top = max || niceMax(Math.max(least, ...present));
  const x = (i) => MARGIN.left + (innerW * (i + 0.5)) / values.length;
  const y = (v) => MARGIN.top + innerH - (innerH * v) / top;
  const plot = svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': `${title}: ${describe}`,
  });
  for (const tick of [0, 0.5, 1]) {
    const value = top * tick;
    plot.append(
      svg('line', { class: tick ? 'grid' : 'axis', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }),
      svg('text', { class: 'label', x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, format(value)),
    );
  }
  const every = Math.ceil(values.length / 6);
  buckets.forEach((bucket, i) => {
    if (i % every === 0) {
      plot.append(svg('text', { class: 'label', x: x(i), y: HEIGHT - 8, 'text-anchor': 'middle' }, bucketLabel(bucket.start, period)));
    }
  });
  if (kind === 'bars') {
    const width = Math.max(2, (innerW / values.length) * 0.7);
    values.forEach((v, i) => {
      if (!v) return;
      plot.append(svg('rect', { class: 'bar', x: x(i) - width / 2, y: y(v), width, height: y(0) - y(v) },
        svg('title', {}, `${bucketLabel(buckets[i].start, period)}: ${format(v)}`)));
    });
  } else {
    // Buckets without data break the line instead of pretending a zero.
    let path = '';
    values.forEach((v, i) => {
      if (v === null) return;
      path += `${path && values[i - 1] !== null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      plot.append(svg('circle', { class: 'dot', cx: x(i), cy: y(v), r: 3 },
        svg('title', {}, `${bucketLabel(buckets[i].start, period)}: ${format(v)}`)));
    });
    if (path) plot.prepend(svg('path', { class: 'line', d: path }));
  }
  if (!present.some((v) => v)) {
    plot.append(svg('text', { class: 'nodata', x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, 'No data in this period'));
  }
  return h('figure', { class: 'card' }, h('figcaption', {}, title), plot);
}

const formatSecs = (v) => (v >= 120 ? `${Math.round(v / 60)} min` : `${Math.round(v)} s`);
const mean = (values) => {
  const present = values.filter((v) => v !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
};

/** The four charts for a period, into `container`. */
export function renderCharts(container, sessions, period) {
  const buckets = summarize(sessions, period);
  const pick = (key) => buckets.map((b) => b[key]);
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  const averaged = (key, format) => {
    const value = mean(pick(key));
    return value === null ? 'no data' : `average ${format(value)}`;
  };
  replace(
    container,
    chart({
      title: 'Volume (chats started)', values: pick('count'), buckets, period, kind: 'bars', least: 2,
      format: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)), describe: `${total} chats in the period`,
    }),
    chart({
      title: 'Wait time', values: pick('wait'), buckets, period, kind: 'line', least: 60,
      format: formatSecs, describe: averaged('wait', formatSecs),
    }),
    chart({
      title: 'First response time', values: pick('response'), buckets, period, kind: 'line', least: 60,
      format: formatSecs, describe: averaged('response', formatSecs),
    }),
    chart({
      title: 'Rating', values: pick('rating'), buckets, period, kind: 'line', max: 5, least: 5,
      format: (v) => v.toFixed(1), describe: averaged('rating', (v) => `${v.toFixed(1)} of 5`),
    }),
  );
}

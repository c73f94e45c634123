// The widget on its own: a connection that drops without warning is resumed without
// losing or doubling anything; a visitor whose saved token the server no longer accepts
// is not stuck reconnecting forever, and can start a new chat, told honestly that
// nobody is available while no specialist is online.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import {
  launch, openPage, screenshot, call, adminToken, run, PHONE,
} from './harness.js';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('a connection that drops silently is resumed: nothing missed, nothing doubled', async () => {
  const admin = await adminToken();
  const { token: bot } = await call('/bots', { token: admin, method: 'POST', json: { name: `Widget bot ${run}` } });
  // A skill nobody has keeps this conversation away from every console.
  const handoff = await call('/sessions', {
    token: bot,
    method: 'POST',
    json: { visitor: { name: 'Rita Resume' }, skills: [`nobody-${run}`], transcript: [{ from: 'bot', body: 'Hello from the bot' }] },
  });
  const visitor = await openPage(browser, PHONE, {
    storage: {
      'switchboard.widget.token': JSON.stringify(handoff.visitor_token),
      'switchboard.widget.open': 'true',
    },
  });
  // Every WebSocket of the page goes through the test, which can cut it at will.
  const links = [];
  await visitor.context().routeWebSocket(/\/ws/, (page) => {
    links.push({ page, server: page.connectToServer() });
  });
  await visitor.goto('/');
  const messages = visitor.locator('#switchboard-widget li[data-seq]');
  await messages.filter({ hasText: 'Hello from the bot' }).waitFor();

  // The widget waits at least 250 ms before reconnecting, so the first post lands while
  // it has no connection and can only reach it through session.resume.
  const cut = links.at(-1);
  await cut.page.close();
  await cut.server.close();
  const post = (body) => call(`/sessions/${handoff.session.id}/messages`, { token: bot, method: 'POST', json: { body } });
  await post('Sent while the line was cut');
  await messages.filter({ hasText: 'Sent while the line was cut' }).waitFor();
  assert.ok(links.length >= 2, 'the widget opened a new connection');
  await post('Sent after the reconnect');
  await messages.filter({ hasText: 'Sent after the reconnect' }).waitFor();
  for (const text of ['Hello from the bot', 'Sent while the line was cut', 'Sent after the reconnect']) {
    assert.equal(await messages.filter({ hasText: text }).count(), 1, text);
  }
  assert.deepEqual(visitor.problems, []);
});

test('a long conversation comes back whole after a reload, past one resume page', async () => {
  const admin = await adminToken();
  const { token: bot } = await call('/bots', { token: admin, method: 'POST', json: { name: `Long bot ${run}` } });
  const transcript = Array.from({ length: 620 }, (_, i) => ({ from: i % 2 ? 'bot' : 'visitor', body: `line ${i + 1}` }));
  const handoff = await call('/sessions', {
    token: bot,
    method: 'POST',
    json: { visitor: { name: 'Lena Long' }, skills: [`nobody-${run}`], transcript },
  });
  const visitor = await openPage(browser, PHONE, {
    storage: {
      'switchboard.widget.token': JSON.stringify(handoff.visitor_token),
      'switchboard.widget.open': 'true',
    },
  });
  await visitor.goto('/');
  const messages = visitor.locator('#switchboard-widget li[data-seq]');
  await messages.locator('.body', { hasText: /^line 620$/ }).waitFor();
  const seqs = await messages.evaluateAll((items) => items.map((li) => Number(li.dataset.seq)));
  assert.ok(seqs.length >= 620, `${seqs.length} messages shown`);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
  assert.equal(new Set(seqs).size, seqs.length, 'each once');
  assert.deepEqual(visitor.problems, []);
});

test('a dead saved token leads back to the start form, and a new chat can begin', async () => {
  const visitor = await openPage(browser, PHONE, {
    storage: {
      'switchboard.widget.token': JSON.stringify('not.a.token'),
      'switchboard.widget.session': JSON.stringify('0190b1a2-0000-7000-8000-000000000000'),
      'switchboard.widget.open': 'true',
    },
  });
  await visitor.goto('/');
  await visitor.getByText('Your earlier chat is no longer available').waitFor({ timeout: 20000 });
  // The refused upgrades and the token check are the only errors this page may log.
  const expected = /WebSocket connection to .* failed|status of 401/;
  assert.deepEqual(visitor.problems.filter((problem) => !expected.test(problem)), []);
  visitor.problems.length = 0;

  await visitor.getByLabel('Name').fill('Nora New');
  await visitor.getByRole('button', { name: 'Start chat', exact: true }).click();
  await eventually(async () => /Nobody is available right now/.test(await visitor.getByRole('status').textContent()));
  await visitor.getByLabel('Message').fill('Anyone there?');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await visitor.locator('#switchboard-widget li[data-seq]', { hasText: 'Anyone there?' }).waitFor();
  await screenshot(visitor, 'widget-nobody-online');
  assert.deepEqual(visitor.problems, []);
});

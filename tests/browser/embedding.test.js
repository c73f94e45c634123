// The widget on another site (SPEC section 11). A shop's page served from another origin
// (127.0.0.2, while the server is on 127.0.0.1) embeds it with the one script tag, and a
// visitor there chats with a specialist at the console. On a site the server does not
// list (127.0.0.3: scripts/lib/browser_tests.sh allows only http://127.0.0.2:*), the
// widget tells the visitor the chat is not available there, and tries nothing that
// would fail: no page may log an error, in either case.

import http from 'node:http';
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import {
  launch, openPage, screenshot, call, adminToken, signIn, setStatus, server, run, PHONE, DESKTOP,
} from './harness.js';

const LISTED_HOST = '127.0.0.2';
const UNLISTED_HOST = '127.0.0.3';
const specialist = { name: 'Omar Origin', email: `omar-${run}@example.com`, password: 'omar-password-1' };

/** A shop's page on `host`: nothing of Switchboard but the one script tag. */
async function shop(host) {
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Garden tools</title></head>
<body><h1>Garden tools</h1><script src="${server}/widget.js" async></script></body></html>`;
  const site = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(page);
  });
  await new Promise((resolve, reject) => {
    site.once('error', reject);
    site.listen(0, host, resolve);
  });
  return {
    url: `http://${host}:${site.address().port}/`,
    close() {
      site.closeAllConnections();
      site.close();
    },
  };
}

let browser;
let listed;
let unlisted;
let agent;
const pages = [];

async function visitorOn(site, options) {
  const visitor = await openPage(browser, PHONE, options);
  pages.push(visitor);
  visitor.sockets = [];
  visitor.on('websocket', (socket) => visitor.sockets.push(socket.url()));
  await visitor.goto(site.url);
  assert.notEqual(await visitor.evaluate(() => location.origin), new URL(server).origin);
  return visitor;
}

const status = async (page) => page.getByRole('status').textContent();

before(async () => {
  browser = await launch();
  const token = await adminToken();
  await call('/specialists', { token, method: 'POST', json: { ...specialist, max_concurrent_chats: 3 } });
  listed = await shop(LISTED_HOST);
  unlisted = await shop(UNLISTED_HOST);
});

after(async () => {
  // Offline before leaving, so the next test file's visitors are not offered to a
  // console that is gone.
  if (agent) await setStatus(agent, 'offline');
  listed?.close();
  unlisted?.close();
  await browser?.close();
});

afterEach(() => {
  for (const page of pages) assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
});

test('on a listed site, a visitor chats with a specialist at the console', async () => {
  agent = await openPage(browser, DESKTOP);
  pages.push(agent);
  await signIn(agent, specialist, 'online');

  const visitor = await visitorOn(listed);
  await visitor.getByRole('button', { name: 'Chat with us' }).click();
  await visitor.getByLabel('Name').fill('Olive Offsite');
  await visitor.getByRole('button', { name: 'Start chat', exact: true }).click();
  await eventually(async () => /queue|chatting/.test(await status(visitor)));
  await visitor.getByLabel('Message').fill('Do you ship rakes abroad?');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();

  await agent.getByRole('article', { name: /Olive Offsite/ }).getByRole('button', { name: 'Accept', exact: true }).click();
  const conversation = agent.locator('section.conversation:not([hidden]) li[data-seq]');
  await conversation.filter({ hasText: 'ship rakes abroad' }).waitFor();
  await agent.getByLabel('Message').fill('We do, to every country in the EU.');
  await agent.getByRole('button', { name: 'Send', exact: true }).click();

  await visitor.locator('#switchboard-widget li[data-seq]', { hasText: 'to every country in the EU' }).waitFor();
  assert.match(await status(visitor), /chatting with Omar Origin/);
  await screenshot(visitor, 'widget-on-another-site');
});

test('on an unlisted site, the widget says the chat is not available there', async () => {
  const queued = async () => (await call('/queue', { token: await adminToken() })).length;
  const waitingBefore = await queued();
  const visitor = await visitorOn(unlisted);
  await visitor.getByRole('button', { name: 'Chat with us' }).click();
  await eventually(async () => /Chat is not available on this site/.test(await status(visitor)));
  await visitor.getByText('not one of the sites this chat service is set up for').waitFor();
  assert.equal(await visitor.getByRole('button', { name: 'Start chat' }).count(), 0);
  assert.deepEqual(visitor.sockets, []);
  // Nothing reached the specialists: no one more waiting, nothing offered at the console.
  assert.equal(await queued(), waitingBefore);
  assert.equal(await agent.getByRole('button', { name: 'Accept', exact: true }).count(), 0);
  await screenshot(visitor, 'widget-refused');
});

test('a returning visitor on an unlisted site is told so too, and no socket is tried', async () => {
  const { token } = await call('/visitors', { method: 'POST', json: { name: 'Rex Returning' } });
  const visitor = await visitorOn(unlisted, {
    storage: {
      'switchboard.widget.token': JSON.stringify(token),
      'switchboard.widget.open': 'true',
    },
  });
  await eventually(async () => /Chat is not available on this site/.test(await status(visitor)));
  assert.equal(await visitor.getByRole('button', { name: 'Start chat' }).count(), 0);
  assert.deepEqual(visitor.sockets, []);
});

// Issue 7's "Done when", as one person-by-person story: a specialist at the console, a
// visitor on a 360 px phone using the widget on the demo page, and an admin. The steps
// run in order and share the pages; each step ends by checking that no page had an
// uncaught error, a console error or a dialog.

import { readFileSync } from 'node:fs';
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import {
  launch, openPage, screenshot, call, adminToken, signInAdmin, signIn, setStatus, run, fitsWidth,
  PHONE, DESKTOP,
} from './harness.js';

const specialist = { name: 'Sam Specialist', email: `sam-${run}@example.com`, password: 'sam-password-1' };
const XSS = '<img src=x onerror="window.__pwned=1;alert(1)">';

let browser;
let agent;
let visitor;
let pages = [];

before(async () => {
  browser = await launch();
  const token = await adminToken();
  await call('/specialists', { token, method: 'POST', json: { ...specialist, max_concurrent_chats: 3 } });
  agent = await openPage(browser, DESKTOP);
  visitor = await openPage(browser, PHONE);
  pages = [agent, visitor];
});

after(async () => {
  // Offline before leaving, so the next test file's visitors are not offered to a
  // console that is gone.
  if (agent) await setStatus(agent, 'offline');
  await browser?.close();
});

afterEach(() => {
  for (const page of pages) assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
});

/** The widget's message list (inside its shadow root; Playwright locators pierce it). */
const widgetMessages = () => visitor.locator('#switchboard-widget ol.messages li[data-seq]');
const consoleMessages = () => agent.locator('section.conversation:not([hidden]) li[data-seq]');

test('the specialist logs in and goes online', async () => {
  await signIn(agent, specialist, 'online');
  await eventually(() => agent.getByText(/1 online/).isVisible());
  assert.equal(await agent.getByLabel('Status').inputValue(), 'online');
  await screenshot(agent, 'console-online');
});

test('a visitor on a 360 px screen opens the widget, sees the queue, and writes', async () => {
  await visitor.goto('/');
  await visitor.getByRole('button', { name: 'Chat with us' }).click();
  await visitor.getByLabel('Name').fill('Vera Visitor');
  await visitor.getByLabel('Email').fill('vera@example.com');
  await visitor.getByRole('button', { name: 'Start chat', exact: true }).click();
  const status = visitor.getByRole('status');
  await eventually(async () => /queue/.test(await status.textContent()));
  await screenshot(visitor, 'widget-queued');
  assert.ok(await fitsWidth(visitor), 'the demo page and widget fit 360 px');
  await visitor.getByLabel('Message').fill('Hello, my order has not arrived');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await eventually(async () => (await widgetMessages().filter({ hasText: 'my order has not arrived' }).count()) === 1);
});

test('the specialist gets the offer, accepts, reads the message and replies', async () => {
  const offer = agent.getByRole('article', { name: /Vera Visitor/ });
  const accept = offer.getByRole('button', { name: 'Accept', exact: true });
  await accept.waitFor();
  assert.ok(await offer.getByRole('button', { name: 'Decline', exact: true }).isVisible());
  await screenshot(agent, 'console-offer');
  await accept.click();
  await consoleMessages().filter({ hasText: 'my order has not arrived' }).waitFor();
  await agent.getByLabel('Message').fill('Hi Vera, let me check that for you.');
  await agent.getByRole('button', { name: 'Send', exact: true }).click();
  await consoleMessages().filter({ hasText: 'let me check that' }).waitFor();
});

test('the visitor sees the reply', async () => {
  await widgetMessages().filter({ hasText: 'let me check that' }).waitFor();
  const status = await visitor.getByRole('status').textContent();
  assert.match(status, /chatting with Sam Specialist/);
});

test('the visitor attaches a file and the specialist downloads it', async () => {
  const content = 'Order 1042, paid on 3 May';
  const chooser = visitor.waitForEvent('filechooser');
  await visitor.getByRole('button', { name: 'Attach file', exact: true }).click();
  await (await chooser).setFiles({ name: 'receipt.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
  await widgetMessages().filter({ hasText: 'receipt.txt' }).waitFor();
  const file = consoleMessages().filter({ hasText: 'receipt.txt' }).getByRole('button');
  const download = agent.waitForEvent('download');
  await file.click();
  const saved = await (await download).path();
  assert.equal(readFileSync(saved, 'utf8'), content);
});

test('markup in a message shows as text on both pages and runs nothing', async () => {
  await visitor.getByLabel('Message').fill(XSS);
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await agent.getByLabel('Message').fill(`You wrote: ${XSS}`);
  await agent.getByRole('button', { name: 'Send', exact: true }).click();
  await widgetMessages().filter({ hasText: `You wrote: ${XSS}` }).waitFor();
  await consoleMessages().filter({ hasText: `You wrote: ${XSS}` }).waitFor();
  for (const list of [widgetMessages(), consoleMessages()]) {
    assert.equal(await list.filter({ hasText: XSS }).count(), 2, 'both messages, as literal text');
    assert.equal(await list.locator('img').count(), 0, 'no element was made from the text');
  }
  for (const page of pages) {
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }
  await screenshot(agent, 'console-conversation');
});

test('the conversation survives a reload of the visitor\'s page', async () => {
  await visitor.reload();
  await widgetMessages().filter({ hasText: 'my order has not arrived' }).waitFor();
  await widgetMessages().filter({ hasText: 'let me check that' }).waitFor();
  assert.equal(await widgetMessages().filter({ hasText: XSS }).count(), 2);
  await eventually(async () => /chatting with Sam Specialist/.test(await visitor.getByRole('status').textContent()));
  await screenshot(visitor, 'widget-after-reload');
});

test('a message written offline arrives exactly once when the network is back', async () => {
  const text = 'Written while the train was in a tunnel';
  await visitor.context().setOffline(true);
  await visitor.getByText('You are offline').waitFor();
  await visitor.getByLabel('Message').fill(text);
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await visitor.locator('#switchboard-widget li.pending', { hasText: text }).waitFor();
  await screenshot(visitor, 'widget-offline');
  await visitor.context().setOffline(false);
  await widgetMessages().filter({ hasText: text }).waitFor();
  await consoleMessages().filter({ hasText: text }).waitFor();
  // Give a duplicate every chance to show up before counting.
  await agent.waitForTimeout(1500);
  assert.equal(await consoleMessages().filter({ hasText: text }).count(), 1);
  assert.equal(await widgetMessages().filter({ hasText: text }).count(), 1);
  await visitor.reload();
  await widgetMessages().filter({ hasText: text }).waitFor();
  assert.equal(await widgetMessages().filter({ hasText: text }).count(), 1);
});

test('the specialist ends the chat and the visitor rates it', async () => {
  await agent.getByRole('button', { name: 'End chat', exact: true }).click();
  await agent.getByText('This chat has ended.').waitFor();
  await visitor.getByRole('button', { name: '4 stars', exact: true }).click();
  await visitor.getByLabel('Comment').fill('Quick and kind, thanks.');
  await screenshot(visitor, 'widget-rating');
  await visitor.getByRole('button', { name: 'Send rating', exact: true }).click();
  await visitor.getByText('Thank you for your feedback!').waitFor();
  await screenshot(visitor, 'widget-rated');
  await screenshot(agent, 'console-ended');
});

test('the admin creates a specialist and sees the charts', async () => {
  const adminPage = await openPage(browser, DESKTOP);
  pages.push(adminPage);
  await signInAdmin(adminPage);
  await adminPage.getByRole('cell', { name: specialist.email }).waitFor();

  const form = adminPage.getByRole('form', { name: 'Add a specialist' });
  await form.getByLabel('Name').fill('Nina New');
  await form.getByLabel('Email').fill(`nina-${run}@example.com`);
  await form.getByLabel('Password').fill('nina-password-1');
  await form.getByLabel('Skills').fill('billing, returns');
  await form.getByLabel('Languages').fill('en, de');
  await form.getByLabel('Max chats').fill('4');
  await form.getByRole('button', { name: 'Create specialist' }).click();
  const row = adminPage.getByRole('row', { name: new RegExp(`nina-${run}@example\\.com`) });
  await row.waitFor();
  assert.match(await row.textContent(), /billing, returns/);

  const charts = adminPage.locator('figure svg[role="img"]');
  await eventually(async () => (await charts.count()) === 4);
  for (const title of ['Volume', 'Wait time', 'First response time', 'Rating']) {
    await adminPage.locator('figure', { hasText: title }).locator('svg').waitFor();
  }
  // The finished chat is in the volume chart when the server lists sessions.
  const listed = await adminPage.getByText(/sessions loaded/).count();
  if (listed) await adminPage.locator('figure', { hasText: 'Volume' }).locator('rect.bar').first().waitFor();
  await screenshot(adminPage, 'admin');
  await adminPage.setViewportSize(PHONE);
  await screenshot(adminPage, 'admin-phone');
  assert.ok(await fitsWidth(adminPage), 'the admin page fits 360 px');
  await agent.setViewportSize(PHONE);
  await screenshot(agent, 'console-phone');
  assert.ok(await fitsWidth(agent), 'the console fits 360 px');
});

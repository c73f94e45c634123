// The specialist workspace of SPEC section 10 in the browser: tags shared between a
// specialist's tabs, canned responses behind `/`, the analytics panel, scheduled
// messages that reach the visitor, search with snippets and archive, and the admin's
// shared canned responses and webhooks (secret shown once, deliveries listed). Sessions
// here ask for a skill only this file's specialist has.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { eventually } from './eventually.js';
import {
  launch, openPage, screenshot, call, adminToken, signInAdmin, signIn, setStatus, run, fitsWidth,
  DESKTOP, PHONE,
} from './harness.js';

const skill = `workspace-${run}`;
const wes = { name: 'Wes Workspace', email: `wes-${run}@example.com`, password: 'wes-password-1' };
// One word no other conversation on this server contains.
const word = `zebra${run}`;

let browser;
let token;
let botToken;
let tab;
let otherTab;
let visitor;
let adminPage;
let session;
let pages = [];

before(async () => {
  browser = await launch();
  token = await adminToken();
  await call('/specialists', { token, method: 'POST', json: { ...wes, skills: [skill] } });
  ({ token: botToken } = await call('/bots', { token, method: 'POST', json: { name: `Workspace ${run}` } }));
  tab = await openPage(browser, DESKTOP);
  pages = [tab];
});

after(async () => {
  for (const page of [tab, otherTab]) if (page) await setStatus(page, 'offline').catch(() => {});
  await browser?.close();
});

afterEach(() => {
  for (const page of pages) assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
});

const shown = (page) => page.locator('section.conversation:not([hidden])');
const widgetMessages = () => visitor.locator('#switchboard-widget ol.messages li[data-seq]');

test('tags typed in one specialist tab appear in the other', async () => {
  await signIn(tab, wes, 'online');
  session = await call('/sessions', {
    token: botToken,
    method: 'POST',
    json: {
      visitor: { name: 'Tia Tagged', email: `tia-${run}@example.com` },
      skills: [skill],
      transcript: [{ from: 'visitor', body: `My parcel ${word} never arrived` }],
    },
  });
  await tab.getByRole('article', { name: /Tia Tagged/ }).getByRole('button', { name: 'Accept', exact: true }).click();
  await shown(tab).locator('li[data-seq]', { hasText: word }).waitFor();

  // The same specialist in a second tab, on a phone.
  otherTab = await openPage(browser, PHONE);
  pages.push(otherTab);
  await signIn(otherTab, wes, 'online');
  await shown(otherTab).locator('li[data-seq]', { hasText: word }).waitFor();

  await shown(tab).getByLabel('Tags').fill('VIP, refund');
  await shown(tab).getByLabel('Tags').press('Enter');
  for (const page of [tab, otherTab]) {
    const chips = shown(page).locator('.tag-list li');
    await eventually(async () => (await chips.allTextContents()).join(' ') === 'refund vip');
  }
  assert.equal(await shown(otherTab).getByLabel('Tags').inputValue(), 'refund, vip');
  assert.ok(await fitsWidth(otherTab), 'the console fits 360 px');
  await screenshot(otherTab, 'workspace-tags-phone');
  assert.deepEqual((await call(`/sessions/${session.session.id}`, { token })).session.tags, ['refund', 'vip']);
});

test('typing / opens the canned responses and Enter inserts the rendered one', async () => {
  for (const [shortcut, body] of [
    [`greet${run}`, 'Hello {{visitor.name}}, this is {{specialist.name}} on {{session.number}}.'],
    [`bye${run}`, 'Thanks for chatting, goodbye.'],
  ]) {
    await call('/canned-responses', {
      token, method: 'POST', json: { shortcut, title: `Canned ${shortcut}`, body, shared: true },
    });
  }
  const input = shown(tab).getByLabel('Message');
  await input.fill('');
  await input.pressSequentially('/');
  const listbox = shown(tab).getByRole('listbox');
  await listbox.waitFor();
  await listbox.getByRole('option', { name: new RegExp(`/greet${run}`) }).waitFor();
  await listbox.getByRole('option', { name: new RegExp(`/bye${run}`) }).waitFor();
  await input.pressSequentially(`greet${run}`);
  await eventually(async () => (await listbox.getByRole('option').count()) === 1);
  await screenshot(tab, 'workspace-canned');
  await input.press('Enter');
  const number = session.session.number;
  await eventually(async () => (await input.inputValue()) === `Hello Tia Tagged, this is Wes Workspace on ${number}.`);
  await listbox.waitFor({ state: 'hidden' });
  await input.press('Enter');
  await shown(tab).locator('li.mine[data-seq]', { hasText: `this is Wes Workspace on ${number}` }).waitFor();
});

test('the analytics panel shows the message counts', async () => {
  visitor = await openPage(browser, PHONE, {
    storage: {
      'switchboard.widget.token': JSON.stringify(session.visitor_token),
      'switchboard.widget.open': 'true',
    },
  });
  pages.push(visitor);
  await visitor.goto('/');
  await widgetMessages().filter({ hasText: 'this is Wes Workspace' }).waitFor();
  await visitor.getByLabel('Message').fill('Thanks, any news?');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await shown(tab).locator('li[data-seq]', { hasText: 'any news?' }).waitFor();
  await shown(tab).getByLabel('Message').fill('Checking with the courier.');
  await shown(tab).getByRole('button', { name: 'Add note', exact: true }).click();
  await shown(tab).locator('li.kind-note[data-seq]', { hasText: 'courier' }).waitFor();

  await shown(tab).getByText('Analytics', { exact: true }).click();
  const figure = (label) => shown(tab).locator('.analytics .stat', { has: tab.getByText(label, { exact: true }) }).locator('dd');
  await eventually(async () => (await figure('Visitor messages').textContent()) === '2');
  assert.equal(await figure('Specialist messages').textContent(), '1');
  assert.equal(await figure('Notes').textContent(), '1');
  assert.equal(await figure('Bot messages').textContent(), '0');
  assert.notEqual(await figure('First response').textContent(), '–');
  await screenshot(tab, 'workspace-analytics');
});

/** A `datetime-local` value `ms` from now, in the page's time zone. */
const inputValueIn = (page, ms) => page.evaluate((ahead) => {
  const at = new Date(Date.now() + ahead);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}, ms);

test('a scheduled message is listed as pending, can be unscheduled, and arrives at the visitor', async () => {
  const pending = shown(tab).getByRole('list', { name: 'Scheduled to send' });
  await shown(tab).getByLabel('Message').fill('This one is cancelled');
  await shown(tab).getByLabel('Send at').fill(await inputValueIn(tab, 3600 * 1000));
  await shown(tab).getByRole('button', { name: 'Schedule', exact: true }).click();
  await pending.getByRole('listitem').filter({ hasText: 'This one is cancelled' }).waitFor();
  await pending.getByRole('button', { name: /Unschedule "This one is cancelled"/ }).click();
  await pending.getByRole('listitem').filter({ hasText: 'This one is cancelled' }).waitFor({ state: 'detached' });

  await shown(tab).getByLabel('Message').fill('Your parcel is on its way.');
  await shown(tab).getByLabel('Send at').fill(await inputValueIn(tab, 6000));
  await shown(tab).getByRole('button', { name: 'Schedule', exact: true }).click();
  await pending.getByRole('listitem').filter({ hasText: 'Your parcel is on its way.' }).waitFor();
  assert.equal(await shown(tab).locator('li[data-seq]', { hasText: 'on its way' }).count(), 0);
  await screenshot(tab, 'workspace-scheduled');
  await widgetMessages().filter({ hasText: 'Your parcel is on its way.' }).waitFor();
  await shown(tab).locator('li.mine[data-seq]', { hasText: 'on its way' }).waitFor();
  await pending.getByRole('listitem').filter({ hasText: 'on its way' }).waitFor({ state: 'detached' });
  assert.equal(await widgetMessages().filter({ hasText: 'This one is cancelled' }).count(), 0);
});

test('search finds the conversation by a word with a snippet, and archiving hides it', async () => {
  await shown(tab).getByRole('button', { name: 'End chat', exact: true }).click();
  await shown(tab).getByText('This chat has ended.').waitFor();
  await shown(tab).getByRole('button', { name: 'Close', exact: true }).click();

  const results = tab.getByRole('list', { name: 'Found chats' });
  const hit = results.getByRole('listitem').filter({ hasText: 'Tia Tagged' });
  await tab.getByLabel('Search').fill(word);
  // The index may lag the conversation by a few seconds.
  await eventually(async () => {
    await tab.getByLabel('Search').press('Enter');
    await tab.waitForTimeout(300);
    return (await hit.count()) === 1;
  });
  assert.match(await hit.locator('.snippet').first().textContent(), new RegExp(`parcel ${word} never arrived`));
  await screenshot(tab, 'workspace-search');

  await hit.getByRole('button').click();
  const past = tab.getByRole('region', { name: /Past chat with Tia Tagged/ });
  await past.locator('li[data-seq]', { hasText: 'Your parcel is on its way.' }).waitFor();
  assert.equal(await past.getByLabel('Message').count(), 0, 'a past chat is read-only');
  await past.getByRole('button', { name: 'Archive', exact: true }).click();
  await past.getByRole('button', { name: 'Unarchive', exact: true }).waitFor();
  await hit.waitFor({ state: 'detached' });
  await tab.getByLabel('Search').press('Enter');
  await tab.getByText('No conversations found.').waitFor();
  assert.equal(await hit.count(), 0);

  await tab.getByLabel('Archived only').check();
  await hit.waitFor();
  assert.match(await hit.textContent(), /archived/);
});

async function receiver() {
  const received = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      received.push({ body, signature: request.headers['x-switchboard-signature'] });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received, url: `http://127.0.0.1:${server.address().port}/hook` };
}

test('the admin creates, edits and deletes a shared canned response and a webhook whose secret is shown once', async () => {
  adminPage = await openPage(browser, DESKTOP);
  pages.push(adminPage);
  await signInAdmin(adminPage);
  const canned = adminPage.getByRole('region', { name: 'Shared canned responses' });
  await canned.waitFor();

  await canned.getByLabel('Shortcut').fill(`hours${run}`);
  await canned.getByLabel('Title').fill('Opening hours');
  await canned.getByLabel('Text').fill('We are open 9 to 5, <b>{{visitor.name}}</b>.');
  await canned.getByRole('button', { name: 'Save canned response' }).click();
  const row = canned.getByRole('row', { name: new RegExp(`/hours${run}`) });
  await row.waitFor();
  assert.match(await row.textContent(), /open 9 to 5, <b>\{\{visitor\.name\}\}<\/b>/);
  await row.getByRole('button', { name: `Edit /hours${run}` }).click();
  await canned.getByLabel('Title').fill('Opening hours (weekdays)');
  await canned.getByRole('button', { name: 'Save changes' }).click();
  await canned.getByRole('row', { name: /Opening hours \(weekdays\)/ }).waitFor();
  const wesToken = (await call('/auth/login', { method: 'POST', json: { email: wes.email, password: wes.password } })).token;
  const listed = await call('/canned-responses', { token: wesToken });
  assert.ok(listed.canned_responses.some((r) => r.shortcut === `hours${run}` && r.shared), 'specialists see it');

  const hook = await receiver();
  try {
    const webhooks = adminPage.getByRole('region', { name: 'Webhooks' });
    await webhooks.getByLabel('URL').fill(hook.url);
    await webhooks.getByLabel('session.created').check();
    await webhooks.getByRole('button', { name: 'Create webhook' }).click();
    const secretBox = webhooks.getByLabel('Webhook secret');
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    assert.match(secret, /^[0-9a-f]{32,}$/);
    const hookRow = webhooks.getByRole('row', { name: new RegExp(hook.url.replace(/[./]/g, '\\$&')) });
    await hookRow.waitFor();
    await screenshot(adminPage, 'workspace-webhook-secret');
    await webhooks.getByRole('button', { name: 'Done' }).click();
    await secretBox.waitFor({ state: 'detached' });
    await adminPage.reload();
    await hookRow.waitFor();
    assert.ok(!(await adminPage.content()).includes(secret), 'the secret is never shown again');

    // An event reaches the receiver, signed with that secret, and shows as a delivery.
    const created = await call('/sessions', {
      token: botToken, method: 'POST', json: { visitor: { name: 'Hugo Hook' }, skills: [`nobody-${run}`] },
    });
    const ours = (r) => r.body.includes(created.session.id);
    await eventually(() => hook.received.some(ours));
    const delivery = hook.received.find(ours);
    await call(`/sessions/${created.session.id}/end`, { token: botToken, method: 'POST', json: {} });
    const expected = `sha256=${createHmac('sha256', secret).update(delivery.body).digest('hex')}`;
    assert.equal(delivery.signature, expected);
    await hookRow.getByRole('button', { name: /^Deliveries/ }).click();
    const table = webhooks.getByRole('table', { name: 'Recent deliveries' });
    await eventually(async () => {
      await webhooks.getByRole('button', { name: 'Refresh deliveries' }).click();
      return /session\.created.*delivered \(200\)/s.test(await table.textContent());
    });

    await adminPage.setViewportSize(PHONE);
    assert.ok(await fitsWidth(adminPage), 'the admin page fits 360 px');
    await screenshot(adminPage, 'workspace-admin-phone');
    await adminPage.setViewportSize(DESKTOP);

    await hookRow.getByRole('button', { name: /^Delete webhook/ }).click();
    await hookRow.getByRole('button', { name: /^Confirm deleting webhook/ }).click();
    await hookRow.waitFor({ state: 'detached' });
  } finally {
    hook.server.close();
  }

  await row.getByRole('button', { name: `Delete /hours${run}` }).click();
  await row.getByRole('button', { name: `Confirm deleting /hours${run}` }).click();
  await row.waitFor({ state: 'detached' });
  const left = await call('/canned-responses', { token: wesToken });
  assert.ok(!left.canned_responses.some((r) => r.shortcut === `hours${run}`), 'gone for specialists too');
});

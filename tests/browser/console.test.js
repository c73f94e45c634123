// The specialist console beyond the basic flow: a bot's handoff with its transcript,
// typing and read ticks, notes that stay with staff, unread counts, the queue with
// Pick up, and transfer to a named colleague. Sessions here ask for a skill only this
// file's specialists have, so they never reach another test's console.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import {
  launch, openPage, screenshot, call, adminToken, signIn, setStatus, run, DESKTOP, PHONE,
} from './harness.js';

const skill = `billing-${run}`;
const ana = { name: 'Ana Admin', email: `ana-${run}@example.com`, password: 'ana-password-1', role: 'admin' };
const ben = { name: 'Ben Specialist', email: `ben-${run}@example.com`, password: 'ben-password-1' };

let browser;
let botToken;
let anaPage;
let benPage;
let visitor;
let pages = [];
const handoffs = [];

before(async () => {
  browser = await launch();
  const token = await adminToken();
  for (const person of [ana, ben]) {
    await call('/specialists', { token, method: 'POST', json: { ...person, skills: [skill] } });
  }
  ({ token: botToken } = await call('/bots', { token, method: 'POST', json: { name: `Intake ${run}` } }));
  anaPage = await openPage(browser, DESKTOP);
  pages = [anaPage];
});

after(async () => {
  for (const page of [anaPage, benPage]) if (page) await setStatus(page, 'offline');
  await browser?.close();
});

afterEach(() => {
  for (const page of pages) assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
});

async function handoff(name, transcript = []) {
  const created = await call('/sessions', {
    token: botToken,
    method: 'POST',
    json: {
      visitor: { name, email: `${name.toLowerCase().replace(/\W/g, '')}@example.com` },
      intent: 'refund',
      skills: [skill],
      transcript,
      metadata: { order: '1042', plan: 'pro' },
    },
  });
  handoffs.push(created);
  return created;
}

const shown = (page) => page.locator('section.conversation:not([hidden])');
const widgetMessages = () => visitor.locator('#switchboard-widget ol.messages li[data-seq]');

test('a bot hands over: the offer shows intent and transcript, the chat shows the bot\'s part', async () => {
  await signIn(anaPage, ana, 'online');
  await handoff('Bo Buyer', [
    { from: 'visitor', body: 'I want a refund for order 1042' },
    { from: 'bot', body: 'Let me get a person for you' },
  ]);
  const offer = anaPage.getByRole('article', { name: /Bo Buyer/ });
  await offer.waitFor();
  assert.match(await offer.textContent(), /refund/);
  await offer.locator('li[data-seq]', { hasText: 'Let me get a person for you' }).waitFor();
  await screenshot(anaPage, 'console-bot-offer');
  await offer.getByRole('button', { name: 'Accept', exact: true }).click();
  const conversation = shown(anaPage);
  await conversation.locator('li.from-bot[data-seq]', { hasText: 'Let me get a person for you' }).waitFor();
  assert.match(await conversation.locator('li.from-bot').first().textContent(), /^Bot/);
  const details = await conversation.locator('dl.context').textContent();
  assert.match(details, /refund/);
  assert.match(details, /1042/);
});

test('the visitor the bot handed over continues in the widget, with typing and read ticks', async () => {
  visitor = await openPage(browser, PHONE, {
    storage: {
      'switchboard.widget.token': JSON.stringify(handoffs[0].visitor_token),
      'switchboard.widget.open': 'true',
    },
  });
  pages.push(visitor);
  await visitor.goto('/');
  await widgetMessages().filter({ hasText: 'Let me get a person for you' }).waitFor();
  await eventually(async () => /chatting with Ana Admin/.test(await visitor.getByRole('status').textContent()));
  await visitor.getByLabel('Message').pressSequentially('Are you th');
  await shown(anaPage).getByText('Bo Buyer is typing…').waitFor();
  await visitor.getByLabel('Message').fill('Are you there?');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await shown(anaPage).locator('li[data-seq]', { hasText: 'Are you there?' }).waitFor();
  await anaPage.getByLabel('Message').fill('Yes, I am looking at order 1042.');
  await anaPage.getByRole('button', { name: 'Send', exact: true }).click();
  await widgetMessages().filter({ hasText: 'looking at order 1042' }).waitFor();
  // The widget is open and visible, so it reports the reply as read.
  await shown(anaPage).locator('li.mine[data-seq]', { hasText: 'looking at order 1042' })
    .getByLabel('Read').waitFor();
});

test('a note is marked as a note in the console and never reaches the visitor', async () => {
  await anaPage.getByLabel('Message').fill('Customer is on the pro plan; refund allowed.');
  await anaPage.getByRole('button', { name: 'Add note', exact: true }).click();
  const note = shown(anaPage).locator('li.kind-note[data-seq]', { hasText: 'refund allowed' });
  await note.waitFor();
  assert.match(await note.textContent(), /^Note · Ana Admin/);
  const plain = shown(anaPage).locator('li.mine[data-seq]', { hasText: 'looking at order 1042' });
  const background = (locator) => locator.evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.notEqual(await background(note), await background(plain));
  await anaPage.getByLabel('Message').fill('One moment please.');
  await anaPage.getByRole('button', { name: 'Send', exact: true }).click();
  await widgetMessages().filter({ hasText: 'One moment please.' }).waitFor();
  assert.equal(await widgetMessages().filter({ hasText: 'refund allowed' }).count(), 0);
  await screenshot(anaPage, 'console-note');
});

test('a second chat: messages to the chat not shown count as unread', async () => {
  await handoff('Cy Customer');
  await anaPage.getByRole('article', { name: /Cy Customer/ }).getByRole('button', { name: 'Accept' }).click();
  await eventually(async () => /Cy Customer/.test(await shown(anaPage).locator('h2').textContent()));
  await visitor.getByLabel('Message').fill('Hello? Still here.');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  const boItem = anaPage.getByRole('list', { name: 'My chats' }).getByRole('button', { name: /Bo Buyer/ });
  await boItem.getByLabel('1 unread').waitFor();
  await eventually(async () => (await anaPage.title()).startsWith('(1)'));
  await boItem.click();
  await shown(anaPage).locator('li[data-seq]', { hasText: 'Still here' }).waitFor();
  assert.equal(await boItem.getByLabel(/unread/).count(), 0);
});

test('a waiting chat can be picked up from the queue', async () => {
  await setStatus(anaPage, 'away');
  await handoff('Di Waiting');
  const entry = anaPage.getByRole('list', { name: 'Waiting visitors' }).getByRole('listitem')
    .filter({ hasText: 'Di Waiting' });
  await entry.waitFor();
  await screenshot(anaPage, 'console-queue');
  await entry.getByRole('button', { name: 'Pick up', exact: true }).click();
  await eventually(async () => /Di Waiting/.test(await shown(anaPage).locator('h2').textContent()));
  await entry.waitFor({ state: 'detached' });
});

test('a chat is transferred to a named colleague, who gets it with the note', async () => {
  benPage = await openPage(browser, DESKTOP);
  pages.push(benPage);
  await signIn(benPage, ben, 'online');
  // A reload of the console brings every open chat back.
  await anaPage.reload();
  const chats = anaPage.getByRole('list', { name: 'My chats' });
  for (const name of ['Bo Buyer', 'Cy Customer', 'Di Waiting']) {
    await chats.getByRole('button', { name: new RegExp(name) }).waitFor();
  }
  await chats.getByRole('button', { name: /Bo Buyer/ }).click();
  await shown(anaPage).getByRole('button', { name: 'Transfer', exact: true }).click();
  await shown(anaPage).getByLabel('To specialist').selectOption({ label: `${ben.name} (${ben.email})` });
  await shown(anaPage).getByLabel('Note for the next specialist').fill('Refund approved, please finish it.');
  await shown(anaPage).getByRole('button', { name: 'Transfer chat' }).click();
  await anaPage.getByRole('list', { name: 'My chats' }).getByRole('button', { name: /Bo Buyer/ })
    .waitFor({ state: 'detached' });
  await benPage.getByRole('article', { name: /Bo Buyer/ }).getByRole('button', { name: 'Accept' }).click();
  await shown(benPage).locator('li.kind-note[data-seq]', { hasText: 'Refund approved' }).waitFor();
  await shown(benPage).locator('li[data-seq]', { hasText: 'Are you there?' }).waitFor();
  await eventually(async () => /chatting with Ben Specialist/.test(await visitor.getByRole('status').textContent()));
  await screenshot(benPage, 'console-transferred');
});

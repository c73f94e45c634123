// When nobody can answer (SPEC section 14), person by person: outside business hours a
// visitor on a phone leaves a message instead of waiting; a specialist finds it under
// "Needs reply" and answers while the visitor is away (the answer also goes by e-mail);
// the visitor comes back to the answer and the chat goes on live, and at its end asks
// for the transcript by e-mail; a visitor who waits too long in the queue leaves a
// message instead; one who asks just as the hours end is offered the form; an admin
// sets the business hours and sees the mail.
//
// Business hours and a short leave_message_after_secs would change what every other
// test file sees, so this file runs a server of its own (servers.js), whose first admin
// it makes through the logged setup link.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import * as shared from './harness.js';
import { launch, openPage, screenshot, run, fitsWidth, DESKTOP, PHONE } from './harness.js';
import { startServer } from './servers.js';

const admin = { email: 'hours-admin@example.com', name: 'Hana Hours', password: 'hana-password-1' };
const lea = { name: 'Lea Later', email: `lea-${run}@example.com`, password: 'lea-password-1' };
const olga = { name: 'Olga Offline', email: 'olga@example.com', phone: '+49 30 1234567' };
const question = 'My parcel <b>1042</b> never arrived, can you check?';
const answer = 'Hello Olga, the courier has it; it arrives tomorrow.';
const WAIT_SECS = 3;

let browser;
let fresh;
let adminToken;
let visitor;
let agent;
let adminPage;
let pages = [];

/** JSON over the HTTP API of this file's server. */
const call = (path, options = {}) => shared.call(path, { ...options, at: fresh.url });

async function signIn(page, path, person) {
  await page.goto(`${fresh.url}${path}`);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** A weekly schedule in UTC: every day open all day, except on `closedDates`. */
function allDay(closedDates = []) {
  const weekly = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => [day, [['00:00', '24:00']]]));
  return { time_zone: 'UTC', weekly, closed_dates: closedDates, skills: {} };
}

const utcDate = (daysFromNow) => new Date(Date.now() + daysFromNow * 86400000).toISOString().slice(0, 10);
const widgetMessages = (page) => page.locator('#switchboard-widget ol.messages li[data-seq]');
const shownConversation = () => agent.locator('section.conversation:not([hidden])');
const needsReply = () => agent.getByRole('region', { name: 'Needs reply' });

before(async () => {
  browser = await launch();
  fresh = await startServer({ SWITCHBOARD_LEAVE_MESSAGE_AFTER_SECS: String(WAIT_SECS) });
  const link = new URL((await fresh.logLine('/admin/setup?token=')).match(/http:\/\/\S+/)[0]);
  await call(`/setup?token=${link.searchParams.get('token')}`, { method: 'POST', json: admin });
  ({ token: adminToken } = await call('/auth/login', { method: 'POST', json: { email: admin.email, password: admin.password } }));
  await call('/specialists', { token: adminToken, method: 'POST', json: lea });
  // Closed today and tomorrow (UTC), so it is closed now and opens at a known time.
  await call('/business-hours', { token: adminToken, method: 'PUT', json: allDay([utcDate(0), utcDate(1)]) });
  visitor = await openPage(browser, PHONE);
  agent = await openPage(browser, DESKTOP);
  pages = [visitor, agent];
});

after(async () => {
  await browser?.close();
  await fresh?.stop();
});

afterEach(() => {
  for (const page of pages) assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
});

test('outside business hours the widget offers a form, and the visitor leaves a message', async () => {
  await visitor.goto(`${fresh.url}/`);
  await visitor.getByRole('button', { name: 'Chat with us' }).click();
  const status = visitor.getByRole('status');
  await eventually(async () => /We're closed right now\. We open at /.test(await status.textContent()));
  assert.equal(await visitor.getByRole('button', { name: 'Start chat' }).count(), 0, 'no queue to join');

  await visitor.getByLabel('Name').fill(olga.name);
  await visitor.getByLabel('Email').fill(olga.email);
  await visitor.getByLabel('Phone').fill(olga.phone);
  await visitor.getByLabel('Call me back').check();
  await visitor.getByRole('textbox', { name: 'Message', exact: true }).fill(question);
  assert.ok(await fitsWidth(visitor), 'the form fits 360 px');
  await screenshot(visitor, 'offline-widget-form');
  await visitor.getByRole('button', { name: 'Send message', exact: true }).click();

  await eventually(async () => /Thanks — we'll reply by e-mail\./.test(await status.textContent()));
  await widgetMessages(visitor).filter({ hasText: question }).waitFor();
  assert.equal(await widgetMessages(visitor).locator('b').count(), 0, 'the message is text, not markup');
  await screenshot(visitor, 'offline-widget-left');
  // The visitor goes away; the answer will wait for them.
  await visitor.goto('about:blank');
});

test('a specialist finds the message under Needs reply and answers it', async () => {
  await signIn(agent, '/console', lea);
  const item = needsReply().getByRole('listitem').filter({ hasText: olga.name });
  await item.waitFor();
  for (const text of [olga.email, olga.phone, 'Call back requested', question]) {
    await item.getByText(text, { exact: true }).waitFor();
  }
  await screenshot(agent, 'offline-console-needs-reply');

  await item.getByRole('button', { name: 'Reply', exact: true }).click();
  await shownConversation().locator('li[data-seq]', { hasText: question }).waitFor();
  await agent.getByLabel('Message').fill(answer);
  await agent.getByRole('button', { name: 'Send', exact: true }).click();
  await shownConversation().locator('li.mine[data-seq]', { hasText: answer }).waitFor();

  // Olga was away, so the answer went to her e-mail too (it waits: no SMTP here).
  await eventually(async () => {
    const { mail } = await call('/mail?limit=50', { token: adminToken });
    return mail.some((item) => item.kind === 'reply' && item.to === olga.email);
  });
});

test('the visitor comes back to the answer, and the chat goes on live', async () => {
  await visitor.goto(`${fresh.url}/`);
  await widgetMessages(visitor).filter({ hasText: answer }).waitFor();
  await widgetMessages(visitor).filter({ hasText: question }).waitFor();
  await eventually(async () => /chatting with Lea Later/.test(await visitor.getByRole('status').textContent()));
  await screenshot(visitor, 'offline-widget-answered');

  await visitor.getByLabel('Message').fill('Wonderful, thank you!');
  await visitor.getByRole('button', { name: 'Send', exact: true }).click();
  await shownConversation().locator('li[data-seq]', { hasText: 'Wonderful, thank you!' }).waitFor();
});

test('at the end the visitor has the transcript e-mailed, and the admin sees the mail', async () => {
  await shownConversation().getByRole('button', { name: 'End chat', exact: true }).click();
  await visitor.getByRole('button', { name: 'Email transcript', exact: true }).waitFor();
  // The start form's field is hidden now; the transcript's is the one shown.
  const email = visitor.getByRole('textbox', { name: 'Email', exact: true });
  assert.equal(await email.inputValue(), olga.email, 'prefilled with the address given');
  await visitor.getByRole('button', { name: 'Email transcript', exact: true }).click();
  await visitor.getByText('Transcript sent', { exact: true }).waitFor();
  await screenshot(visitor, 'offline-widget-transcript');

  adminPage = await openPage(browser, DESKTOP);
  pages.push(adminPage);
  await signIn(adminPage, '/admin', admin);
  const mail = adminPage.getByRole('table', { name: 'Recent mail' });
  const rows = mail.getByRole('row').filter({ hasText: olga.email });
  await eventually(async () => (await rows.count()) === 2);
  for (const row of await rows.all()) assert.match(await row.textContent(), /pending/);
  const { mail: listed } = await call('/mail?limit=50', { token: adminToken });
  assert.deepEqual(listed.map((item) => item.kind).sort(), ['reply', 'transcript']);
});

test('a visitor who waits too long in the queue leaves a message instead', async () => {
  await call('/business-hours', { token: adminToken, method: 'PUT', json: allDay() });
  await agent.getByLabel('Status').selectOption('online');
  await agent.getByText('Taking new chats', { exact: true }).waitFor();

  const waiter = await openPage(browser, PHONE);
  pages.push(waiter);
  await waiter.goto(`${fresh.url}/`);
  await waiter.getByRole('button', { name: 'Chat with us' }).click();
  await waiter.getByLabel('Name').fill('Wendy Waiting');
  await waiter.getByRole('button', { name: 'Start chat', exact: true }).click();
  await eventually(async () => /queue/.test(await waiter.getByRole('status').textContent()));
  await waiter.getByLabel('Message').fill('Is anyone there?');
  await waiter.getByRole('button', { name: 'Send', exact: true }).click();
  const offer = agent.getByRole('article', { name: /Wendy Waiting/ });
  await offer.waitFor();

  await waiter.getByRole('button', { name: 'Leave a message instead', exact: true }).click({ timeout: (WAIT_SECS + 10) * 1000 });
  await waiter.getByLabel('Email').fill('wendy@example.com');
  await waiter.getByRole('textbox', { name: 'Message', exact: true }).fill('Please call me tomorrow.');
  assert.ok(await fitsWidth(waiter), 'the form fits 360 px');
  await screenshot(waiter, 'offline-widget-leave-instead');
  await waiter.getByRole('button', { name: 'Send message', exact: true }).click();
  await eventually(async () => /we'll reply by e-mail/.test(await waiter.getByRole('status').textContent()));
  await widgetMessages(waiter).filter({ hasText: 'Please call me tomorrow.' }).waitFor();
  await widgetMessages(waiter).filter({ hasText: 'Is anyone there?' }).waitFor();

  // It left the queue: the offer is withdrawn at once (not when it would expire), and
  // the message waits under Needs reply.
  await offer.waitFor({ state: 'detached', timeout: 5000 });
  await needsReply().getByRole('listitem').filter({ hasText: 'Wendy Waiting' }).waitFor({ timeout: 15000 });
});

test('a chat asked for just as the hours end gets the form, with the server\'s reason', async () => {
  await agent.getByLabel('Status').selectOption('offline');
  await agent.getByText('Not available', { exact: true }).waitFor();
  await call('/business-hours', { token: adminToken, method: 'PUT', json: allDay() });
  const late = await openPage(browser, PHONE);
  pages.push(late);
  await late.goto(`${fresh.url}/`);
  await late.getByRole('button', { name: 'Chat with us' }).click();
  // Nobody is online: the form is offered, and waiting is still possible.
  await late.getByRole('button', { name: 'Send message', exact: true }).waitFor();
  const start = late.getByRole('button', { name: 'Start chat', exact: true });
  await start.waitFor();
  await call('/business-hours', { token: adminToken, method: 'PUT', json: allDay([utcDate(0), utcDate(1)]) });
  await start.click();
  await eventually(async () => /^The chat is closed/.test(await late.getByRole('status').textContent()));
  await start.waitFor({ state: 'hidden' });
  await late.getByRole('button', { name: 'Send message', exact: true }).waitFor();
  await screenshot(late, 'offline-widget-refused');
});

test('an admin sets the business hours in the admin page', async () => {
  const section = adminPage.getByRole('region', { name: 'Business hours' });
  await section.getByLabel('Time zone').fill('Europe/Berlin');
  await section.getByLabel('Monday').fill('09:00-12:30, 13:30-17:30');
  await section.getByLabel('Tuesday').fill('9:00-17:00');
  for (const day of ['Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']) await section.getByLabel(day).fill('');
  await section.getByLabel('Closed dates').fill('2026-12-26\n2026-12-25\n');
  await section.getByRole('button', { name: 'Save business hours' }).click();
  await section.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  await screenshot(adminPage, 'offline-admin-hours');

  const { business_hours: hours } = await call('/business-hours', { token: adminToken });
  assert.equal(hours.time_zone, 'Europe/Berlin');
  assert.deepEqual(hours.weekly.mon, [['09:00', '12:30'], ['13:30', '17:30']]);
  assert.deepEqual(hours.weekly.tue, [['09:00', '17:00']]);
  assert.deepEqual(hours.weekly.sun || [], []);
  assert.deepEqual(hours.closed_dates, ['2026-12-25', '2026-12-26']);

  // A zone the server does not know: its reason is shown, and nothing changes.
  await section.getByLabel('Time zone').fill('Mars/Olympus_Mons');
  await section.getByRole('button', { name: 'Save business hours' }).click();
  await eventually(async () => {
    const text = await section.getByRole('status').textContent();
    return text && text !== 'Saved';
  });
  assert.equal((await call('/business-hours', { token: adminToken })).business_hours.time_zone, 'Europe/Berlin');
  // The refused save is the one error this page may log.
  adminPage.problems = adminPage.problems.filter((problem) => !/status of 400/.test(problem));

  // Removed (after a confirming second click): the chat is open at all times again.
  await section.getByRole('button', { name: 'Remove business hours' }).click();
  await section.getByRole('button', { name: 'Confirm removing business hours' }).click();
  await section.getByText('open at all times', { exact: false }).waitFor();
  assert.equal((await call('/business-hours', { token: adminToken })).business_hours, null);
});

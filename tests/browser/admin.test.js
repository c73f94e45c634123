// The admin dashboard beyond creating a specialist: bots (token shown once, revoke that
// really stops the token), disabling a specialist (who then cannot sign in), and the
// live queue showing a waiting visitor.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openPage, screenshot, call, adminToken, signInAdmin, run, DESKTOP, PHONE,
} from './harness.js';

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await openPage(browser, DESKTOP);
  await signInAdmin(page);
  await page.getByRole('heading', { name: 'Bots' }).waitFor();
});

after(async () => {
  await browser?.close();
});

afterEach(() => {
  assert.deepEqual(page.problems, []);
});

test('a bot is created with its token shown once, and revoking it stops the token', async () => {
  const name = `Helpdesk bot ${run}`;
  await page.getByLabel('Bot name').fill(name);
  await page.getByRole('button', { name: 'Create bot' }).click();
  const tokenBox = page.getByLabel('Bot token');
  await tokenBox.waitFor();
  const token = await tokenBox.inputValue();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  await call('/sessions?limit=1', { token });
  await page.getByRole('button', { name: 'Done' }).click();
  await tokenBox.waitFor({ state: 'detached' });
  assert.equal(await page.getByText(token).count(), 0);

  await page.getByRole('button', { name: `Revoke ${name}` }).click();
  await page.getByRole('button', { name: `Confirm revoking ${name}` }).click();
  await page.getByRole('row', { name: new RegExp(`${name}.*revoked`) }).waitFor();
  await assert.rejects(call('/sessions?limit=1', { token }), /401/);
});

test('a disabled specialist cannot sign in to the console', async () => {
  const person = { name: `Dora ${run}`, email: `dora-${run}@example.com`, password: 'dora-password-1' };
  await call('/specialists', { token: await adminToken(), method: 'POST', json: person });
  await page.reload();
  await page.getByRole('button', { name: `Disable ${person.name}` }).click();
  await page.getByRole('row', { name: new RegExp(`${person.email}.*disabled`) }).waitFor();

  const consolePage = await openPage(browser, DESKTOP);
  await consolePage.goto('/console');
  await consolePage.getByLabel('Email').fill(person.email);
  await consolePage.getByLabel('Password').fill(person.password);
  await consolePage.getByRole('button', { name: 'Log in' }).click();
  await consolePage.getByRole('alert').filter({ hasText: /wrong e-mail or password/i }).waitFor();
  // The refused login is the one error this page may log.
  assert.deepEqual(consolePage.problems.filter((p) => !/status of 401/.test(p)), []);
});

test('the live queue shows a waiting visitor', async () => {
  const visitor = await openPage(browser, PHONE);
  await visitor.goto('/');
  await visitor.getByRole('button', { name: 'Chat with us' }).click();
  await visitor.getByLabel('Name').fill(`Quinn ${run}`);
  await visitor.getByRole('button', { name: 'Start chat', exact: true }).click();
  await page.getByRole('list', { name: 'Waiting visitors' }).getByText(`Quinn ${run}`).waitFor();
  await screenshot(page, 'admin-live-queue');
  // Ended, so no later test's specialist is offered this visitor.
  await visitor.getByRole('button', { name: 'End chat', exact: true }).click();
  await page.getByRole('list', { name: 'Waiting visitors' }).getByText(`Quinn ${run}`)
    .waitFor({ state: 'detached' });
  assert.deepEqual(visitor.problems, []);
});

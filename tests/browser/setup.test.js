// The first run (SPEC section 11): a server on a fresh database logs a one-time link;
// its page creates the first admin, who then signs in to the console; the link is dead
// afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, screenshot, DESKTOP } from './harness.js';
import { startServer } from './servers.js';

let browser;
let fresh;

before(async () => {
  browser = await launch();
  fresh = await startServer();
});

after(async () => {
  await browser?.close();
  await fresh?.stop();
});

test('the logged setup link creates the first admin, who signs in; then the link is dead', async () => {
  const line = await fresh.logLine('/admin/setup?token=');
  const link = line.match(/http:\/\/\S+/)[0];
  assert.ok(link.startsWith(`${fresh.url}/admin/setup?token=`), line);
  const admin = { email: 'first@example.com', name: 'First Admin', password: 'first-admin-password' };

  const page = await openPage(browser, DESKTOP);
  await page.goto(link);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Name').fill(admin.name);
  await page.getByLabel(/^Password/).fill(admin.password);
  await screenshot(page, 'setup-form');
  await page.getByRole('button', { name: 'Create the admin' }).click();
  await page.getByRole('heading', { name: 'The admin is ready' }).waitFor();
  assert.deepEqual(page.problems, []);

  await page.getByRole('link', { name: 'Console' }).click();
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByLabel('Status').waitFor();
  assert.deepEqual(page.problems, []);

  const again = await openPage(browser, DESKTOP);
  await again.goto(link);
  await again.getByRole('heading', { name: 'This setup link does not work' }).waitFor();
  assert.equal(await again.getByRole('button', { name: 'Create the admin' }).count(), 0);
  await screenshot(again, 'setup-link-used');
});

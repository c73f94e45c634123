// What every browser test needs: the server under test (started by
// scripts/lib/browser_tests.sh, which passes its address and the admin's credentials in
// the environment), Debian's Chromium driven by playwright-core, and pages that record
// every uncaught error, console error and dialog so a test can insist there were none.

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const server = process.env.SWITCHBOARD_URL;
export const admin = { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD };
if (!server || !admin.email || !admin.password) {
  throw new Error('run through scripts/lib/browser_tests.sh (SWITCHBOARD_URL, ADMIN_EMAIL, ADMIN_PASSWORD)');
}

const screenshots = fileURLToPath(new URL('./screenshots/', import.meta.url));
mkdirSync(screenshots, { recursive: true });

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-background-networking'],
  });
}

/**
 * A page in its own browser context (its own storage, like a separate person), with
 * `page.problems`: uncaught errors, console errors and dialogs, in order.
 */
export async function openPage(browser, viewport, { storage } = {}) {
  const context = await browser.newContext({ viewport, baseURL: server });
  if (storage) {
    // Seeds localStorage before any page script runs (e.g. a visitor token from a bot).
    await context.addInitScript((entries) => {
      if (localStorage.getItem('seeded')) return;
      for (const [key, value] of Object.entries(entries)) localStorage.setItem(key, value);
      localStorage.setItem('seeded', 'yes');
    }, storage);
  }
  // Generous: the debug build hashes passwords slowly, and the machine is shared.
  context.setDefaultTimeout(30000);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console error: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    page.problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return page;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true });
}

/**
 * JSON over the HTTP API, for setting up what a test does not exercise through a page;
 * of the shared server unless `at` names another.
 */
export async function call(path, { token, method = 'GET', json, at = server } = {}) {
  const response = await fetch(`${at}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(json ? { 'Content-Type': 'application/json' } : {}),
    },
    body: json ? JSON.stringify(json) : undefined,
  });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

export async function adminToken() {
  const { token } = await call('/auth/login', { method: 'POST', json: admin });
  return token;
}

/** Signs a specialist in at /console and sets their status. */
export async function signIn(page, { email, password }, status = 'online') {
  await page.goto('/console');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await setStatus(page, status);
}

/** Signs the admin in at /admin. */
export async function signInAdmin(page) {
  await page.goto('/admin');
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function setStatus(page, status) {
  const confirmed = { online: 'Taking new chats', away: 'No new chats', offline: 'Not available' };
  await page.getByLabel('Status').selectOption(status);
  await page.getByText(confirmed[status], { exact: true }).waitFor();
}

/** A short unique suffix, so runs against the same server never collide. */
export const run = Date.now().toString(36);

/** Nothing sticks out sideways: the page works without horizontal scrolling. */
export async function fitsWidth(page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  return scrollWidth <= innerWidth;
}

// More servers beside the one under test, for tests that need a server in another state
// (a database without an admin, other settings). Each runs the same binary on its own
// fresh database, data directory and port (scripts/lib/browser_tests.sh exports
// SWITCHBOARD_BIN and PG_SERVER_URL), and keeps what it logs.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const binary = process.env.SWITCHBOARD_BIN;
const postgres = process.env.PG_SERVER_URL;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

function psql(sql) {
  execFileSync('psql', [`${postgres}/postgres`, '-qc', sql], { stdio: 'ignore' });
}

/**
 * Starts a server with `env` added to its settings and waits until it is ready.
 * Resolves to {url, logLine(text, timeoutMs), stop()}.
 */
export async function startServer(env = {}) {
  if (!binary || !postgres) throw new Error('run through scripts/lib/browser_tests.sh');
  const database = `sbb_${Math.random().toString(16).slice(2, 14)}`;
  psql(`CREATE DATABASE ${database}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-browser-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const lines = [];
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      DATABASE_URL: `${postgres}/${database}`,
      SWITCHBOARD_BIND: `127.0.0.1:${port}`,
      SWITCHBOARD_DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let pending = '';
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop();
    lines.push(...complete);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));

  const server = {
    url,
    /** The first line logged with `text` in it, waiting up to `timeoutMs`. */
    async logLine(text, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find((l) => l.includes(text));
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no log line with ${text}:\n${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 30000;
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) return server;
    if (child.exitCode !== null || Date.now() > deadline) {
      await server.stop();
      throw new Error(`the extra server did not start:\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

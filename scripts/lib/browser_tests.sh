#!/usr/bin/env bash
# The browser tests (tests/browser): the visitor widget, the specialist console and the
# admin dashboard, driven in Debian's headless Chromium by playwright-core.
#
# Installs what they need (chromium, node, the npm packages), builds the server, and runs
# it on a free port against a fresh database (sbb_<random>) with a temporary data
# directory; everything is removed again at the end. Uses $PG_SERVER_URL, else the
# Postgres that scripts/lib/postgres.sh finds or starts. Screenshots go to
# tests/browser/screenshots/.
#
# Arguments, if any, are test files (relative to tests/browser) to run instead of all:
#   scripts/lib/browser_tests.sh workspace.test.js
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

ensure_browser_deps() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

ensure_build_deps
ensure_browser_deps
if [ -z "${PG_SERVER_URL:-}" ]; then
  ensure_postgres
fi

DATABASE="sbb_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
DATA_DIR=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql "$PG_SERVER_URL/postgres" -qc "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$DATA_DIR"
  stop_private_cluster
}
trap cleanup EXIT

# SWITCHBOARD_BIN runs a binary built beforehand instead (worktrees that share one
# target directory overwrite each other's target/debug/switchboard).
if [ -z "${SWITCHBOARD_BIN:-}" ]; then
  cargo build --bin switchboard
  SWITCHBOARD_BIN=$ROOT/target/debug/switchboard
fi
# Tests that need another server beside this one start it themselves (servers.js).
export SWITCHBOARD_BIN PG_SERVER_URL
psql "$PG_SERVER_URL/postgres" -qc "CREATE DATABASE $DATABASE" >/dev/null

PORT=$(free_port)
export DATABASE_URL="$PG_SERVER_URL/$DATABASE"
export SWITCHBOARD_DATA_DIR="$DATA_DIR"
export SWITCHBOARD_BIND="127.0.0.1:$PORT"
# The webhook test's receiver listens on loopback, in the test process.
export SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true
# The embedding test's shop pages: on 127.0.0.2 (listed, any port) and 127.0.0.3 (not).
export SWITCHBOARD_ALLOWED_ORIGINS="http://127.0.0.2:*"
export ADMIN_EMAIL="admin@example.com"
export ADMIN_PASSWORD="browser-tests-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
"$SWITCHBOARD_BIN" create-admin --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" >/dev/null
"$SWITCHBOARD_BIN" >"$DATA_DIR/server.log" 2>&1 &
SERVER_PID=$!

export SWITCHBOARD_URL="http://127.0.0.1:$PORT"
ready() {
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$SWITCHBOARD_URL/readyz"
}
for _ in $(seq 1 150); do
  ready && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA_DIR/server.log" >&2; exit 1; }
  sleep 0.2
done
ready || { log "the server did not become ready"; tail -n 40 "$DATA_DIR/server.log" >&2; exit 1; }
log "browser tests against $SWITCHBOARD_URL (database $DATABASE)"

if ! (cd tests/browser && npm test --silent -- "$@"); then
  log "browser tests failed; the server's log ends with:"
  tail -n 40 "$DATA_DIR/server.log" >&2
  exit 1
fi

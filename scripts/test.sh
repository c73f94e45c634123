#!/usr/bin/env bash
# Runs every test against a real Postgres (found or started as scripts/run.sh does).
# Arguments go to `cargo test`, e.g. `scripts/test.sh --test identities`; without
# arguments the HTTP API is also fuzzed against its OpenAPI document afterwards, and
# the web pages are tested in a real browser (scripts/lib/browser_tests.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

ensure_build_deps
# tests/proxy.rs runs the server behind a real nginx.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
# tests/nats.rs runs nodes against a real NATS server of its own.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
# The shape of src/: no import circles between files, no file over 600 lines.
command -v python3 >/dev/null || apt_install python3
# tests/mail.rs sends mail to a real SMTP server, aiosmtpd; Debian's package installs it
# for the system's Python, which may not be the first python3 on the path.
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || python3 -c 'import aiosmtpd' 2>/dev/null ||
  apt_install python3-aiosmtpd
python3 scripts/lib/structure.py
ensure_postgres
trap stop_private_cluster EXIT
# The harness creates one database per test on this server.
export DATABASE_URL="$PG_SERVER_URL/postgres"
log "Postgres server: $PG_SERVER_URL"

# Databases left by interrupted runs (each test drops its own when it ends).
psql "$DATABASE_URL" -Atqc "select datname from pg_database where datname like 'sbt\_%'" |
  while read -r leftover; do psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $leftover WITH (FORCE)" >/dev/null; done

cargo test "$@"
if [ $# -eq 0 ]; then
  scripts/lib/api_fuzz.sh
  scripts/lib/browser_tests.sh
fi

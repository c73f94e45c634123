#!/usr/bin/env bash
# Runs Switchboard: finds or starts Postgres, builds, migrates (at start-up) and serves.
# Extra arguments go to the server, e.g. `scripts/run.sh --bind 0.0.0.0:8080`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

ensure_build_deps
ensure_postgres
trap stop_private_cluster EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  export DATABASE_URL="$PG_SERVER_URL/switchboard"
  if ! psql "$PG_SERVER_URL/postgres" -Atqc "select 1 from pg_database where datname = 'switchboard'" | grep -q 1; then
    psql "$PG_SERVER_URL/postgres" -qc 'CREATE DATABASE switchboard' >/dev/null
  fi
fi
log "database: $DATABASE_URL"
cargo build --release --bin switchboard
./target/release/switchboard "$@"

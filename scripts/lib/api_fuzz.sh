#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with Schemathesis (PyPI): a fresh
# server on a fresh database, then a run as a bot and a run as an admin. Any 5xx, or any
# response the document does not describe (status, content type, headers, body schema),
# fails the run.
#
# Usage: scripts/lib/api_fuzz.sh [EXAMPLES]   (examples per operation and role, default 30)
# Uses the Postgres server of DATABASE_URL, or finds/starts one like scripts/run.sh.
# Schemathesis is installed into var/api-fuzz (a Python venv) the first time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${1:-30}
VENV="$ROOT/var/api-fuzz"
WORK=$(mktemp -d)
DATABASE="sbt_api_fuzz_$$"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "${PG_SERVER_URL:-}" ]; then
    psql "$PG_SERVER_URL/postgres" -qc "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  stop_private_cluster
}
trap cleanup EXIT

ensure_schemathesis() {
  if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    return
  fi
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

ensure_build_deps
ensure_schemathesis
ensure_postgres
cargo build -q --bin switchboard

psql "$PG_SERVER_URL/postgres" -qc "CREATE DATABASE $DATABASE" >/dev/null
export DATABASE_URL="$PG_SERVER_URL/$DATABASE"
export SWITCHBOARD_DATA_DIR="$WORK/data"
export SWITCHBOARD_JWT_SECRET
SWITCHBOARD_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
# Sign-ups are rate limited per address; the fuzzer is one address.
export SWITCHBOARD_VISITOR_SIGNUPS_PER_MINUTE=100000
SERVER=target/debug/switchboard

RUST_LOG=info "$SERVER" --bind 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -n 1)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; log "the server did not start"; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { log "the server did not report its port"; exit 1; }
BASE="http://127.0.0.1:$PORT"
log "fuzzing $BASE with schemathesis ($EXAMPLES examples per operation and role)"

"$SERVER" create-admin --email fuzz-admin@example.com --password fuzz-admin-password >/dev/null
BOT_TOKEN=$("$SERVER" bot-token --name "API fuzz bot")
ADMIN_TOKEN=$(python3 - "$BASE" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(
    sys.argv[1] + "/api/v1/auth/login",
    data=json.dumps({"email": "fuzz-admin@example.com", "password": "fuzz-admin-password"}).encode(),
    headers={"Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(request))["token"])
PY
)

status=0
for role in bot admin; do
  token=BOT_TOKEN; [ "$role" = admin ] && token=ADMIN_TOKEN
  log "schemathesis as $role"
  # From the scratch directory, where Schemathesis keeps its cache.
  (cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
    --header "Authorization: Bearer ${!token}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed 1 --no-color --warnings off) || status=1
done
if grep -q ' ERROR switchboard' "$WORK/server.log"; then
  grep ' ERROR switchboard' "$WORK/server.log" >&2
  log "the server logged errors during the fuzz run"
  status=1
fi
exit $status

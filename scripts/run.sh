#!/usr/bin/env bash
# Runs Switchboard: finds or starts Postgres, builds, migrates (at start-up) and serves,
# and once the server answers prints the addresses of its pages.
#
#   scripts/run.sh                          # serve (extra flags go to the server,
#                                           #   e.g. --bind 0.0.0.0:8080)
#   scripts/run.sh create-admin --email you@example.com --password '…'
#   scripts/run.sh bot-token --name "Intake bot"
#
# A subcommand runs against the same database the server uses (the private cluster
# included, started for it when the server is not running).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

ensure_build_deps
command -v curl >/dev/null || apt_install curl
ensure_postgres
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  stop_private_cluster
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
build_server

case "${1:-}" in
  create-admin | bot-token | help | --help | -h)
    "$SWITCHBOARD_BIN" "$@"
    exit ;;
esac

# Where the pages are: the --bind flag, else SWITCHBOARD_BIND, else the default.
bind=${SWITCHBOARD_BIND:-127.0.0.1:8080}
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --bind=*) bind=${args[$i]#--bind=} ;;
    --bind) bind=${args[$((i + 1))]:-$bind} ;;
  esac
done
case "$bind" in
  0.0.0.0:*) bind="127.0.0.1:${bind#0.0.0.0:}" ;;
  "[::]:"*) bind="[::1]:${bind#\[::\]:}" ;;
esac
url="http://$bind"

"$SWITCHBOARD_BIN" "$@" &
SERVER_PID=$!
until curl -sf -o /dev/null "$url/healthz"; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" && status=0 || status=$?
    SERVER_PID=""
    log "the server stopped (exit status $status)"
    exit "$status"
  fi
  sleep 0.2
done
log "Switchboard is up:"
log "  demo page with the widget  $url/"
log "  specialist console         $url/console"
log "  admin page                 $url/admin"
if [ "$(psql "$DATABASE_URL" -Atqc "select exists(select 1 from specialists where role = 'admin' and disabled_at is null)")" = f ]; then
  log "No admin yet: open the setup link the server logged above to create one."
fi
wait "$SERVER_PID" && status=0 || status=$?
SERVER_PID=""
exit "$status"

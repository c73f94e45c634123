# shellcheck shell=bash
# Sourced after postgres.sh (it uses its log and apt_install): makes sure a NATS server
# answers and exports SWITCHBOARD_NATS_URL for the nodes.
#
# Rule (SPEC section 13), as for Postgres: use SWITCHBOARD_NATS_URL when it is set;
# otherwise the NATS at 127.0.0.1:4222 when one answers; otherwise a private nats-server
# on 127.0.0.1:$SWITCHBOARD_PRIVATE_NATS_PORT (54222), its pid and log under var/nats.

PRIVATE_NATS_PORT=${SWITCHBOARD_PRIVATE_NATS_PORT:-54222}
PRIVATE_NATS_DIR="$ROOT/var/nats"
STARTED_PRIVATE_NATS=""

# A NATS server greets every connection with `INFO {…}`, so a port that is open but
# silent, or says something else, is some other service's, not a NATS to join.
nats_answers() { # host port
  local greeting
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's
  greeting=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -c 5 <&3' _ "$1" "$2" 2>/dev/null) || return 1
  [ "$greeting" = "INFO " ]
}

start_private_nats() {
  local bin
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  if [ ! -x "$bin" ]; then apt_install nats-server; bin=/usr/sbin/nats-server; fi
  mkdir -p "$PRIVATE_NATS_DIR"
  log "starting a private NATS on 127.0.0.1:$PRIVATE_NATS_PORT"
  "$bin" -a 127.0.0.1 -p "$PRIVATE_NATS_PORT" -P "$PRIVATE_NATS_DIR/nats.pid" \
    -l "$PRIVATE_NATS_DIR/nats.log" &
  STARTED_PRIVATE_NATS=$!
  local tries=0
  until nats_answers 127.0.0.1 "$PRIVATE_NATS_PORT"; do
    # Gone already (port taken, bad flag): its log says why.
    if ! kill -0 "$STARTED_PRIVATE_NATS" 2>/dev/null || [ $((tries += 1)) -gt 100 ]; then
      log "the private NATS did not start; see $PRIVATE_NATS_DIR/nats.log"
      stop_private_nats
      exit 1
    fi
    sleep 0.1
  done
}

# Only what this shell started: a NATS found answering belongs to someone else.
stop_private_nats() {
  if [ -n "$STARTED_PRIVATE_NATS" ]; then
    log "stopping the private NATS"
    kill -TERM "$STARTED_PRIVATE_NATS" 2>/dev/null || true
    wait "$STARTED_PRIVATE_NATS" 2>/dev/null || true
    STARTED_PRIVATE_NATS=""
  fi
}

ensure_nats() {
  if [ -z "${SWITCHBOARD_NATS_URL:-}" ]; then
    if nats_answers 127.0.0.1 4222; then
      SWITCHBOARD_NATS_URL=nats://127.0.0.1:4222
    else
      # A private NATS left by another run (or serving another cluster.sh) is reused.
      nats_answers 127.0.0.1 "$PRIVATE_NATS_PORT" || start_private_nats
      SWITCHBOARD_NATS_URL=nats://127.0.0.1:$PRIVATE_NATS_PORT
    fi
  fi
  export SWITCHBOARD_NATS_URL
}

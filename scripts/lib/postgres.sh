# Sourced by run.sh, cluster.sh and test.sh: makes sure a Postgres server answers and the
# build has what it links against. Sets PG_SERVER_URL (no database name) for the caller;
# build_server also sets DATABASE_URL and SWITCHBOARD_BIN.
#
# Rule (SPEC section 8): use DATABASE_URL when it is set; otherwise use the Postgres at
# 127.0.0.1:5432 when one answers; otherwise start a private cluster under var/postgres.

PRIVATE_PG_PORT=${SWITCHBOARD_PRIVATE_PG_PORT:-55432}
PRIVATE_PG_DIR="$ROOT/var/postgres"
STARTED_PRIVATE_PG=""

log() { printf '[switchboard] %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing packages: $*; install them (needs root)"; return 1
  fi
  log "installing $* from Debian's packages"
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_build_deps() {
  command -v cargo >/dev/null || { log "cargo not found: install the Rust toolchain"; exit 1; }
  if [ ! -e /usr/include/postgresql/libpq-fe.h ]; then apt_install libpq-dev; fi
  if ! command -v psql >/dev/null; then apt_install postgresql-client; fi
}

pg_bin() {
  local tool=$1 found
  found=$(command -v "$tool" 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/"$tool" 2>/dev/null | sort -V | tail -n 1)
  printf '%s' "$found"
}

answers() { # host port
  pg_isready -q -h "$1" -p "$2" -t 2 2>/dev/null || psql "postgres://postgres@$1:$2/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

start_private_cluster() {
  local initdb pg_ctl runner=()
  initdb=$(pg_bin initdb)
  if [ -z "$initdb" ]; then apt_install postgresql; initdb=$(pg_bin initdb); fi
  pg_ctl=$(pg_bin pg_ctl)
  [ -n "$initdb" ] && [ -n "$pg_ctl" ] || { log "initdb/pg_ctl not found"; exit 1; }
  mkdir -p "$PRIVATE_PG_DIR"
  # initdb and postgres refuse to run as root: run them as the postgres system user.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PRIVATE_PG_DIR" postgres
    chown -R postgres "$PRIVATE_PG_DIR"
    runner=(runuser -u postgres --)
  fi
  if [ ! -f "$PRIVATE_PG_DIR/data/PG_VERSION" ]; then
    log "initialising a private Postgres cluster in $PRIVATE_PG_DIR/data"
    "${runner[@]}" "$initdb" -D "$PRIVATE_PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  log "starting the private Postgres on 127.0.0.1:$PRIVATE_PG_PORT"
  "${runner[@]}" "$pg_ctl" -D "$PRIVATE_PG_DIR/data" -l "$PRIVATE_PG_DIR/postgres.log" -w -t 60 \
    -o "-p $PRIVATE_PG_PORT -k $PRIVATE_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null
  STARTED_PRIVATE_PG="${runner[*]} $pg_ctl -D $PRIVATE_PG_DIR/data -m fast stop"
}

stop_private_cluster() {
  if [ -n "$STARTED_PRIVATE_PG" ]; then
    log "stopping the private Postgres"
    $STARTED_PRIVATE_PG >/dev/null 2>&1 || true
  fi
}

# Sets PG_SERVER_URL; DATABASE_URL is left to the caller.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_SERVER_URL=${DATABASE_URL%/*}
    return
  fi
  if answers 127.0.0.1 5432; then
    PG_SERVER_URL=postgres://postgres@127.0.0.1:5432
  elif answers 127.0.0.1 "$PRIVATE_PG_PORT"; then
    PG_SERVER_URL=postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT
  else
    start_private_cluster
    PG_SERVER_URL=postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT
  fi
}

# The server's own database (DATABASE_URL, else `switchboard` on the server found or
# started, created when missing) and the release build; sets SWITCHBOARD_BIN.
build_server() {
  if [ -z "${DATABASE_URL:-}" ]; then
    export DATABASE_URL="$PG_SERVER_URL/switchboard"
    if ! psql "$PG_SERVER_URL/postgres" -Atqc "select 1 from pg_database where datname = 'switchboard'" | grep -q 1; then
      psql "$PG_SERVER_URL/postgres" -qc 'CREATE DATABASE switchboard' >/dev/null
    fi
  fi
  log "database: $DATABASE_URL"
  cargo build --release --bin switchboard
  # shellcheck disable=SC2034 # read by the scripts that source this one
  SWITCHBOARD_BIN=${CARGO_TARGET_DIR:-target}/release/switchboard
}

#!/usr/bin/env bash
# Runs the standard load scenarios (SPEC section 9) against a release build, each on a
# fresh database and a freshly started server, measures the raw database ceiling with
# pgbench, and writes the results into BENCHMARKS.md.
#
#   scripts/bench.sh            # all scenarios
#   scripts/bench.sh idle queue # some of: throughput latency idle queue ceiling search hostile
#   scripts/bench.sh cluster    # several nodes (SPEC section 13), in a section of its own
#
# `cluster` (not in the default list) runs scripts/cluster.sh: three nodes behind HAProxy
# on one NATS, next to one node in the same run.
#
# `hostile` (not in the default list) measures the chat while hostile clients run: a
# login flood, sockets that never read, and a stream of invalid frames.
#
# The server reaches Postgres on the same machine without TLS (sslmode=disable), as a
# deployment with the database on the same host would. BENCH_SERVER_ENV adds server
# settings for experiments, e.g. BENCH_SERVER_ENV="SWITCHBOARD_WORKERS=1".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/postgres.sh

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(throughput latency idle queue ceiling search)
BENCH_PORT=${SWITCHBOARD_BENCH_PORT:-18080}
OUT="$ROOT/var/bench"
RESULTS="$OUT/results.jsonl"
ADMIN_EMAIL=bench@example.com
ADMIN_PASSWORD=bench-password

ensure_build_deps
command -v curl >/dev/null || apt_install curl
ensure_postgres
SERVER_PID=""
CLUSTER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  stop_cluster
  stop_private_cluster
}
trap cleanup EXIT

log "building release binaries"
# One at a time, as scripts/cluster.sh builds the server: built together, their shared
# dependencies' features unite and the server would be built again for the cluster.
cargo build --release --bin switchboard
cargo build --release -p switchboard-load
mkdir -p "$OUT"
: >"$RESULTS"
# 50,000 sockets on each side of the loopback need far more than the usual 1024 files;
# root may raise the hard limit too.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "open file limit: $(ulimit -n)"

fresh_database() { # name
  psql "$PG_SERVER_URL/postgres" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
  psql "$PG_SERVER_URL/postgres" -qc "CREATE DATABASE $1" >/dev/null
}

# Starts the server on a fresh database; extra arguments are environment assignments.
start_server() { # database [VAR=value ...]
  local database=$1; shift
  fresh_database "$database"
  # Each scenario starts with the previous one's writes flushed: otherwise the checkpoint
  # that the flat-out scenario's WAL sets off lands in the middle of the next one.
  psql "$PG_SERVER_URL/postgres" -qc "CHECKPOINT" >/dev/null
  : >"$OUT/server-$database.log"
  DATA_DIR=$(mktemp -d)
  env DATABASE_URL="$PG_SERVER_URL/$database" SWITCHBOARD_BIND="127.0.0.1:$BENCH_PORT" \
    SWITCHBOARD_DATA_DIR="$DATA_DIR" SWITCHBOARD_VISITOR_SIGNUPS_PER_MINUTE=100000000 \
    RUST_LOG=warn "$@" ./target/release/switchboard create-admin \
    --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" >/dev/null
  restart_server "$database" "$@"
}

# Starts the server again on the database the last start_server made.
restart_server() { # database [VAR=value ...]
  local database=$1; shift
  # shellcheck disable=SC2086 # BENCH_SERVER_ENV is a list of VAR=value words.
  env DATABASE_URL="$PG_SERVER_URL/$database?sslmode=disable" SWITCHBOARD_BIND="127.0.0.1:$BENCH_PORT" \
    SWITCHBOARD_DATA_DIR="$DATA_DIR" SWITCHBOARD_VISITOR_SIGNUPS_PER_MINUTE=100000000 \
    RUST_LOG=warn "$@" ${BENCH_SERVER_ENV:-} ./target/release/switchboard >>"$OUT/server-$database.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$BENCH_PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "the server did not become ready; see $OUT/server-$database.log"; exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
}

# Node i of the cluster start_cluster runs: scripts/cluster.sh puts it on the
# balancer's port + i.
cluster_node() { # i
  echo "127.0.0.1:$((BENCH_PORT + $1))"
}

# Starts three nodes behind HAProxy on $BENCH_PORT with scripts/cluster.sh, on a fresh
# database; extra arguments are environment assignments. CLUSTER_NODE_PIDS are the nodes.
start_cluster() { # database [VAR=value ...]
  local database=$1; shift
  fresh_database "$database"
  psql "$PG_SERVER_URL/postgres" -qc "CHECKPOINT" >/dev/null
  DATA_DIR=$(mktemp -d)
  env DATABASE_URL="$PG_SERVER_URL/$database" SWITCHBOARD_DATA_DIR="$DATA_DIR" RUST_LOG=warn \
    ./target/release/switchboard create-admin --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" >/dev/null
  # shellcheck disable=SC2086 # BENCH_SERVER_ENV is a list of VAR=value words.
  env DATABASE_URL="$PG_SERVER_URL/$database?sslmode=disable" SWITCHBOARD_BIND="127.0.0.1:$BENCH_PORT" \
    SWITCHBOARD_DATA_DIR="$DATA_DIR" SWITCHBOARD_VISITOR_SIGNUPS_PER_MINUTE=100000000 \
    RUST_LOG=warn "$@" ${BENCH_SERVER_ENV:-} scripts/cluster.sh 3 >"$OUT/cluster-$database.log" 2>&1 &
  CLUSTER_PID=$!
  until curl -fs "http://127.0.0.1:$BENCH_PORT/readyz" >/dev/null 2>&1; do
    kill -0 "$CLUSTER_PID" 2>/dev/null || { log "the cluster did not start; see $OUT/cluster-$database.log"; exit 1; }
    sleep 0.2
  done
  CLUSTER_NODE_PIDS=()
  for i in 1 2 3; do
    CLUSTER_NODE_PIDS+=("$(pgrep -f -- "switchboard --bind $(cluster_node "$i") " | head -n 1)")
  done
}

stop_cluster() {
  if [ -n "$CLUSTER_PID" ]; then
    kill -TERM "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; CLUSTER_PID=""
  fi
}

load() {
  log "switchboard-load $*"
  ./target/release/switchboard-load --server "127.0.0.1:$BENCH_PORT" ${SERVER_PID:+--server-pid "$SERVER_PID"} \
    --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" --json-out "$RESULTS" "$@"
}

for scenario in "${SCENARIOS[@]}"; do
  case $scenario in
    throughput)
      # Flat out. The per-connection frame limit guards against abusive browsers; these
      # clients are well-behaved by construction, so it is raised out of the way here.
      start_server bench_throughput SWITCHBOARD_WS_RATE_PER_SEC=100000
      load chat --conversations 2000 --window 4 --warmup-secs 5 --duration-secs 20 --accepts-per-sec 50
      stop_server ;;
    latency)
      start_server bench_latency
      load chat --conversations 5000 --rate 5000 --warmup-secs 5 --duration-secs 30
      stop_server ;;
    idle)
      # One process cannot hold more sockets than its open-file limit; where root may
      # not raise it (containers without CAP_SYS_RESOURCE), the scenario holds as many
      # as fit and BENCHMARKS.md projects the 50,000 from the measured cost per socket.
      idle_visitors=$(( $(ulimit -n) - 2000 ))
      [ "$idle_visitors" -le 50000 ] || idle_visitors=50000
      start_server bench_idle
      load idle --visitors "$idle_visitors" --hold-secs 35
      stop_server ;;
    queue)
      start_server bench_queue
      load queue --waiting 10000 --start-rate 500 --cycles 100
      stop_server ;;
    ceiling)
      # Batched inserts of message rows straight into Postgres: what the machine's
      # database can take, for comparison with the end-to-end figure.
      start_server bench_ceiling
      stop_server
      psql "$PG_SERVER_URL/bench_ceiling" -q >/dev/null <<'SQL'
INSERT INTO visitors (id, created_at) SELECT gen_random_uuid(), now() FROM generate_series(1, 4);
CREATE TABLE bench_sessions AS
  SELECT row_number() OVER () - 1 AS client, gen_random_uuid() AS id, id AS visitor_id FROM visitors;
INSERT INTO chat_sessions (id, visitor_id) SELECT id, visitor_id FROM bench_sessions;
CREATE SEQUENCE bench_seq START 1000000000;
SQL
      log "pgbench: batches of 500 message rows, 2 clients, 20 s"
      "$(pg_bin pgbench)" -n -c 2 -j 2 -T 20 -f scripts/bench/insert_batch.sql \
        "$PG_SERVER_URL/bench_ceiling" | tee "$OUT/pgbench.txt"
      tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench.txt")
      awk -v tps="$tps" 'BEGIN { printf "{\"scenario\":\"ceiling\",\"batch_rows\":500,\"clients\":2,\"rows_per_sec\":%.0f}\n", tps * 500 }' >>"$RESULTS" ;;
    search)
      # 1,000,000 messages (40,000 conversations of 25) seeded with SQL while the server
      # is stopped, so that its start-up sweep indexes them all, as after a crash; then
      # searches over HTTP. Autovacuum would analyse the new documents within a minute;
      # VACUUM ANALYZE does it now so the measurement does not depend on its timing.
      search_sessions=40000; search_per_session=25
      start_server bench_search
      stop_server
      psql "$PG_SERVER_URL/bench_search" -q >/dev/null \
        -c "CREATE TABLE bench_words (ordinal serial, word text NOT NULL)" \
        -c "\\copy bench_words (word) FROM 'scripts/bench/search_words.txt'"
      log "seeding $((search_sessions * search_per_session)) messages"
      psql "$PG_SERVER_URL/bench_search" -q -v sessions=$search_sessions \
        -v per_session=$search_per_session -f scripts/bench/seed_search.sql >/dev/null
      restart_server bench_search
      index_started=$(date +%s.%N)
      behind="SELECT count(*) FROM chat_sessions s WHERE s.last_seq >
              coalesce((SELECT max(c.last_seq) FROM search_chunks c WHERE c.session_id = s.id), 0)"
      until [ "$(psql "$PG_SERVER_URL/bench_search" -Atc "$behind")" = 0 ]; do sleep 1; done
      index_secs=$(awk -v from="$index_started" -v to="$(date +%s.%N)" 'BEGIN { printf "%.1f", to - from }')
      log "indexed in $index_secs s"
      psql "$PG_SERVER_URL/bench_search" -qc "VACUUM ANALYZE search_chunks"
      load search --sessions $search_sessions --messages $((search_sessions * search_per_session)) \
        --words scripts/bench/search_words.txt --index-secs "$index_secs"
      stop_server ;;
    hostile)
      # Ack latency at 1,000 msgs/s over 1,000 conversations while, for the whole measured
      # window, the same load process floods logins with wrong passwords from 127.0.0.1,
      # keeps 50 visitors' sockets asking for their long conversation without ever
      # reading, and sends 100 invalid frames a second (SPEC sections 9 and 12). The
      # honest clients send one message a second each, within the server's default
      # frame rate, so the server runs with its default limits and the hostile clients
      # meet them (only sign-ups are raised, as for every scenario, to create the
      # visitors). The server's RSS is read before the hostile load, every 500 ms during
      # it, and 10 s after it stops.
      start_server bench_hostile
      load hostile --conversations 1000 --rate 1000 --warmup-secs 5 --ramp-secs 5 \
        --duration-secs 30 --after-secs 10 --login-concurrency 32 --login-rate 500 \
        --stuck-visitors 50 --stuck-messages 250 --stuck-resumes-per-sec 4 --stuck-pings-per-sec 4 \
        --invalid-connections 10 --invalid-rate 100
      stop_server ;;
    cluster)
      # The flat-out chat on one node, then on three nodes of one cluster with every
      # conversation's visitor on node 1 or 2 and its specialist's console on node 3, so
      # every message and every offer crosses NATS; the nodes share the two cores.
      chat=(chat --conversations 2000 --window 4 --warmup-secs 5 --duration-secs 20 --accepts-per-sec 50)
      start_server bench_cluster_one SWITCHBOARD_WS_RATE_PER_SEC=100000
      load --label cluster-one-node "${chat[@]}"
      stop_server
      start_cluster bench_cluster_three SWITCHBOARD_WS_RATE_PER_SEC=100000
      load --label cluster-three-nodes --visitor-servers "$(cluster_node 1),$(cluster_node 2)" \
        --console-servers "$(cluster_node 3)" "${chat[@]}"
      stop_cluster
      # 50,000 idle visitors, a third on each node, each third held by a load process of
      # its own: one process may hold no more sockets than its open-file limit. They
      # connect to the nodes, not the balancer, which would need two descriptors a socket.
      per_node=$(( (50000 + 2) / 3 ))
      if [ $((per_node + 1000)) -gt "$(ulimit -n)" ]; then per_node=$(( $(ulimit -n) - 1000 )); fi
      start_cluster bench_cluster_idle
      idle_loads=()
      for i in 1 2 3; do
        log "switchboard-load idle --visitors $per_node on node-$i"
        ./target/release/switchboard-load --server "$(cluster_node "$i")" \
          --server-pid "${CLUSTER_NODE_PIDS[$((i - 1))]}" --label "cluster-idle-node-$i" \
          --json-out "$RESULTS" idle --visitors "$per_node" --hold-secs 35 \
          --first-client $(( (i - 1) * 20000 )) >"$OUT/idle-node-$i.json" &
        idle_loads+=($!)
      done
      wait "${idle_loads[@]}"
      stop_cluster
      # kill -9 of node 1 (which also runs the dispatcher) 15 s into 2,000 msgs/s over
      # 1,000 conversations. Its visitors reconnect through HAProxy and send their
      # unacknowledged messages again, as the widget does; the longest wait for an ack
      # is the time until every session was served again. Then every acknowledged
      # message is looked for in Postgres. Consoles accept 10 offers a second, within
      # the default frame rate.
      start_cluster bench_cluster_kill
      acked="$OUT/cluster-kill-acked.csv"
      load --label cluster-kill --visitor-servers "$(cluster_node 1),$(cluster_node 2)" \
        --console-servers "$(cluster_node 3)" chat --conversations 1000 --rate 2000 \
        --warmup-secs 5 --duration-secs 40 --accepts-per-sec 10 --reconnect --acked-out "$acked" \
        --kill-pid "${CLUSTER_NODE_PIDS[0]}" --kill-after-secs 15
      lost=$(psql "$PG_SERVER_URL/bench_cluster_kill" -Atq <<SQL
CREATE TEMP TABLE acked (session_id uuid, client_msg_id text);
\\copy acked FROM '$acked' WITH (FORMAT csv)
SELECT count(*) FROM acked a WHERE NOT EXISTS
  (SELECT 1 FROM messages m WHERE m.session_id = a.session_id AND m.client_msg_id = a.client_msg_id);
SQL
)
      log "acknowledged messages not in Postgres: $lost of $(wc -l <"$acked")"
      echo "{\"scenario\":\"cluster-kill-check\",\"acked\":$(wc -l <"$acked"),\"lost\":$lost}" >>"$RESULTS"
      stop_cluster ;;
    *) log "unknown scenario $scenario"; exit 2 ;;
  esac
done

python3 scripts/bench/report.py "$RESULTS" "scripts/bench.sh $*" BENCHMARKS.md
log "results written to BENCHMARKS.md"

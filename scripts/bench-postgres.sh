#!/usr/bin/env bash
# Measures the PostgreSQL store beside the journal, with the same client
# (`junction bench`) in one run: two Junction brokers, one on each store, and
# a private PostgreSQL 15 from Debian's package (initdb into a temporary
# folder, default settings: fsync and synchronous_commit on). Run as root or
# as a user that can run initdb; see docs/PERFORMANCE.md.
#
#   scripts/bench-postgres.sh [scenario...]   # stomp-persistent stomp-16receipts (default: both)
#
# JUNCTION_BIN=path serves with another build (the client stays this tree's
# bin/junction), for A/B runs against main; NO_JOURNAL=1 leaves the journal
# broker out; NO_ANCHORS=1 leaves the anchors out even when they run;
# PERSISTENT_MESSAGES=N sends N in stomp-persistent (default 20000), for
# runs long enough to profile.
#
# Output: one JSON line per broker and scenario, as scripts/bench-compare.sh
# prints them; the postgres lines add db_cpu_us_per_msg, the CPU time of
# every PostgreSQL process per message.
set -u
cd "$(dirname "$0")/.."
J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
S=${JUNCTION_BIN:-$J}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/pg_ctl" ] || { echo "no PostgreSQL: apt-get install postgresql" >&2; exit 1; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ANCHORS=${ANCHORS:-../shared/anchors/anchors.sh}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

T=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$T"
PGPORT=$(free_port)
cleanup() {
  kill "$JJ" "$JP" 2>/dev/null; wait "$JJ" "$JP" 2>/dev/null
  as_pg "$PGBIN/pg_ctl -D $T/pg -m fast -w stop" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb -D $T/pg -A trust -U postgres" >/dev/null || exit 1
as_pg "$PGBIN/pg_ctl -D $T/pg -l $T/pg.log -o '-p $PGPORT -k $T -c listen_addresses=127.0.0.1' -w start" >/dev/null || exit 1
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE junction" || exit 1

SJ=$(free_port); SP=$(free_port)
# Only STOMP listens: the default ports of the other listeners may be taken by
# whatever else runs on the machine, and a broker that cannot bind exits.
off="--mqtt off --ws off --amqp off --openwire off --admin off"
[ -n "${NO_JOURNAL:-}" ] || "$S" serve --data "$T/journal" --stomp 127.0.0.1:$SJ $off --log-level warn > "$T/journal.log" 2>&1 &
JJ=$!
cat > "$T/pg.yaml" <<YAML
store:
  type: postgres
  url: postgres://postgres@127.0.0.1:$PGPORT/junction?sslmode=disable
YAML
"$S" serve --config "$T/pg.yaml" --data "$T/unused" --stomp 127.0.0.1:$SP $off --log-level warn > "$T/postgres.log" 2>&1 &
JP=$!
for _ in $(seq 100); do { [ -n "${NO_JOURNAL:-}" ] || up "$SJ"; } && up "$SP" && break; sleep 0.1; done

# pg_cpu: clock ticks used so far by the postmaster and its children.
pg_cpu() {
  local pm
  pm=$(head -1 "$T/pg/postmaster.pid")
  for p in $pm $(ps -o pid= --ppid "$pm"); do
    awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null
  done | awk '{s+=$1} END {print s+0}'
}

run() { # run NAME STORE PORT PID MESSAGES ARGS...
  local name=$1 store=$2 port=$3 pid=$4 msgs=$5; shift 5
  local c0 c1 out extra=""
  c0=$(pg_cpu)
  out=$("$J" bench --url "stomp://127.0.0.1:$port" --json ${pid:+--broker-pid "$pid"} "$@" 2>/dev/null | tr -d '\n ')
  c1=$(pg_cpu)
  if [ "$store" = postgres ]; then
    extra=$(awk -v d=$((c1 - c0)) -v n="$msgs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf ",\"db_cpu_us_per_msg\":%.1f", d/hz*1e6/n}')
  fi
  echo "{\"scenario\":\"$name\",\"store\":\"$store\",\"result\":${out:-null}$extra}"
}

scenario() {
  local args msgs
  case $1 in
  stomp-persistent) msgs=${PERSISTENT_MESSAGES:-20000}; args="-P 1 -C 1 -n $msgs --persistent --receipt-every 100 --ack client-individual /queue/bench.c" ;;
  stomp-16receipts) msgs=32000; args="-P 16 -C 1 -n 2000 --persistent --receipt-every 1 --ack client-individual /queue/bench.d" ;;
  *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
  # shellcheck disable=SC2086
  [ -n "${NO_JOURNAL:-}" ] || run "$1" journal "$SJ" "$JJ" "$msgs" $args
  # shellcheck disable=SC2086
  run "$1" postgres "$SP" "$JP" "$msgs" $args
  # The anchors, when ../shared/anchors/anchors.sh runs them (see
  # scripts/bench-compare.sh): same client, same run.
  [ -n "${NO_ANCHORS:-}" ] && return
  local name port pid
  for a in activemq-bench=36613 rabbitmq=61623; do
    name=${a%%=*} port=${a#*=}
    up "$port" || continue
    pid=$("$ANCHORS" pid "$name" 2>/dev/null)
    # shellcheck disable=SC2086
    run "$1" "${name%-bench}" "$port" "$pid" "$msgs" $args
  done
}

for s in ${@:-stomp-persistent stomp-16receipts}; do scenario "$s"; done

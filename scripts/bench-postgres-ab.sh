#!/usr/bin/env bash
# Compares two Junction builds on the PostgreSQL store, interleaved: one
# private PostgreSQL (as scripts/bench-postgres.sh starts it), a database
# for each build, both brokers up at once (STOMP only), and each round runs
# every scenario against one build then the other with the same client
# (bin/junction bench, built from this tree). On a shared machine the load
# moves during a run; interleaving exposes both builds to it alike, and
# CPU per message (broker, database) is the robust figure.
#
#   scripts/bench-postgres-ab.sh BEFORE_BIN AFTER_BIN [ROUNDS] [scenario...]
#
# Scenarios: stomp-persistent (1 producer, receipt every 100; MESSAGES,
# default 100000, per run: long enough for the tables' dead rows to count)
# and stomp-16receipts (16 producers, a receipt on each, 2000 each).
# Output: one line per run (build, scenario, msg/s, broker and database CPU
# µs per message, load average), then the medians per build.
set -u
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
A=$1 B=$2 ROUNDS=${3:-3}
shift 2; [ $# -gt 0 ] && shift
SCENARIOS=${*:-stomp-persistent}
N=${MESSAGES:-100000}
J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/pg_ctl" ] || { echo "no PostgreSQL: apt-get install postgresql" >&2; exit 1; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
T=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$T"
PGPORT=$(free_port)
PIDS=""
cleanup() {
  # shellcheck disable=SC2086
  kill $PIDS 2>/dev/null; wait 2>/dev/null
  as_pg "$PGBIN/pg_ctl -D $T/pg -m fast -w stop" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb -D $T/pg -A trust -U postgres" >/dev/null || exit 1
as_pg "$PGBIN/pg_ctl -D $T/pg -l $T/pg.log -o '-p $PGPORT -k $T -c listen_addresses=127.0.0.1' -w start" >/dev/null || exit 1
declare -A PORT PID
for b in before after; do
  psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE $b" || exit 1
  printf 'store:\n  type: postgres\n  url: postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$PGPORT" "$b" > "$T/$b.yaml"
  bin=$A; [ $b = after ] && bin=$B
  PORT[$b]=$(free_port)
  "$bin" serve --config "$T/$b.yaml" --data "$T/unused-$b" --stomp "127.0.0.1:${PORT[$b]}" \
    --mqtt off --ws off --amqp off --openwire off --admin off --log-level warn > "$T/$b.log" 2>&1 &
  PID[$b]=$!
  PIDS="$PIDS $!"
  for _ in $(seq 100); do up "${PORT[$b]}" && break; sleep 0.1; done
  up "${PORT[$b]}" || { echo "$b ($bin) did not start: $(cat "$T/$b.log")" >&2; exit 1; }
done

pg_cpu() { # clock ticks used so far by the postmaster and its children
  local pm
  pm=$(head -1 "$T/pg/postmaster.pid")
  for p in $pm $(ps -o pid= --ppid "$pm"); do
    awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null
  done | awk '{s+=$1} END {print s+0}'
}
RES=$T/results
for r in $(seq "$ROUNDS"); do
  for s in $SCENARIOS; do
    case $s in
    stomp-persistent) msgs=$N; args="-P 1 -C 1 -n $N --persistent --receipt-every 100 --ack client-individual /queue/bench.c" ;;
    stomp-16receipts) msgs=32000; args="-P 16 -C 1 -n 2000 --persistent --receipt-every 1 --ack client-individual /queue/bench.d" ;;
    *) echo "unknown scenario $s" >&2; exit 1 ;;
    esac
    order="before after"; [ $((r % 2)) = 0 ] && order="after before"
    for b in $order; do
      c0=$(pg_cpu)
      # shellcheck disable=SC2086
      out=$("$J" bench --url "stomp://127.0.0.1:${PORT[$b]}" --json --broker-pid "${PID[$b]}" $args 2>/dev/null | tr -d '\n ')
      c1=$(pg_cpu)
      rate=$(echo "$out" | grep -o '"receive_rate":[0-9.]*' | cut -d: -f2)
      bcpu=$(echo "$out" | grep -o '"broker_cpu_us_per_msg":[0-9.]*' | cut -d: -f2)
      lost=$(echo "$out" | grep -o '"lost":[0-9]*' | cut -d: -f2)
      db=$(awk -v d=$((c1 - c0)) -v n="$msgs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", d/hz*1e6/n}')
      load=$(cut -d' ' -f1 /proc/loadavg)
      printf '%-6s %-18s %8.0f msg/s  broker %5s  db %5s µs/msg  lost %s  load %s\n' "$b" "$s" "${rate:-0}" "${bcpu:-?}" "$db" "${lost:-?}" "$load"
      echo "$b $s ${rate:-0} ${bcpu:-0} $db" >> "$RES"
    done
  done
done
echo "medians (msg/s, broker µs/msg, database µs/msg):"
for s in $SCENARIOS; do
  for b in before after; do
    med() { awk -v b=$b -v s="$s" -v c="$1" '$1==b && $2==s {print $c}' "$RES" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
    printf '%-6s %-18s %8.0f  %5.1f  %5.1f\n' "$b" "$s" "$(med 3)" "$(med 4)" "$(med 5)"
  done
done

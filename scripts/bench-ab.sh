#!/usr/bin/env bash
# Compares two Junction builds on the AMQP scenarios, interleaved: both run
# at once on side ports (AMQP only, memory limits off as in
# bench-compare.sh), and each round runs every scenario against one build
# then the other, with the same client (bin/junction bench, built from this
# tree). On a shared machine the load moves during a run; interleaving
# exposes both builds to it alike, and the medians per build are the figure.
#
#   scripts/bench-ab.sh BEFORE_BIN AFTER_BIN [ROUNDS] [scenario...]
#   e.g. git worktree add /tmp/before f044fed && (cd /tmp/before && go build -o /tmp/junction-before ./cmd/junction)
#        scripts/bench-ab.sh /tmp/junction-before bin/junction 6 amqp-1to1 amqp-rate10k
#
# Scenarios: amqp-1to1 (at least once, credit 1000), amqp-credit1,
# amqp-credit10, amqp-persistent, amqp-rate10k (at least once at a fixed
# 10,000 msg/s: one or two messages per read, the per-message path),
# amqp-atmostonce, amqp-fanout4 (one producer, four consumers on a topic),
# amqp-4to4, amqp-rate30k (at least once at 30,000 msg/s). Output: one line
# per run (build, scenario, msg/s, broker and client CPU µs per message,
# lost), then the medians. PERF=1 takes the broker's CPU from `perf stat -e
# task-clock -p PID` over each run instead of /proc's 10 ms ticks.
set -u
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,21p' "$0"; exit 2; }
A=$1 B=$2 ROUNDS=${3:-5}
shift 2; [ $# -gt 0 ] && shift
SCENARIOS=${*:-amqp-1to1}
J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
DATA=$(mktemp -d)
printf 'max-queued-messages: -1\nmax-queued-bytes: -1\n' > "$DATA/config.yaml"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() { # start NAME BIN PORT
  mkdir -p "$DATA/$1"
  "$2" serve --config "$DATA/config.yaml" --data "$DATA/$1" --log-level warn --amqp "127.0.0.1:$3" \
    --stomp off --mqtt off --ws off --openwire off --admin off > "$DATA/$1.log" 2>&1 &
  echo $! > "$DATA/$1.pid"
  for _ in $(seq 50); do up "$3" && return; sleep 0.1; done
  echo "$1 ($2) did not start: $(cat "$DATA/$1.log")" >&2; exit 1
}
trap 'kill $(cat "$DATA"/*.pid 2>/dev/null) 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"' EXIT
start before "$A" 5781
start after "$B" 5782

args() {
  case $1 in
  amqp-1to1)       echo "-P 1 -C 1 -n 30000 --unsettled --in-flight 100 --ack client-individual --credit 1000 bench.ab1.$RANDOM" ;;
  amqp-credit1)    echo "-P 1 -C 1 -n 10000 --unsettled --in-flight 100 --ack client-individual --credit 1 bench.ab2.$RANDOM" ;;
  amqp-credit10)   echo "-P 1 -C 1 -n 20000 --unsettled --in-flight 100 --ack client-individual --credit 10 bench.ab3.$RANDOM" ;;
  amqp-persistent) echo "-P 1 -C 1 -n 20000 --persistent --in-flight 100 --ack client-individual --credit 1000 bench.ab4.$RANDOM" ;;
  amqp-rate10k)    echo "-P 1 -C 1 -n 30000 --rate 10000 --unsettled --in-flight 100 --ack client-individual --credit 1000 bench.ab5.$RANDOM" ;;
  amqp-rate30k)    echo "-P 1 -C 1 -n 60000 --rate 30000 --unsettled --in-flight 100 --ack client-individual --credit 1000 bench.ab9.$RANDOM" ;;
  amqp-atmostonce) echo "-P 1 -C 1 -n 30000 --credit 1000 bench.ab6.$RANDOM" ;;
  amqp-fanout4)    echo "-P 1 -C 4 -n 10000 --credit 1000 topic://bench.ab7.$RANDOM" ;;
  amqp-4to4)       echo "-P 4 -C 4 -n 10000 --unsettled --in-flight 100 --ack client-individual --credit 1000 bench.ab8.$RANDOM" ;;
  *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}
num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
OUT=$DATA/runs.txt
# Which build runs first alternates by round: the one that ran just before
# may still be busy (auto-deleted queue, memtrim's collection a second after
# a burst) during the other's run.
order=("before:5781 after:5782" "after:5782 before:5781")
for round in $(seq "$ROUNDS"); do
  for s in $SCENARIOS; do
    for b in ${order[$((round % 2))]}; do
      name=${b%%:*} port=${b#*:}
      if [ -n "${PERF:-}" ]; then
        # The broker's CPU from perf stat's task-clock over the run
        # (/proc counts 10 ms ticks: ±5 % over a 30,000-message run).
        perf stat -x, -e task-clock -p "$(cat "$DATA/$name.pid")" -o "$DATA/perf.txt" & sp=$!
        sleep 0.2
      fi
      # shellcheck disable=SC2046 # the scenario's arguments are words
      r=$("$J" bench --url "amqp://127.0.0.1:$port" --json --broker-pid "$(cat "$DATA/$name.pid")" $(args "$s") 2>/dev/null | tr -d '\n ')
      bcpu=$(echo "$r" | num broker_cpu_us_per_msg)
      if [ -n "${PERF:-}" ]; then
        kill -INT $sp; wait $sp 2>/dev/null
        n=$(echo "$r" | num received)
        bcpu=$(awk -F, -v n="$n" '$3=="task-clock" && n>0 {printf "%.2f", $1*1000/n}' "$DATA/perf.txt")
      fi
      line="$name $s $(echo "$r" | num receive_rate) $bcpu $(echo "$r" | num client_cpu_us_per_msg) $(echo "$r" | num lost)"
      echo "$line"
      echo "$line" >> "$OUT"
    done
  done
done
echo "# medians: build scenario runs msg/s broker-µs/msg client-µs/msg lost(total)"
median() { sort -g | awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
for s in $SCENARIOS; do
  for name in before after; do
    rows=$(awk -v n="$name" -v s="$s" '$1==n && $2==s' "$OUT")
    [ -n "$rows" ] || continue
    printf '%s %s %d %.0f %.2f %.2f %d\n' "$name" "$s" "$(echo "$rows" | wc -l)" \
      "$(echo "$rows" | awk '{print $3}' | median)" "$(echo "$rows" | awk '{print $4}' | median)" \
      "$(echo "$rows" | awk '{print $5}' | median)" "$(echo "$rows" | awk '{s+=$6} END{print s}')"
  done
done

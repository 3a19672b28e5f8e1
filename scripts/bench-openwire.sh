#!/usr/bin/env bash
# Junction against ActiveMQ 5.17 with the same Java JMS client (the ActiveMQ
# OpenWire client, scripts/jms-bench/JmsBench.java): 1 producer, 1 consumer
# on a queue, 100-byte TextMessages,
#   nonpersistent: non-persistent, asynchronous sends (the client's default);
#   persistent:    persistent, synchronous sends (the JMS default).
# Each round runs every mode against both brokers, alternating which goes
# first, on fresh queues; the client warms up on each before measuring.
# Every run prints one JSON line (msgs/s, latency, and the broker's CPU per
# message from /proc/PID/stat around the measured phase), then a summary of
# medians per broker and mode.
#
#   apt-get install -y activemq libactivemq-java default-jdk-headless
#   ../shared/anchors/anchors.sh start activemq-bench   # OpenWire on 127.0.0.1:36616
#                                  (ANCHORS=path/to/anchors.sh if it lives elsewhere)
#   scripts/bench-openwire.sh                             # ROUNDS=3 N=50000 NP=10000 WARMUP=5000
#
# Junction runs from this tree (bin/junction serve, journal in a temporary
# folder, sync policy as configured by default) with only OpenWire open, on
# side port 46616 so that it never meets another broker on 61616.
set -u
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
N=${N:-50000}          # messages per non-persistent run
NP=${NP:-10000}        # messages per persistent run
WARMUP=${WARMUP:-5000}
MODES=${MODES:-"nonpersistent persistent"}
PORT=${JUNCTION_PORT:-46616}
ANCHORS=${ANCHORS:-../shared/anchors/anchors.sh}
[ -x "$ANCHORS" ] || ANCHORS=/work/shared/anchors/anchors.sh
CP=/usr/share/java/activemq-client.jar:/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
WORK=$(mktemp -d)
trap 'kill "${JPID:-}" 2>/dev/null; wait "${JPID:-}" 2>/dev/null; rm -rf "$WORK"' EXIT
javac -cp "$CP" -d "$WORK/classes" scripts/jms-bench/JmsBench.java || exit 1

up "$PORT" && { echo "port $PORT is taken" >&2; exit 1; }
"$J" serve --data "$WORK/data" --log-level warn --openwire "127.0.0.1:$PORT" \
  --stomp off --mqtt off --ws off > "$WORK/junction.log" 2>&1 &
JPID=$!
for _ in $(seq 100); do up "$PORT" && break; sleep 0.1; done
up "$PORT" || { cat "$WORK/junction.log" >&2; exit 1; }

if ! up 36616; then
  "$ANCHORS" start activemq-bench >&2 || echo "ActiveMQ did not start: measuring Junction only" >&2
fi
APID=$("$ANCHORS" pid activemq-bench 2>/dev/null)

# run BROKER MODE ROUND
run() {
  local broker=$1 mode=$2 round=$3 url pid n flag=""
  case $broker in
  junction) url=tcp://127.0.0.1:$PORT pid=$JPID ;;
  activemq) url=tcp://127.0.0.1:36616 pid=$APID ;;
  esac
  up "${url##*:}" || { echo "{\"label\":\"$broker\",\"mode\":\"$mode\",\"skipped\":\"not running\"}"; return; }
  n=$N
  [ "$mode" = persistent ] && { n=$NP; flag=--persistent; }
  java -Xms256m -cp "$CP:$WORK/classes" JmsBench --url "$url" --queue "bench.ow.$mode.$round.$$" \
    -n "$n" --warmup "$WARMUP" --label "$broker" ${pid:+--broker-pid "$pid"} $flag 2>"$WORK/err" ||
    { echo "{\"label\":\"$broker\",\"mode\":\"$mode\",\"failed\":\"$(tr -d '"\n' < "$WORK/err" | cut -c1-200)\"}"; }
}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; ROUNDS=$ROUNDS N=$N NP=$NP WARMUP=$WARMUP" >&2
: > "$WORK/results"
for r in $(seq "$ROUNDS"); do
  order="junction activemq"
  [ $((r % 2)) = 0 ] && order="activemq junction"
  for mode in $MODES; do
    for b in $order; do
      run "$b" "$mode" "$r" | tee -a "$WORK/results"
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Summary: medians per broker and mode.
field() { grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "-"}'; }
printf '%-10s %-22s %10s %14s %10s %10s\n' broker mode msgs/s broker-us/msg p50-us p99-us
for mode in $MODES; do
  m=nonpersistent-async
  [ "$mode" = persistent ] && m=persistent-sync
  for b in junction activemq; do
    lines=$(grep "\"label\":\"$b\"" "$WORK/results" | grep "\"mode\":\"$m\"")
    [ -n "$lines" ] || continue
    printf '%-10s %-22s %10s %14s %10s %10s\n' "$b" "$m" \
      "$(field msgs_per_s <<<"$lines" | median)" "$(field broker_cpu_us_per_msg <<<"$lines" | median)" \
      "$(field lat_p50_us <<<"$lines" | median)" "$(field lat_p99_us <<<"$lines" | median)"
  done
done

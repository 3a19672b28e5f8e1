#!/usr/bin/env bash
# Interleaved MQTT runs of two Junction builds and Mosquitto (issue 18's
# speed goals, docs/PERFORMANCE.md "Issue 18: MQTT against Mosquitto"): each
# round runs every scenario against the old build, the new build and
# Mosquitto in turn, with `junction bench` as the lean client and as a
# paho.mqtt.golang client (--client paho). Per run it prints the receive
# rate and the broker's CPU time per received message, from `perf stat -e
# task-clock` on the broker when perf is there (finer than /proc's 10 ms
# ticks), else from /proc (bench --broker-pid).
#
#   ../shared/anchors/anchors.sh start mosquitto        # port 1885
#   OLD=/tmp/junction-old scripts/bench-mqtt-ab.sh [rounds]   # default 3
#
# MOSQUITTO=0 leaves Mosquitto out (old against new only); SCENARIOS picks
# runs, e.g. SCENARIOS="paho/qos0 paho/fan" (default: all six).
#
# OLD defaults to a build of main; the new build is this tree. Both run with
# max-queued-messages/-bytes -1 (as bench-compare.sh) on ports 21883/21884,
# every other listener off. Output: one line per run, then the medians.
set -u
cd "$(dirname "$0")/.."
rounds=${1:-3}
W=$(mktemp -d)
trap 'kill $(cat "$W"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$W"' EXIT
go build -o "$W/new" ./cmd/junction || exit 1
if [ -n "${OLD:-}" ]; then
  cp "$OLD" "$W/old"
else
  mkdir "$W/src" && git archive main | tar -x -C "$W/src" && (cd "$W/src" && go build -o "$W/old" ./cmd/junction) || exit 1
fi
ANCHORS=${ANCHORS:-../shared/anchors/anchors.sh}
[ -x "$ANCHORS" ] || ANCHORS=../../shared/anchors/anchors.sh
printf 'max-queued-messages: -1\nmax-queued-bytes: -1\n' > "$W/cfg.yaml"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() { # start NAME PORT
  mkdir -p "$W/data-$1"
  "$W/$1" serve --config "$W/cfg.yaml" --data "$W/data-$1" --log-level warn --mqtt "127.0.0.1:$2" \
    --stomp off --amqp off --openwire off --ws off --admin off > "$W/$1.log" 2>&1 &
  echo $! > "$W/$1.pid"
  for _ in $(seq 50); do up "$2" && return; sleep 0.1; done
  echo "$1 did not start" >&2; exit 1
}
start old 21883
start new 21884
mosq=${MOSQUITTO:-1}
if [ "$mosq" != 0 ]; then
  up 1885 || { echo "Mosquitto is not running on 1885 ($ANCHORS start mosquitto)" >&2; exit 1; }
  mpid=$("$ANCHORS" pid mosquitto)
fi
scenarios=${SCENARIOS:-lean/qos0 lean/qos1 lean/fan paho/qos0 paho/qos1 paho/fan}
haveperf=0
perf stat -e task-clock -p "$(cat "$W/new.pid")" -- sleep 0.1 > /dev/null 2>&1 && haveperf=1

run() { # run CLIENT SCENARIO NAME PORT PID
  local client=$1 sc=$2 name=$3 port=$4 pid=$5 args sp=
  case $client/$sc in
    lean/qos0) args=(-n 100000 -C 1 --qos 0 bench/q0) ;;
    lean/qos1) args=(-n 50000 -C 1 --qos 1 bench/q1) ;;
    lean/fan)  args=(-n 20000 -C 10 --qos 0 bench/fan) ;;
    paho/qos0) args=(-n 60000 -C 1 --qos 0 bench/pq0) ;;
    paho/qos1) args=(-n 20000 -C 1 --qos 1 bench/pq1) ;;
    paho/fan)  args=(-n 10000 -C 10 --qos 0 bench/pfan) ;;
  esac
  if [ $haveperf = 1 ]; then
    perf stat -x, -e task-clock -p "$pid" -o "$W/stat" > /dev/null 2>&1 &
    sp=$!
    sleep 0.2
  fi
  out=$("$W/new" bench --url "mqtt://127.0.0.1:$port" --client "$client" --json --broker-pid "$pid" -P 1 "${args[@]}" 2>/dev/null | tr -d '\n ')
  if [ -n "$sp" ]; then kill -INT "$sp"; wait "$sp" 2>/dev/null; fi
  python3 - "$client" "$sc" "$name" "${out:-null}" "$W/stat" "$haveperf" <<'PY'
import json, sys
client, sc, name, out, stat, haveperf = sys.argv[1:]
d = json.loads(out)
if not d:
    print(client, sc, name, "failed"); sys.exit()
n = d["received"]
cpu = d.get("broker_cpu_us_per_msg", 0)
if haveperf == "1":
    for line in open(stat):
        f = line.strip().split(",")
        if len(f) > 2 and f[2] == "task-clock":
            cpu = float(f[0]) * 1000 / n  # ms -> µs per message
print(f"{client} {sc} {name} recv/s={d['receive_rate']:.0f} broker_cpu_us={cpu:.2f} lost={d['lost']} dup={d['duplicates']}")
PY
}

for _ in $(seq "$rounds"); do
  for cs in $scenarios; do
    client=${cs%/*} sc=${cs#*/}
    run $client $sc old 21883 "$(cat "$W/old.pid")"
    run $client $sc new 21884 "$(cat "$W/new.pid")"
    [ "$mosq" != 0 ] && run $client $sc mosquitto 1885 "$mpid"
  done
done | tee "$W/runs"
echo "# medians: broker CPU µs per message, receive rate; new/Mosquitto and new/old ratios"
python3 - "$W/runs" <<'PY'
import collections, re, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\S+) (\S+) recv/s=(\d+) broker_cpu_us=([\d.]+)", line)
    if m:
        d[m.group(1, 2, 3)].append((float(m.group(4)), float(m.group(5))))
for client in ("lean", "paho"):
    for sc in ("qos0", "qos1", "fan"):
        med = {}
        for b in ("old", "new", "mosquitto"):
            v = d[(client, sc, b)]
            if v:
                med[b] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
        if "old" not in med or "new" not in med:
            continue
        o, n = med["old"], med["new"]
        line = f"{client:4} {sc:4}  old {o[1]:5.2f} µs {o[0]:8.0f}/s  new {n[1]:5.2f} µs {n[0]:8.0f}/s  "
        if "mosquitto" in med:
            m = med["mosquitto"]
            line += f"mosquitto {m[1]:5.2f} µs {m[0]:8.0f}/s  cpu new/mosq {n[1]/m[1]:.2f}  rate new/mosq {n[0]/m[0]:.2f}  "
        print(line + f"cpu new/old {n[1]/o[1]:.2f}")
PY

#!/usr/bin/env bash
# Measures Junction and the anchor brokers side by side with the same client
# (`junction bench`), on the same machine, in one run. The anchors come from
# Debian's packages and are started by ../shared/anchors/anchors.sh on side
# ports (see docs/PERFORMANCE.md):
#
#   apt-get install -y activemq rabbitmq-server mosquitto mosquitto-clients libmqtt-client-java
#   ../shared/anchors/anchors.sh start activemq-bench; ... start rabbitmq; ... start mosquitto
#   scripts/bench-compare.sh [scenario...]      # default: all; output: one JSON line per run
#
# Scenarios: stomp-1to1 stomp-4to4 stomp-persistent stomp-16receipts
# stomp-latency mqtt-qos0 mqtt-qos1 mqtt-fanout mqtt-latency mqtt-paho-qos0
# mqtt-paho-qos1 mqtt-paho-fanout idle-stomp
# idle-mqtt, amqp-1to1 amqp-credit1 amqp-credit10 amqp-credit100
# amqp-persistent (AMQP 1.0 against RabbitMQ's amqp1_0 plugin), and stomp-16receipts-memory (the 16-producer scenario against a
# Junction restarted with --store memory: the figure without a disk).
# IDLE_HOLD (default 15s) is how long the idle scenarios hold their
# connections before reading the broker's memory.
#
# Junction runs from bin/junction on its default ports with a journal in a
# temporary folder. Brokers that are not running are skipped.
#
# Junction runs with max-queued-messages and max-queued-bytes unlimited (-1),
# as the anchors are configured (Mosquitto max_queued_messages 0; ActiveMQ
# and RabbitMQ have no per-subscriber limit by default): with the defaults
# (1000 and 256 KiB per subscription) a producer that outruns its consumer
# in mqtt-qos0 or mqtt-fanout loses QoS 0 messages, as a default Mosquitto
# does, and a throughput without the losses would not be comparable.
# JUNCTION_CONFIG names another configuration file instead.
set -u
cd "$(dirname "$0")/.."
# JUNCTION_BIN runs another build as the broker (a before/after comparison,
# with the same client: bin/junction bench); the default builds this tree.
J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
JB=${JUNCTION_BIN:-$J}
# up PORT: something listens there (bash's /dev/tcp: no netcat needed).
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# ../shared from a checkout beside it, ../../shared from a worktree under wt/.
ANCHORS=${ANCHORS:-../shared/anchors/anchors.sh}
[ -x "$ANCHORS" ] || ANCHORS=../../shared/anchors/anchors.sh
DATA=$(mktemp -d)
trap 'kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null; rm -rf "$DATA" "$DATA.yaml"' EXIT
CONFIG=${JUNCTION_CONFIG:-$DATA.yaml}
if [ -z "${JUNCTION_CONFIG:-}" ]; then
  printf 'max-queued-messages: -1\nmax-queued-bytes: -1\n' > "$CONFIG"
fi
ulimit -n 20000 2>/dev/null
"$JB" serve --config "$CONFIG" --data "$DATA" --log-level warn > "$DATA.log" 2>&1 &
JPID=$!
for _ in $(seq 50); do up 61613 && up 1883 && up 5672 && break; sleep 0.1; done

pid_of() {
  case $1 in
    junction) echo "$JPID" ;;
    activemq) "$ANCHORS" pid activemq-bench 2>/dev/null ;;
    *) "$ANCHORS" pid "$1" 2>/dev/null ;;
  esac
}

# restart_junction gives a memory measurement a broker that has not yet
# grown its heap on earlier scenarios; extra arguments go to serve.
restart_junction() {
  kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null
  rm -rf "$DATA"; mkdir -p "$DATA"
  "$JB" serve --config "$CONFIG" --data "$DATA" --log-level warn "$@" > "$DATA.log" 2>&1 &
  JPID=$!
  for _ in $(seq 50); do up 61613 && up 1883 && up 5672 && break; sleep 0.1; done
}

# run NAME BROKER URL ARGS... : one measurement, printed as a JSON line. With
# the broker's pid known, the line carries its CPU time per message
# (broker_cpu_us_per_msg) next to the client's (client_cpu_us_per_msg).
run() {
  local name=$1 broker=$2 url=$3; shift 3
  local port=${url##*:}
  up "$port" || { echo "{\"scenario\":\"$name\",\"broker\":\"$broker\",\"skipped\":\"not running\"}"; return; }
  local out pid login=()
  pid=$(pid_of "$broker")
  # RabbitMQ's AMQP 1.0 plugin wants SASL PLAIN (its default user).
  [ "$broker" = rabbitmq ] && [ "${url%%:*}" = amqp ] && login=(--user guest --password guest)
  out=$("$J" bench --url "$url" --json ${pid:+--broker-pid "$pid"} "${login[@]}" "$@" 2>/dev/null | tr -d '\n ')
  echo "{\"scenario\":\"$name\",\"broker\":\"$broker\",\"result\":${out:-null}}"
}

stomp_brokers="junction=stomp://127.0.0.1:61613 activemq=stomp://127.0.0.1:36613 rabbitmq=stomp://127.0.0.1:61623"
amqp_brokers="junction=amqp://127.0.0.1:5672 rabbitmq=amqp://127.0.0.1:5673"
mqtt_brokers="junction=mqtt://127.0.0.1:1883 mosquitto=mqtt://127.0.0.1:1885 activemq=mqtt://127.0.0.1:31883 rabbitmq=mqtt://127.0.0.1:1884"

each() { # each BROKERS NAME ARGS...
  local brokers=$1 name=$2; shift 2
  for b in $brokers; do run "$name" "${b%%=*}" "${b#*=}" "$@"; done
}

scenario() {
  case $1 in
  stomp-1to1)       each "$stomp_brokers" "$1" -P 1 -C 1 -n 100000 /queue/bench.a ;;
  stomp-4to4)       each "$stomp_brokers" "$1" -P 4 -C 4 -n 25000 /queue/bench.b ;;
  stomp-persistent) each "$stomp_brokers" "$1" -P 1 -C 1 -n 20000 --persistent --receipt-every 100 --ack client-individual /queue/bench.c ;;
  stomp-16receipts) each "$stomp_brokers" "$1" -P 16 -C 1 -n 2000 --persistent --receipt-every 1 --ack client-individual /queue/bench.d ;;
  stomp-latency)    each "$stomp_brokers" "$1" -P 1 -C 1 -n 25000 --rate 5000 /queue/bench.e ;;
  stomp-16receipts-memory)
    restart_junction --store memory
    run "$1" junction stomp://127.0.0.1:61613 -P 16 -C 1 -n 2000 --persistent --receipt-every 1 --ack client-individual /queue/bench.d
    restart_junction ;;
  mqtt-qos0)        each "$mqtt_brokers" "$1" -P 1 -C 1 -n 100000 --qos 0 bench/q0 ;;
  mqtt-qos1)        each "$mqtt_brokers" "$1" -P 1 -C 1 -n 50000 --qos 1 bench/q1 ;;
  mqtt-fanout)      each "$mqtt_brokers" "$1" -P 1 -C 10 -n 20000 --qos 0 bench/fan ;;
  mqtt-latency)     each "$mqtt_brokers" "$1" -P 1 -C 1 -n 25000 --qos 1 --rate 5000 bench/lat ;;
  # The same with paho.mqtt.golang as the client (issue 18 states its CPU
  # goals for both clients): paho writes a packet per system call.
  mqtt-paho-qos0)   each "$mqtt_brokers" "$1" --client paho -P 1 -C 1 -n 60000 --qos 0 bench/pq0 ;;
  mqtt-paho-qos1)   each "$mqtt_brokers" "$1" --client paho -P 1 -C 1 -n 20000 --qos 1 bench/pq1 ;;
  mqtt-paho-fanout) each "$mqtt_brokers" "$1" --client paho -P 1 -C 10 -n 10000 --qos 0 bench/pfan ;;
  # AMQP 1.0, same go-amqp client: at least once (unsettled sends, 100
  # outcomes outstanding per producer through SendWithReceipt; the consumer
  # accepts each message), the consumer's link credit 1000, then 1, 10 and
  # 100 (go-amqp's default is 1); durable messages accepted after the
  # store's fsync. A fresh queue name each round: a broker that stalled
  # leaves its backlog behind.
  amqp-1to1)        each "$amqp_brokers" "$1" -P 1 -C 1 -n 30000 --unsettled --in-flight 100 --ack client-individual --credit 1000 bench.a1.$RANDOM ;;
  amqp-credit1)     each "$amqp_brokers" "$1" -P 1 -C 1 -n 30000 --unsettled --in-flight 100 --ack client-individual --credit 1 bench.a2.$RANDOM ;;
  amqp-credit10)    each "$amqp_brokers" "$1" -P 1 -C 1 -n 30000 --unsettled --in-flight 100 --ack client-individual --credit 10 bench.a3.$RANDOM ;;
  amqp-credit100)   each "$amqp_brokers" "$1" -P 1 -C 1 -n 30000 --unsettled --in-flight 100 --ack client-individual --credit 100 bench.a4.$RANDOM ;;
  amqp-persistent)  each "$amqp_brokers" "$1" -P 1 -C 1 -n 30000 --persistent --in-flight 100 --ack client-individual --credit 1000 bench.a5.$RANDOM ;;
  idle-stomp|idle-mqtt)
    local brokers=$stomp_brokers
    [ "$1" = idle-mqtt ] && brokers=$mqtt_brokers
    for b in $brokers; do
      local name=${b%%=*} url=${b#*=} pid
      [ "$name" = junction ] && restart_junction
      pid=$(pid_of "$name")
      up "${url##*:}" && [ -n "$pid" ] || continue
      local out
      out=$("$J" bench --url "$url" --idle 10000 --hold "${IDLE_HOLD:-15s}" --broker-pid "$pid" --json 2>/dev/null | tr -d '\n ')
      echo "{\"scenario\":\"$1\",\"broker\":\"$name\",\"result\":${out:-null}}"
    done ;;
  idle-slope-stomp|idle-slope-mqtt)
    # Junction only: RSS at 5,000 and at 15,000 idle connections, each on a
    # fresh broker; the slope between them is the cost of one connection
    # without the fixed costs (code pages, journal, first goroutines).
    local url=stomp://127.0.0.1:61613
    [ "$1" = idle-slope-mqtt ] && url=mqtt://127.0.0.1:1883
    local n out
    for n in 5000 15000; do
      restart_junction
      out=$("$J" bench --url "$url" --idle "$n" --hold 5s --broker-pid "$JPID" --json 2>/dev/null | tr -d '\n ')
      echo "{\"scenario\":\"$1\",\"broker\":\"junction\",\"result\":${out:-null}}"
    done ;;
  *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
}

all="stomp-1to1 stomp-4to4 stomp-persistent stomp-16receipts stomp-latency mqtt-qos0 mqtt-qos1 mqtt-fanout mqtt-latency mqtt-paho-qos0 mqtt-paho-qos1 mqtt-paho-fanout amqp-1to1 amqp-credit1 amqp-credit10 amqp-credit100 amqp-persistent idle-stomp idle-mqtt"
for s in ${@:-$all}; do scenario "$s"; done

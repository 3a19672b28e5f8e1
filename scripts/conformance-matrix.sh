#!/usr/bin/env bash
# Runs the conformance suite against Junction and the anchor brokers in one
# sitting and writes docs/CONFORMANCE.md's matrix. The anchors come from
# Debian's packages, started on side ports by ../shared/anchors/anchors.sh:
#
#   apt-get install -y activemq rabbitmq-server mosquitto libactivemq-java default-jdk-headless
#   ../shared/anchors/anchors.sh start activemq-bench; ... start rabbitmq; ... start mosquitto
#   make conformance-matrix
#
# A broker that is not running is left out of the table.
set -u
cd "$(dirname "$0")/.."
ANCHORS=${ANCHORS:-../shared/anchors/anchors.sh}
J=bin/junction
go build -o "$J" ./cmd/junction || exit 1
OUT=$(mktemp -d)
DATA=$(mktemp -d)
trap 'kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null; rm -rf "$DATA" "$OUT"' EXIT
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Junction on ports of its own, beside whatever runs on the standard ones.
"$J" serve --data "$DATA" --log-level warn --stomp 127.0.0.1:27613 --mqtt 127.0.0.1:27883 \
  --amqp 127.0.0.1:27672 --openwire 127.0.0.1:27616 --ws off --admin off > "$DATA.log" 2>&1 &
JPID=$!
for _ in $(seq 100); do up 27613 && up 27616 && break; sleep 0.1; done

files=()
run() { # NAME ARGS...
  local name=$1; shift
  echo "== $name" >&2
  "$J" conformance --json "$@" > "$OUT/$name.json"
  files+=("$OUT/$name.json")
}
run junction --stomp 127.0.0.1:27613 --mqtt 127.0.0.1:27883 --amqp 127.0.0.1:27672 --openwire 127.0.0.1:27616
if up 36613; then run activemq --stomp 127.0.0.1:36613 --mqtt 127.0.0.1:31883 --openwire 127.0.0.1:36616; fi
if up 61623; then run rabbitmq --stomp 127.0.0.1:61623 --mqtt 127.0.0.1:1884 --amqp 127.0.0.1:5673 --user guest --password guest; fi
if up 1885; then run mosquitto --mqtt 127.0.0.1:1885 --profile mosquitto; fi

{
  cat docs/CONFORMANCE.head.md
  echo
  echo "Measured $(date -u +%Y-%m-%d) on one machine, one sitting (\`make conformance-matrix\`):"
  echo
  "$J" conformance table "${files[@]}"
} > docs/CONFORMANCE.md
echo "wrote docs/CONFORMANCE.md" >&2

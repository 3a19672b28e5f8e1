#!/bin/bash
# mgmt-ab.sh: what management traffic costs message throughput
# (docs/PERFORMANCE.md, "Management API").
#
# Starts a broker with 1,000 queues, then:
#  1. the broker's CPU time over 20 s idle, and over 20 s of a console-like
#     poller (every second: broker info, a page of queues sorted by depth,
#     connections, /metrics);
#  2. STOMP 2 -> 2 non-persistent throughput, 100,000 messages per producer,
#     alternating without and with the poller, ROUNDS times (default 3).
#
# Usage: JUNCTION_BIN=bin/junction scripts/mgmt-ab.sh   (needs curl and jq)
set -u
B=${JUNCTION_BIN:-bin/junction}
ROUNDS=${ROUNDS:-3}
D=$(mktemp -d)
STOMP=127.0.0.1:${STOMP_PORT:-47713}
ADMIN=127.0.0.1:${ADMIN_PORT:-48261}
U=http://$ADMIN
"$B" serve --data "$D/data" --stomp "$STOMP" --mqtt off --ws off --admin "$ADMIN" --log-level warn > "$D/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "$U/readyz" && break; sleep 0.1; done
for i in $(seq 1 1000); do curl -s -o /dev/null -X POST "$U/api/v1/queues" -d "{\"name\":\"pad.$i\"}"; done

poll_once() {
	for p in /api/v1/broker "/api/v1/queues?limit=50&sort=depth&order=desc" /api/v1/connections /metrics; do
		curl -s -o /dev/null "$U$p"
	done
}
poll() { while true; do poll_once; sleep 1; done; }
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{print int(($14+$15)*1000/t)}' "/proc/$PID/stat"; }

a=$(cpu_ms); sleep 20; b=$(cpu_ms)
echo "idle 20 s: $((b - a)) ms broker CPU"
a=$(cpu_ms); n=0; end=$((SECONDS + 20))
while [ $SECONDS -lt $end ]; do poll_once; n=$((n + 1)); sleep 1; done
b=$(cpu_ms)
echo "polled 20 s ($n rounds of 4 requests): $((b - a)) ms broker CPU"

for round in $(seq "$ROUNDS"); do
	for mode in off on; do
		PP=
		if [ $mode = on ]; then poll & PP=$!; fi
		R=$("$B" bench --url "stomp://$STOMP" -P 2 -C 2 -n 100000 --broker-pid $PID --json /queue/ab 2>/dev/null |
			jq -c '{receive_rate, broker_cpu_us_per_msg, lost}')
		if [ -n "$PP" ]; then kill $PP; wait $PP 2>/dev/null; fi
		echo "round $round, poller $mode: $R"
	done
done

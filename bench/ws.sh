#!/usr/bin/env bash
# WebSocket benchmarks (the sync role) against `todod all` with a private PostgreSQL:
#   idle      BENCH_WS_IDLE (10 000) connections of 100 users held open: todod's RSS per
#             idle connection (RSS with them minus RSS before, divided by their number).
#   latency   BENCH_WS_WRITES (300) POST /api/tasks one at a time, 20 ms apart, each timed
#             until its update arrives on the user's WebSocket (the POST runs on a thread
#             while the client reads), and from
#             the write's commit (track_commit_timestamp) to its arrival: p50/p99/max.
#   fan-out   100 connections of one user; 50 writes, each timed until the last of the
#             100 has it.
# The client is bench/ws.c (libuv), built here.
#
# BENCH_WS_BUS=kafka runs `todod all` on the Kafka bus (librdkafka's mock cluster): each
# update then goes relay -> broker -> sync's consumer group -> the WebSocket. The mock holds
# an idle fetch for all of --kafka-fetch-wait (BENCH_WS_FETCH_WAIT, default 50ms) even when
# a record comes meanwhile, which a real broker does not.
#
#   bench/ws.sh [build-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
nidle=${BENCH_WS_IDLE:-10000}
nwrites=${BENCH_WS_WRITES:-300}
work=$(mktemp -d /tmp/todod-ws-XXXXXX)
chmod 0711 "$work"
pid=""
holder=""
mock=""
bus=${BENCH_WS_BUS:-local}
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    [ -n "$mock" ] && kill "$mock" 2>/dev/null || true   # after todod: it drains to the broker
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -pthread -o "$work/ws" "$here/ws.c" $(pkg-config --cflags --libs libuv)
secret="bench-secret-bench-secret-bench-secret-0123"
python3 - "$secret" >"$work/tokens" <<'PY'
import base64, hashlib, hmac, json, sys, time, uuid
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = sys.argv[1].encode()
now = int(time.time())
for _ in range(100):
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(json.dumps({"sub": str(uuid.uuid4()), "iat": now, "exp": now + 7200}).encode())
    s = b64(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
    print(h + "." + p + "." + s)
PY
bus_args=()
if [ "$bus" = kafka ]; then
    cc -O2 -o "$work/mock_kafka" "$here/../tests/support/mock_kafka.c" -lrdkafka
    mkfifo "$work/mock.in"
    "$work/mock_kafka" task-events:6 task-events.dlq:1 reminders:6 reminders.dlq:1 \
        task-updates:6 task-updates.dlq:1 <"$work/mock.in" >"$work/mock.out" 2>"$work/mock.err" &
    mock=$!
    exec 9>"$work/mock.in"   # keeps the mock's stdin open
    for _ in $(seq 1 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
    bus_args=(--bus kafka --kafka-brokers "$(head -n1 "$work/mock.out")"
              --kafka-fetch-wait "${BENCH_WS_FETCH_WAIT:-50ms}")
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_todod() {
    TODOD_JWT_SECRET="$secret" "$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" \
        --log-level warn --rate-limit-user 0 --rate-limit-addr 0 "${bus_args[@]}" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }
    # A consumer group's first join on the mock cluster takes about 3 s: measure after it.
    if [ "$bus" = kafka ]; then sleep 8; fi
}
stop_todod() {
    kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
start_todod
pg=(psql -X -q -t -A -v ON_ERROR_STOP=1 "host=$work/data/run port=5432 dbname=todod user=todod")
if command -v psql >/dev/null; then
    # commit times of the writes, to measure from the commit itself (needs a restart)
    "${pg[@]}" -c "ALTER SYSTEM SET track_commit_timestamp = on"
    stop_todod
    start_todod
fi
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
token=$(head -n1 "$work/tokens")

echo "== latency ($bus bus): $nwrites writes, one connection"
WS_RECV_LOG="$work/recv" "$work/ws" latency "$port" "$token" "$nwrites"
if command -v psql >/dev/null; then
    "${pg[@]}" -c "CREATE TABLE IF NOT EXISTS bench_recv (task_id uuid, at_ms double precision)"
    "${pg[@]}" -c "\\copy bench_recv FROM '$work/recv'"
    "${pg[@]}" -F ' ' -c "
SELECT 'commit-to-client: p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)
       || ' ms, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
       || ' ms, max ' || round(max(ms)::numeric, 2) || ' ms (' || count(*) || ' updates)'
FROM (SELECT r.at_ms - extract(epoch FROM pg_xact_commit_timestamp(t.xmin)) * 1000 AS ms
        FROM bench_recv r JOIN tasks t ON t.id = r.task_id) x"
fi
echo "== fan-out: 100 connections of one user, 50 writes"
"$work/ws" fanout "$port" "$token" 100 50

echo "== idle: $nidle connections of 100 users"
sleep 1
before=$(rss_kib)
mkfifo "$work/hold"
"$work/ws" idle "$port" "$work/tokens" "$nidle" <"$work/hold" >"$work/idle.out" 2>&1 &
holder=$!
exec 8>"$work/hold"
for _ in $(seq 1 1200); do grep -q '^open' "$work/idle.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^open' "$work/idle.out" || { echo "idle connections did not open"; cat "$work/idle.out"; exit 1; }
sleep 2
after=$(rss_kib)
awk -v b="$before" -v a="$after" -v n="$nidle" \
    'BEGIN { printf "RSS %d KiB before, %d KiB with %d idle connections: %.2f KiB per connection\n", b, a, n, (a - b) / n }'
curl -sf "http://127.0.0.1:$port/metrics" | grep '^td_ws_open_connections' || true
exec 8>&-
wait "$holder" 2>/dev/null || true
holder=""

#!/usr/bin/env bash
# WebSocket benchmarks (the sync role) against `todod all` with a private PostgreSQL:
#   idle      BENCH_WS_IDLE (10 000) connections of 100 users held open: todod's RSS per
#             idle connection (RSS with them minus RSS before, divided by their number).
#   latency   BENCH_WS_WRITES (300) POST /api/tasks one at a time, 20 ms apart, each timed
#             until its update arrives on the user's WebSocket (an upper bound of
#             commit-to-client): p50/p99/max.
#   fan-out   100 connections of one user; 50 writes, each timed until the last of the
#             100 has it.
# The client is bench/ws.c (libuv), built here.
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
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/ws" "$here/ws.c" $(pkg-config --cflags --libs libuv)
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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TODOD_JWT_SECRET="$secret" "$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" \
    --log-level warn --rate-limit-user 0 --rate-limit-addr 0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
token=$(head -n1 "$work/tokens")

echo "== latency: $nwrites writes, one connection"
"$work/ws" latency "$port" "$token" "$nwrites"
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
curl -sf "http://127.0.0.1:$port/metrics" | grep '^todod_ws_connections' || true
exec 8>&-
wait "$holder" 2>/dev/null || true
holder=""

#!/usr/bin/env bash
# Benchmarks: idle RSS of `todod all` (without PostgreSQL), and GET /health throughput with
# wrk, the server pinned to one core and wrk to the other; then bench/api.sh (task API
# endpoints, BENCH_API=0 skips it), bench/chat.sh (POST /api/chat, BENCH_CHAT=0 skips it),
# bench/nlp.sh (the chat's language engine, BENCH_NLP=0 skips it), then bench/events.sh
# (BENCH_EVENTS=0 skips it), then bench/ws.sh (WebSocket: idle connections, latency,
# fan-out; BENCH_WS=0 skips it), bench/notify.sh (reminder lateness, BENCH_NOTIFY=0 skips
# it) and bench_rrule (recurrence math, BENCH_RRULE=0 skips it). Prints figures; stops by
# itself.
set -euo pipefail
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-64}
work=$(mktemp -d /tmp/todod-bench-XXXXXX)
chmod 0711 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
cleanup() { [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level warn \
    >"$work/out" 2>"$work/err" &
pid=$!
# Only todod is pinned to core 0 (after its PostgreSQL started, so PostgreSQL keeps
# both cores as it would on its own host); wrk runs on core 1.
sleep 0.5
taskset -a -pc 0 "$pid" >/dev/null
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }
sleep 2

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
echo "== idle"
echo "idle RSS of todod all (PostgreSQL is a separate process): $(( $(rss_kib) )) KiB"

echo "== GET /health, wrk -t1 -c$conns -d${duration}s, server on core 0, wrk on core 1"
t0=$(cpu_ticks)
taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port/health" | tee "$work/wrk"
t1=$(cpu_ticks)
reqs=$(awk '/requests in/ {print $1}' "$work/wrk")
hz=$(getconf CLK_TCK)
awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" \
    'BEGIN { printf "server CPU per request: %.2f us (%d requests, %.2f s CPU)\n", t / hz / n * 1e6, n, t / hz }'
echo "RSS after load: $(rss_kib) KiB (peak $(hwm_kib) KiB)"

# The API benchmarks start a server of their own and need both cores: stop this one first.
if [ "${BENCH_API:-1}" != 0 ]; then
    cleanup
    pid=""
    trap - EXIT
    bash "$(dirname "$0")/api.sh" "$build"
fi

# The chat's requests per second (BENCH_CHAT=0 skips it).
if [ "${BENCH_CHAT:-1}" != 0 ]; then
    bash "$(dirname "$0")/chat.sh" "$build"
fi

# The language engine's parse rate (BENCH_NLP=0 skips it).
if [ "${BENCH_NLP:-1}" != 0 ]; then
    bash "$(dirname "$0")/nlp.sh" "$build"
fi

# The event backbone: relay -> bus -> audit throughput and latency (BENCH_EVENTS=0 skips it).
if [ "${BENCH_EVENTS:-50000}" != 0 ]; then
    bash "$(dirname "$0")/events.sh" "$build"
fi

# Live sync over WebSocket (BENCH_WS=0 skips it).
if [ "${BENCH_WS:-1}" != 0 ]; then
    bash "$(dirname "$0")/ws.sh" "$build"
    BENCH_WS_BUS=kafka BENCH_WS_IDLE=100 bash "$(dirname "$0")/ws.sh" "$build"
    BENCH_WS_BUS=kafka BENCH_WS_IDLE=100 BENCH_WS_FETCH_WAIT=10ms bash "$(dirname "$0")/ws.sh" "$build"
fi

# Reminders: 100 000 due within a minute on one notify process, lateness and RSS
# (BENCH_NOTIFY=0 skips it; BENCH_REMINDERS, BENCH_SPREAD size it).
if [ "${BENCH_NOTIFY:-1}" != 0 ]; then
    bash "$(dirname "$0")/notify.sh" "$build"
fi

# Recurrence math: next-occurrence computations per second, and the worst rules'
# validation time (BENCH_RRULE=0 skips it).
if [ "${BENCH_RRULE:-1}" != 0 ]; then
    "$build/bench/bench_rrule" "${BENCH_RRULE_SECONDS:-1}"
fi

#!/usr/bin/env bash
# The chat's throughput: POST /api/chat "add call the plumber tomorrow at 9 #home" (the
# built-in engine: parse, three tool calls - add_task, set_due_date, add_tags - and the
# conversation stored) as one user. `todod all` (private PostgreSQL) on core 0, wrk on
# core 1, rate limits off. Prints requests/s, p50/p99 and CPU time per request of todod
# and of PostgreSQL. Loopback only; stops everything by itself.
#
#   bench/chat.sh [build-dir]     BENCH_DURATION (10 s), BENCH_CHAT_CONNECTIONS (32)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
duration=${BENCH_DURATION:-10}
conns=${BENCH_CHAT_CONNECTIONS:-32}
for tool in wrk curl jq taskset; do
    command -v "$tool" >/dev/null || { echo "bench/chat.sh needs $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/todod-chat-XXXXXX)
chmod 0711 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18082)
base="http://127.0.0.1:$port"
pid=""

postmaster_pid() { head -n1 "$work/data/pg/postmaster.pid" 2>/dev/null || true; }
cleanup() {
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    local pm
    pm=$(postmaster_pid)
    if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
        kill -INT "$pm" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level warn \
    --rate-limit-user 0 --rate-limit-addr 0 >"$work/out" 2>"$work/err" &
pid=$!
sleep 0.5
taskset -a -pc 0 "$pid" >/dev/null
for _ in $(seq 1 600); do
    curl -sf --max-time 1 "$base/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
curl -sf --max-time 2 "$base/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }

signup=$(curl -sS --max-time 30 -X POST "$base/api/auth/signup" -H 'Content-Type: application/json' \
    -d '{"email":"chat@example.com","password":"benchmark-password","name":"Chat"}')
token=$(jq -er .token <<<"$signup") || { echo "signup failed: $signup"; exit 1; }
answer=$(curl -sS --max-time 10 -X POST "$base/api/chat" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"message":"add call the plumber tomorrow at 9 #home"}')
echo "== one answer: $(jq -c '{response, tools: [.tool_calls[].tool]}' <<<"$answer")"
sleep 1

hz=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
pg_ticks() {
    local pm p
    pm=$(postmaster_pid)
    [ -n "$pm" ] || { echo 0; return; }
    for p in "$pm" $(pgrep -P "$pm"); do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                           else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

results=()
run() {   # name, message
    local name=$1
    echo "== $name: wrk -t1 -c$conns -d${duration}s (todod on core 0, wrk on core 1)"
    export CHAT_MESSAGE=$2
    local t0 p0 t1 p1 n rps p50 p99 bad cpu pgcpu
    t0=$(ticks "$pid"); p0=$(pg_ticks)
    taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$here/chat.lua" "$base/api/chat" \
        >"$work/wrk" 2>"$work/wrk.err" || { cat "$work/wrk" "$work/wrk.err"; exit 1; }
    t1=$(ticks "$pid"); p1=$(pg_ticks)
    sed 's/^/   /' "$work/wrk"
    [ -s "$work/wrk.err" ] && sed 's/^/   wrk: /' "$work/wrk.err"
    n=$(awk '/requests in/ {print $1}' "$work/wrk")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$work/wrk")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk")")
    bad=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
               END { print n + 0 }' "$work/wrk")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    pgcpu=$(awk -v t="$((p1 - p0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    results+=("$(printf '%-34s %9s %8s %8s %10s %10s %7s' "$name" "$rps" "$p50" "$p99" "$cpu" "$pgcpu" "$bad")")
}

export TODOD_TOKEN=$token
run "add ... tomorrow at 9 (3 tools)" "add call the plumber tomorrow at 9 #home"
run "help (no tool: load + store)" "help"
echo
echo "== summary: $conns connections, ${duration}s each; CPU = CPU time per request"
printf '%-34s %9s %8s %8s %10s %10s %7s\n' 'POST /api/chat' 'req/s' 'p50 ms' 'p99 ms' 'todod us' 'pg us' 'non2xx'
printf '%s\n' "${results[@]}"

#!/usr/bin/env bash
# API benchmarks: `todod all` (private PostgreSQL, which inherits its CPU pinning) on core 0,
# wrk on core 1, one user with 10 000 seeded tasks, rate limits off. Measures, per endpoint:
# requests/s, p50/p99 latency, CPU time per request of todod and of PostgreSQL, and todod's
# RSS after the load. Loopback only; stops everything by itself.
#
#   bench/api.sh [build-dir]      BENCH_DURATION (10 s), BENCH_API_CONNECTIONS (32),
#                                 BENCH_TASKS (10000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
duration=${BENCH_DURATION:-10}
conns=${BENCH_API_CONNECTIONS:-32}
ntasks=${BENCH_TASKS:-10000}
for tool in wrk curl psql jq taskset; do
    command -v "$tool" >/dev/null || { echo "bench/api.sh needs $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/todod-api-XXXXXX)
chmod 0711 "$work"   # the private cluster runs as an unprivileged user and must get in
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18081)
base="http://127.0.0.1:$port"
pid=""

postmaster_pid() { head -n1 "$work/data/pg/postmaster.pid" 2>/dev/null || true; }
cleanup() {
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    # todod stops its cluster; if todod died, do it here so nothing outlives the script.
    local pm p
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
# Only todod is pinned to core 0 (after its PostgreSQL started, so PostgreSQL keeps
# both cores as it would on its own host); wrk runs on core 1.
sleep 0.5
taskset -a -pc 0 "$pid" >/dev/null
for _ in $(seq 1 600); do
    curl -sf --max-time 1 "$base/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
curl -sf --max-time 2 "$base/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }

# ---- one user, many tasks ----
signup=$(curl -sS --max-time 30 -X POST "$base/api/auth/signup" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"benchmark-password","name":"Bench"}')
token=$(jq -er .token <<<"$signup") || { echo "signup failed: $signup"; exit 1; }
user=$(jq -er .user.id <<<"$signup")
auth="Authorization: Bearer $token"

pg=(psql -X -q -v ON_ERROR_STOP=1 "host=$work/data/run port=5432 dbname=todod user=todod")
echo "== seeding $ntasks tasks for user $user"
"${pg[@]}" <<SQL
INSERT INTO tasks (id, user_id, title, description, status, priority, tags, due_at, time_zone,
                   recurrence, reminders, created_at, updated_at, completed_at)
SELECT gen_random_uuid(), '$user',
       (ARRAY['Buy milk', 'Write report', 'Call Alice', 'Fix the bike', 'Pay rent',
              'Book flights', 'Review PR', 'Water plants'])[1 + g % 8] || ' #' || g,
       CASE WHEN g % 3 = 0 THEN 'Details for task ' || g ELSE '' END,
       CASE WHEN g % 7 = 0 THEN 'completed' ELSE 'pending' END,
       g % 5,
       (ARRAY['{work}', '{home,errands}', '{work,urgent}', '{}', '{health}', '{home}'])
           [1 + g % 6]::text[],
       CASE WHEN g % 4 = 0 THEN NULL
            ELSE now() + make_interval(days => g % 90 - 30, hours => g % 24) END,
       'UTC',
       CASE WHEN g % 50 = 0 THEN 'FREQ=WEEKLY;BYDAY=MO' END,
       CASE WHEN g % 10 = 0 THEN '[{"offset":"PT15M"}]'::jsonb ELSE '[]'::jsonb END,
       now() - make_interval(mins => g), now() - make_interval(mins => g),
       CASE WHEN g % 7 = 0 THEN now() - make_interval(mins => g) END
FROM generate_series(1, $ntasks) AS g;
VACUUM ANALYZE tasks;
SQL
task_id=$("${pg[@]}" -At -c "SELECT id FROM tasks WHERE user_id = '$user' ORDER BY created_at LIMIT 1 OFFSET $((ntasks / 2))")

# Every endpoint must answer as expected before it is measured.
expect() {   # status method path [curl args...]
    local want=$1 method=$2 path=$3; shift 3
    local got
    got=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 10 -X "$method" -H "$auth" "$@" "$base$path")
    [ "$got" = "$want" ] || { echo "$method $path answered $got, not $want:"; cat "$work/body"; echo; exit 1; }
}
expect 200 GET "/api/tasks?limit=20"
expect 200 GET "/api/tasks/$task_id"
expect 201 POST /api/tasks -H 'Content-Type: application/json' -d '{"title":"check"}'
sleep 1

# ---- measuring ----
hz=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }   # utime + stime
pg_ticks() {   # the postmaster and its children (backends, checkpointer, walwriter...)
    local pm p
    pm=$(postmaster_pid)
    [ -n "$pm" ] || { echo 0; return; }
    for p in "$pm" $(pgrep -P "$pm"); do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
to_ms() {   # wrk's 1.23ms / 456.00us / 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                           else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

echo "== todod before load: RSS $(status_kib VmRSS) KiB, peak $(status_kib VmHWM) KiB" \
     "(the peak includes the signup's argon2id hash, 19 MiB while it runs)"

results=()
run() {   # name, then wrk arguments after the common ones
    local name=$1; shift
    echo "== $name: wrk -t1 -c$conns -d${duration}s (todod on core 0, wrk on core 1)"
    local t0 p0 t1 p1
    t0=$(ticks "$pid"); p0=$(pg_ticks)
    taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" --latency "$@" >"$work/wrk" 2>"$work/wrk.err" ||
        { cat "$work/wrk" "$work/wrk.err"; exit 1; }
    t1=$(ticks "$pid"); p1=$(pg_ticks)
    sed 's/^/   /' "$work/wrk"
    [ -s "$work/wrk.err" ] && sed 's/^/   wrk: /' "$work/wrk.err"
    local n rps p50 p99 bad
    n=$(awk '/requests in/ {print $1}' "$work/wrk")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$work/wrk")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk")")
    # Failures: non-2xx answers plus socket errors (connect, read, write, timeout).
    bad=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
               END { print n + 0 }' "$work/wrk")
    local cpu pgcpu
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    pgcpu=$(awk -v t="$((p1 - p0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    results+=("$(printf '%-26s %9s %8s %8s %10s %10s %9s %9s %7s' "$name" "$rps" "$p50" "$p99" \
        "$cpu" "$pgcpu" "$(status_kib VmRSS)" "$(status_kib VmHWM)" "${bad:-0}")")
}

run "GET /health" "$base/health"
run "GET /api/tasks?limit=20" -H "$auth" "$base/api/tasks?limit=20"
run "GET /api/tasks/{id}" -H "$auth" "$base/api/tasks/$task_id"
export TODOD_TOKEN=$token
run "POST /api/tasks" -s "$here/post_task.lua" "$base/api/tasks"

echo
echo "== summary: $ntasks tasks, $conns connections, ${duration}s each; CPU = server CPU time per request"
printf '%-26s %9s %8s %8s %10s %10s %9s %9s %7s\n' endpoint 'req/s' 'p50 ms' 'p99 ms' \
    'todod us' 'pg us' 'RSS KiB' 'HWM KiB' 'non2xx'
printf '%s\n' "${results[@]}"
echo
echo "targets (FastAPI+asyncpg baseline: 5 600 req/s one-query GET, 2 400 req/s POST, p99 27 ms):"
echo "  reads >= 28 000 req/s, writes >= 7 200 req/s, p99 < 5 ms, RSS < 20 MiB, CPU per request <="
echo "  9.2 us /health, 38 us GET by id, 77 us list page, 74 us POST (a fifth of FastAPI's)"

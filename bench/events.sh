#!/usr/bin/env bash
# Event backbone benchmarks: outbox -> relay -> bus -> audit consumer, in `todod all` with a
# private PostgreSQL, on the Kafka bus (librdkafka's mock cluster, a real Kafka-protocol
# broker in another process) and on the local bus.
#
#   throughput  BENCH_EVENTS (50 000) task events committed in one burst (50 users);
#               events/s from the commit until the last audit row exists.
#   latency     BENCH_WRITES (300) POST /api/tasks one at a time, 20 ms apart (an idle
#               system), measured first; for each, from the write's commit
#               (track_commit_timestamp) and from its transaction's start, to the outbox row
#               marked published (after the bus confirmed it) and to its audit row:
#               p50/p99/max; and the relay's own histogram.
#
#   bench/events.sh [build-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
nevents=${BENCH_EVENTS:-50000}
nwrites=${BENCH_WRITES:-300}
for tool in curl psql jq cc; do
    command -v "$tool" >/dev/null || { echo "bench/events.sh needs $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/todod-events-XXXXXX)
chmod 0711 "$work"
pid=""
mock=""
postmaster_pid() { head -n1 "$work/data/pg/postmaster.pid" 2>/dev/null || true; }
stop_todod() {
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=""
    local pm
    pm=$(postmaster_pid)
    if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
        kill -INT "$pm" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    fi
}
cleanup() {
    stop_todod
    [ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/mock_kafka" "$root/tests/support/mock_kafka.c" -lrdkafka
mkfifo "$work/mock.in"
"$work/mock_kafka" task-events:6 task-events.dlq:1 reminders:6 task-updates:6 \
    <"$work/mock.in" >"$work/mock.out" 2>"$work/mock.err" &
mock=$!
exec 9>"$work/mock.in"   # keeps the mock's stdin open
for _ in $(seq 1 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
brokers=$(head -n1 "$work/mock.out")

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_todod() {
    local bus=$1
    local extra=()
    [ "$bus" = kafka ] && extra=(--bus kafka --kafka-brokers "$brokers")
    "$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level warn \
        --rate-limit-user 0 --rate-limit-addr 0 "${extra[@]}" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1 600); do
        curl -sf --max-time 1 "$base/ready" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    curl -sf --max-time 2 "$base/ready" >/dev/null || { echo "todod not ready"; cat "$work/err"; exit 1; }
}

run_bus() {
    local bus=$1
    port=$(free_port)
    base="http://127.0.0.1:$port"
    rm -rf "$work/data"
    start_todod "$bus"
    local pg=(psql -X -q -t -A -v ON_ERROR_STOP=1 "host=$work/data/run port=5432 dbname=todod user=todod")
    # commit times of the writes, to measure from the commit itself (needs a restart)
    "${pg[@]}" -c "ALTER SYSTEM SET track_commit_timestamp = on"
    stop_todod
    start_todod "$bus"
    # the consumer group's first join takes a few seconds on Kafka: wait for one event
    local token
    token=$(curl -sS -X POST "$base/api/auth/signup" -H 'Content-Type: application/json' \
        -d '{"email":"bench@example.com","password":"benchmark-password"}' | jq -er .token)
    curl -sf -o /dev/null -X POST "$base/api/tasks" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"title":"warm-up"}'
    for _ in $(seq 1 300); do
        [ "$("${pg[@]}" -c 'SELECT count(*) FROM audit_log')" -ge 1 ] && break
        sleep 0.1
    done

    echo "== $bus bus: latency, $nwrites writes one at a time, 20 ms apart"
    for _ in $(seq 1 "$nwrites"); do
        curl -sf -o /dev/null -X POST "$base/api/tasks" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d '{"title":"latency"}'
        sleep 0.02
    done
    sleep 1
    "${pg[@]}" <<'SQL'
SELECT format('commit -> marked published: p50 %s ms, p99 %s ms, max %s ms',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2))
FROM (SELECT extract(epoch FROM o.published_at - pg_xact_commit_timestamp(t.xmin)) * 1000 AS ms
      FROM outbox o JOIN tasks t ON t.id = (o.event->>'subject')::uuid WHERE t.title = 'latency') x;
SELECT format('commit -> audit row: p50 %s ms, p99 %s ms, max %s ms',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2))
FROM (SELECT extract(epoch FROM a.recorded_at - pg_xact_commit_timestamp(t.xmin)) * 1000 AS ms
      FROM audit_log a JOIN outbox o USING (event_id) JOIN tasks t ON t.id = a.task_id
      WHERE t.title = 'latency') x;
SELECT format('write start -> audit row: p50 %s ms, p99 %s ms, max %s ms (%s writes)',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
    round(max(ms)::numeric, 2), count(*))
FROM (SELECT extract(epoch FROM a.recorded_at - o.created_at) * 1000 AS ms
      FROM audit_log a JOIN outbox o USING (event_id) JOIN tasks t ON t.id = a.task_id
      WHERE t.title = 'latency') x;
SQL
    curl -sf "$base/metrics" | awk '
        /^td_outbox_publish_latency_seconds_bucket/ { split($0, p, "\""); le[++n] = p[2]; c[n] = $2 }
        /^td_outbox_publish_latency_seconds_count/ { total = $2 }
        END { for (i = 1; i <= n; i++) if (!p50 && c[i] >= total * 0.5) p50 = le[i];
              for (i = 1; i <= n; i++) if (!p99 && c[i] >= total * 0.99) p99 = le[i];
              printf "relay: transaction start -> published (its histogram): p50 <= %s s, p99 <= %s s\n", p50, p99 }'
    echo "== $bus bus: throughput, $nevents events from 50 users in one commit"
    local per=$((nevents / 50)) t0 t1 got
    t0=$(date +%s.%N)
    "${pg[@]}" <<SQL >/dev/null
BEGIN;
INSERT INTO tasks (id, user_id, title) SELECT gen_random_uuid(), 'bench-' || u, 'bench' FROM generate_series(1, 50) u;
SELECT count(todod_emit(x.t, 'updated', NULL)) FROM (SELECT t FROM tasks t, generate_series(1, $per) i
    WHERE t.title = 'bench' ORDER BY i, t.user_id) x;
NOTIFY todod_outbox;
COMMIT;
SQL
    t1=$(date +%s.%N)
    while :; do
        got=$("${pg[@]}" -c "SELECT count(*) FROM audit_log WHERE user_id LIKE 'bench-%'")
        [ "$got" -ge $((per * 50)) ] && break
        sleep 0.05
    done
    local t2
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v n=$((per * 50)) 'BEGIN {
        printf "commit of the burst: %.2f s; commit -> last audit row: %.2f s; %.0f events/s\n",
               b - a, c - b, n / (c - b) }'
    echo "misordered per user: $("${pg[@]}" -c "SELECT count(*) FROM (SELECT o.seq, lag(o.seq)
        OVER (PARTITION BY a.user_id ORDER BY a.user_seq) AS prev FROM audit_log a JOIN outbox o
        USING (event_id) WHERE a.user_id LIKE 'bench-%') x WHERE x.prev > x.seq")"

    echo "todod RSS after: $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") KiB"
    stop_todod
}

run_bus kafka
run_bus local

#!/usr/bin/env bash
# Reminder benchmark: BENCH_REMINDERS (100 000) reminders due within BENCH_SPREAD (60) s,
# evenly, starting BENCH_LEAD (15) s after they are written, fired by one `todod notify`
# process (the release build) on its own PostgreSQL cluster.
#
# The reminder rows are written straight into the reminders table, as the role's consumer
# writes them for task events (proto/sql/0008_reminders.sql), before notify starts: the
# figures are the timer and the firing statement's, not the event path's. Lateness of each
# reminder is measured two ways: to the commit of the transaction that fired it
# (track_commit_timestamp: when the notification and the event became visible) and to the
# instant notify's timer ran the firing statement (fired_at). p50/p99/max, the goal being
# p99 <= 1 s; and the notify process's peak RSS (VmHWM).
#
#   bench/notify.sh [build-dir]
set -euo pipefail
build=${1:-build}
bin="$(cd "$build" && pwd)/todod"
n=${BENCH_REMINDERS:-100000}
spread=${BENCH_SPREAD:-60}
lead=${BENCH_LEAD:-15}
for tool in curl psql; do
    command -v "$tool" >/dev/null || { echo "bench/notify.sh needs $tool" >&2; exit 1; }
done
pgbin=${TODOD_PG_BIN:-$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n1)")}
[ -x "$pgbin/postgres" ] || { echo "bench/notify.sh: no PostgreSQL server (set TODOD_PG_BIN)" >&2; exit 1; }

work=$(mktemp -d /tmp/todod-notify-XXXXXX)
chmod 0711 "$work"
pid=""
pg=""
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
stop() {   # stop <pid>: TERM, then KILL after 30 s
    local p=$1
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    stop "$pid"
    if [ -n "$pg" ]; then
        # The server itself (runuser does not pass signals on): a fast shutdown.
        local pm
        pm=$(head -n1 "$work/data/pg/postmaster.pid" 2>/dev/null || true)
        [ -n "$pm" ] && kill -INT "$pm" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pg" 2>/dev/null || true
        wait "$pg" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# 1. The cluster and the schema: `todod all` initdb's and migrates its private cluster.
port=$(free_port)
"$bin" all --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level warn \
    >"$work/all.out" 2>"$work/all.err" &
pid=$!
for _ in $(seq 1 600); do
    curl -sf --max-time 1 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
curl -sf --max-time 2 "http://127.0.0.1:$port/ready" >/dev/null || { echo "todod not ready"; cat "$work/all.err"; exit 1; }
stop "$pid"
pid=""

# 2. The same cluster on its own (as todod runs it, plus commit timestamps), so that the
# only notify is the one measured.
owner=$(stat -c %U "$work/data/pg")
run=()
[ "$(id -u)" = 0 ] && [ "$owner" != root ] && run=(runuser -u "$owner" --)
"${run[@]}" "$pgbin/postgres" -D "$work/data/pg" -k "$work/data/run" -p 5432 \
    -c listen_addresses= -c shared_buffers=128MB -c max_connections=50 \
    -c track_commit_timestamp=on >"$work/pg.log" 2>&1 &
pg=$!
conninfo="host=$work/data/run port=5432 dbname=todod user=todod"
sql=(psql -X -q -t -A -v ON_ERROR_STOP=1 "$conninfo")
for _ in $(seq 1 300); do "${sql[@]}" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done

# 3. The reminders: n rows due from now + lead over spread seconds.
"${sql[@]}" <<SQL
INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, channel)
SELECT gen_random_uuid(), 'bench-' || (i % 1000), 'bench reminder ' || i,
       t0 + interval '1 hour', t0 + (i * $spread.0 / $n) * interval '1 second', 'in_app'
  FROM generate_series(0, $n - 1) i, (SELECT now() + interval '$lead seconds' AS t0) x;
ANALYZE reminders;
SQL

# 4. One notify process.
nport=$(free_port)
TODOD_JWT_SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    "$bin" notify --database-url "$conninfo" --listen "127.0.0.1:$nport" --log-level warn \
    >"$work/notify.out" 2>"$work/notify.err" &
pid=$!
echo "== notify: $n reminders due within ${spread} s (from ${lead} s after they were written), one todod notify"
deadline=$((lead + spread + 120))
for _ in $(seq 1 $((deadline * 2))); do
    left=$("${sql[@]}" -c "SELECT count(*) FROM reminders WHERE state = 'scheduled'")
    [ "$left" = 0 ] && break
    kill -0 "$pid" 2>/dev/null || { echo "notify exited"; cat "$work/notify.err"; exit 1; }
    sleep 0.5
done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
"${sql[@]}" <<'SQL'
SELECT format('fired %s, missed %s, still scheduled %s, notifications %s, reminder events %s',
    count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'missed'),
    count(*) FILTER (WHERE state = 'scheduled'), (SELECT count(*) FROM notifications),
    (SELECT count(*) FROM outbox WHERE topic = 'reminders'))
FROM reminders;
SELECT format('lateness to the commit that fired it: p50 %s ms, p99 %s ms, max %s ms',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1))
FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - remind_at) * 1000 AS ms
      FROM reminders WHERE state = 'sent') x;
SELECT format('lateness to the firing statement''s start (fired_at): p50 %s ms, p99 %s ms, max %s ms',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1))
FROM (SELECT extract(epoch FROM fired_at - remind_at) * 1000 AS ms
      FROM reminders WHERE state = 'sent') x;
SELECT format('max lateness to the commit, by 10 s of remind_at: %s ms',
    string_agg(m::text, ', ' ORDER BY b))
FROM (SELECT b, round(max(ms)) AS m
      FROM (SELECT floor(extract(epoch FROM remind_at - (SELECT min(remind_at) FROM reminders)) / 10) AS b,
                   extract(epoch FROM pg_xact_commit_timestamp(xmin) - remind_at) * 1000 AS ms
            FROM reminders WHERE state = 'sent') x
      GROUP BY b) y;
SELECT format('firing transactions: %s (%s reminders each on average)', count(DISTINCT xmin::text),
    round(count(*)::numeric / greatest(count(DISTINCT xmin::text), 1), 1))
FROM reminders WHERE state = 'sent';
SQL
echo "notify RSS: $rss KiB now, peak $hwm KiB"

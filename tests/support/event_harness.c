/* Helpers for the event backbone's tests (see event_harness.h). */
#include "tests/support/event_harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/support/api_harness.h"

long td_test_emit_burst(struct td_test_pg *pg, const char *prefix, int users, int per_user)
{
    static int burst;
    char tag[64];
    snprintf(tag, sizeof tag, "burst %d.%d", (int)getpid(), ++burst);
    char *sql = td_test_fmt(
        "BEGIN;"
        "INSERT INTO tasks (id, user_id, title) SELECT gen_random_uuid(), '%s-' || u, "
        "  '%s' FROM generate_series(1, %d) u;"
        "SELECT count(todod_emit(x.t, 'updated', NULL)) FROM (SELECT t FROM tasks t, "
        "  generate_series(1, %d) i WHERE t.title = '%s' ORDER BY i, t.user_id) x;"
        "NOTIFY todod_outbox; COMMIT;",
        prefix, tag, users, per_user, tag);
    free(td_test_pg_query(pg, sql));
    free(sql);
    return (long)users * per_user;
}

long td_test_wait_count(struct td_test_pg *pg, long want, int timeout_ms, const char *sql)
{
    long got = -1;
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        char *v = td_test_pg_query(pg, sql);
        got = v ? strtol(v, NULL, 10) : -1;
        free(v);
        if (got >= want)
            break;
        usleep(50 * 1000);
    }
    return got;
}

long td_test_audit_count(struct td_test_pg *pg, const char *prefix)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM audit_log WHERE user_id LIKE '%s-%%'", prefix);
}

long td_test_audit_missing(struct td_test_pg *pg, const char *prefix)
{
    return td_test_pg_long(pg,
        "SELECT count(*) FROM outbox o WHERE o.key LIKE '%s-%%' AND o.topic = 'task-events' "
        "AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.event_id = o.event_id)", prefix);
}

long td_test_audit_misordered(struct td_test_pg *pg, const char *prefix)
{
    return td_test_pg_long(pg,
        "SELECT count(*) FROM (SELECT o.seq, lag(o.seq) OVER (PARTITION BY a.user_id "
        "ORDER BY a.user_seq) AS prev FROM audit_log a JOIN outbox o USING (event_id) "
        "WHERE a.user_id LIKE '%s-%%') x WHERE x.prev > x.seq", prefix);
}

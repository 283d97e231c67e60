/* roles/audit/audit.c: the consumer that turns task events into audit records. The audit
 * role runs alone in the test process (tests/support/role_harness.h) with the outbox relay
 * (TD_NEED_RELAY), which publishes the shared PostgreSQL's outbox on the local bus as the
 * api would; events are written into the outbox by SQL, as the api's statements do. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_audit;
static const struct td_role *const roles[] = {&td_role_audit};

static struct td_test_roles S;
static struct td_test_pg *pg;
static char prefix[16];   /* users "<prefix>-<n>" are this test's */

static void start(void)
{
    pg = td_test_roles_pg();
    char id[37];
    td_test_uuid(id);
    snprintf(prefix, sizeof prefix, "au%.8s", id);
    td_test_roles_start(&S, roles, 1, TD_NEED_RELAY);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(audit, .init = start, .fini = stop, .timeout = 60);

/* Waits until the test's users have want audit records; returns how many they have. */
static long wait_records(long want)
{
    char *sql = td_test_fmt("SELECT count(*) FROM audit_log WHERE user_id LIKE '%s-%%'", prefix);
    long got = td_test_wait_count(pg, want, 20000, sql);
    free(sql);
    return got;
}

/* 1 when every chain of the test's users verifies. */
static long chains_valid(void)
{
    return td_test_pg_long(pg, "SELECT count(*) FILTER (WHERE NOT (todod_audit_verify(u)->>'valid')::boolean) "
                               "FROM (SELECT DISTINCT user_id AS u FROM audit_log WHERE user_id LIKE '%s-%%') x",
                           prefix) == 0;
}

Test(audit, a_burst_is_recorded_once_in_per_user_order_by_group_commit)
{
    long events = td_test_emit_burst(pg, prefix, 4, 25);
    cr_assert_eq(wait_records(events), events, "not every event was recorded");
    cr_expect_eq(td_test_audit_missing(pg, prefix), 0);
    cr_expect_eq(td_test_audit_misordered(pg, prefix), 0, "a user's records are out of outbox order");
    cr_expect(chains_valid());
    /* Each user's chain is 1..25 without gaps or repeats, one inbox row per event. */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(DISTINCT (user_id, user_seq)) FROM audit_log "
                                     "WHERE user_id LIKE '%s-%%' AND user_seq BETWEEN 1 AND 25", prefix),
                 events);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM inbox i JOIN outbox o USING (event_id) "
                                     "WHERE i.consumer_group = 'todod-audit' AND o.key LIKE '%s-%%'",
                                 prefix), events);
    /* Events that arrive together are appended together. */
    double appended = td_test_roles_metric(&S, "td_audit_batch_size_sum");
    double batches = td_test_roles_metric(&S, "td_audit_batch_size_count");
    cr_expect_eq(appended, events);
    cr_expect(batches >= 1 && batches <= events / 10, "%ld events took %.0f transactions", events,
              batches);
}

Test(audit, a_redelivered_event_changes_nothing)
{
    long events = td_test_emit_burst(pg, prefix, 1, 3);
    cr_assert_eq(wait_records(events), events);
    /* The first event again, as a broker would redeliver it (same CloudEvents id), then a
     * new event of the same user: it follows the copy in the user's lane. */
    free(td_test_pg_queryf(pg,
        "INSERT INTO outbox (event_id, topic, key, event) SELECT gen_random_uuid(), topic, key, event "
        "FROM outbox WHERE key = '%s-1' ORDER BY seq LIMIT 1; NOTIFY todod_outbox", prefix));
    events += td_test_emit_burst(pg, prefix, 1, 1);
    cr_assert_eq(wait_records(events), events, "the event after the copy was not recorded");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE key = '%s-1' "
                                     "AND published_at IS NULL", prefix), 0, "the copy was delivered");
    cr_expect_eq(td_test_pg_long(pg, "SELECT max(n) FROM (SELECT count(*) AS n FROM audit_log "
                                     "WHERE user_id = '%s-1' GROUP BY event_id) x", prefix), 1,
                 "an event recorded twice");
    cr_expect_eq(td_test_pg_long(pg, "SELECT max(user_seq) FROM audit_log WHERE user_id = '%s-1'",
                                 prefix), 4);
    cr_expect(chains_valid());
}

Test(audit, a_bad_event_is_dead_lettered_and_its_neighbours_recorded_in_order)
{
    /* One transaction: a good event, one that is not a task event, another good one. */
    char bad[37];
    td_test_uuid(bad);
    free(td_test_pg_queryf(pg,
        "BEGIN;"
        "INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), '%s-1', 'neighbours');"
        "SELECT todod_emit(t, 'updated', NULL) FROM tasks t WHERE user_id = '%s-1';"
        "INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), 'task-events', "
        "  '%s-1', jsonb_build_object('specversion', '1.0', 'id', '%s', 'type', 'not.a.task', "
        "  'time', '2026-01-01T00:00:00Z', 'data', jsonb_build_object('user_id', '%s-1')));"
        "SELECT todod_emit(t, 'completed', NULL) FROM tasks t WHERE user_id = '%s-1';"
        "NOTIFY todod_outbox; COMMIT;",
        prefix, prefix, prefix, bad, prefix, prefix));
    cr_assert_eq(wait_records(2), 2);
    cr_expect_eq(td_test_wait_count(pg, 1, 10000, "SELECT count(*) FROM dead_letters WHERE "
                                                  "topic = 'task-events.dlq' AND event LIKE '%not.a.task%'"),
                 1, "the bad event was not dead-lettered");
    char *why = td_test_pg_queryf(pg, "SELECT error FROM dead_letters WHERE event LIKE '%%%s%%'", bad);
    cr_expect(why && strstr(why, "not a task event"), "dead letter error: %s", why ? why : "(none)");
    free(why);
    /* The bad event left no inbox row (its subtransaction rolled back); the good ones are
     * records 1 and 2 of the chain, in commit order. */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM inbox WHERE event_id = '%s'", bad), 0);
    char *types = td_test_pg_queryf(pg, "SELECT string_agg(event_type || ':' || user_seq, ',' ORDER BY user_seq) "
                                        "FROM audit_log WHERE user_id = '%s-1'", prefix);
    cr_expect_str_eq(types ? types : "", "todo.task.updated:1,todo.task.completed:2");
    free(types);
    cr_expect(chains_valid());
}

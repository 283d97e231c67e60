/* The audit role inside `todod all` on the local bus: every task change becomes one
 * record, exactly once and in order, with before/after, actor and trace id; the log is
 * append-only and hash-chained; /api/audit filters, pages and isolates users. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0);
    td_test_pg_destroy(&pg);
}

TestSuite(audit, .init = start, .fini = stop, .timeout = 120);

/* GET path until it lists want items (the consumer is asynchronous); returns the body. */
static json_t *audit_wait(const struct td_test_user *u, const char *path, size_t want)
{
    json_t *body = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(body);
        body = NULL;
        cr_assert_eq(td_test_api_json(todod.port, u->token, "GET", path, NULL, NULL, &body), 200);
        if (json_array_size(json_object_get(body, "items")) >= want)
            break;
        usleep(25 * 1000);
    }
    return body;
}

static json_t *item(json_t *body, size_t i)
{
    return json_array_get(json_object_get(body, "items"), i);
}

Test(audit, records_every_change_with_before_after_actor_and_trace)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = td_test_create_task(todod.port, u.token, "{\"title\":\"First\"}");
    const char *id = td_test_jstr(t, "id");
    char *tp = td_test_fmt("/api/tasks/%s", id), *done = td_test_fmt("/api/tasks/%s/complete", id);
    const char *trace[] = {"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                           "X-Request-ID: audit-test-request-2", NULL};
    cr_assert_eq(td_test_api_json(todod.port, u.token, "PATCH", tp, "{\"title\":\"Second\"}",
                                  trace, NULL), 200);
    cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", done, NULL, NULL, NULL), 200);
    cr_assert_eq(td_test_api_json(todod.port, u.token, "DELETE", tp, NULL, NULL, NULL), 204);

    char *path = td_test_fmt("/api/audit?task_id=%s", id);
    json_t *body = audit_wait(&u, path, 4);
    cr_assert_eq(json_array_size(json_object_get(body, "items")), 4);
    const char *types[] = {"todo.task.created", "todo.task.updated", "todo.task.completed",
                           "todo.task.deleted"};
    for (size_t i = 0; i < 4; i++) {
        json_t *r = item(body, i);
        cr_expect_str_eq(td_test_jstr(r, "type"), types[i]);
        cr_expect_str_eq(td_test_jstr(r, "actor"), u.id);
        cr_expect_str_eq(td_test_jstr(r, "task_id"), id);
        cr_expect_eq(strlen(td_test_jstr(r, "hash")), 64);
        cr_expect_eq(strlen(td_test_jstr(r, "trace_id")), 32);
        if (i > 0)
            cr_expect_str_eq(td_test_jstr(r, "prev_hash"), td_test_jstr(item(body, i - 1), "hash"),
                             "record %zu is not chained to the one before", i);
    }
    cr_expect(json_is_null(td_test_jget(item(body, 0), "before")));
    cr_expect_str_eq(td_test_jstr(item(body, 0), "after.title"), "First");
    cr_expect_str_eq(td_test_jstr(item(body, 1), "before.title"), "First");
    cr_expect_str_eq(td_test_jstr(item(body, 1), "after.title"), "Second");
    cr_expect_str_eq(td_test_jstr(item(body, 1), "trace_id"), "0af7651916cd43dd8448eb211c80319c",
                     "the caller's trace id is kept");
    cr_expect_str_eq(td_test_jstr(item(body, 1), "request_id"), "audit-test-request-2");
    cr_expect_eq(strlen(td_test_jstr(item(body, 0), "request_id")), 32, "generated request ids too");
    cr_expect_str_eq(td_test_jstr(item(body, 2), "after.status"), "completed");
    cr_expect_str_eq(td_test_jstr(item(body, 3), "before.status"), "completed");
    cr_expect(json_is_null(td_test_jget(item(body, 3), "after")));
    cr_expect(json_is_null(json_object_get(body, "next_cursor")));
    json_decref(body);
    json_decref(t);
    free(path);
    free(tp);
    free(done);
}

Test(audit, filters_by_type_and_time_and_pages_with_a_cursor)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    for (int i = 0; i < 5; i++) {
        json_t *t = td_test_create_task(todod.port, u.token, "{\"title\":\"paged\"}");
        char *done = td_test_fmt("/api/tasks/%s/complete", td_test_jstr(t, "id"));
        cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", done, NULL, NULL, NULL), 200);
        free(done);
        json_decref(t);
    }
    json_decref(audit_wait(&u, "/api/audit?limit=500", 10));
    json_t *body = audit_wait(&u, "/api/audit?type=completed", 5);
    cr_expect_eq(json_array_size(json_object_get(body, "items")), 5);
    json_decref(body);
    body = audit_wait(&u, "/api/audit?type=todo.task.created&from=2000-01-01&to=2999-01-01T00:00:00Z", 5);
    cr_expect_eq(json_array_size(json_object_get(body, "items")), 5);
    json_decref(body);
    cr_assert_eq(td_test_api_json(todod.port, u.token, "GET", "/api/audit?from=2999-01-01", NULL,
                                  NULL, &body), 200);
    cr_expect_eq(json_array_size(json_object_get(body, "items")), 0);
    json_decref(body);

    /* pages of 3 walk all 10 records once, in order */
    char *path = strdup("/api/audit?limit=3");
    long seen = 0, last_seq = 0;
    for (int page = 0; page < 10 && path; page++) {
        cr_assert_eq(td_test_api_json(todod.port, u.token, "GET", path, NULL, NULL, &body), 200);
        free(path);
        path = NULL;
        json_t *r;
        size_t i;
        json_array_foreach(json_object_get(body, "items"), i, r) {
            long seq = (long)json_integer_value(json_object_get(r, "sequence"));
            cr_expect_gt(seq, last_seq);
            last_seq = seq;
            seen++;
        }
        const char *next = td_test_jstr(body, "next_cursor");
        if (next)
            path = td_test_fmt("/api/audit?limit=3&cursor=%s", next);
        json_decref(body);
    }
    free(path);
    cr_expect_eq(seen, 10);
}

Test(audit, bad_queries_are_400_problems_and_tokens_are_required)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    const char *bad[] = {"/api/audit?task_id=nope", "/api/audit?from=yesterday",
                         "/api/audit?to=2026-13-01", "/api/audit?type=renamed",
                         "/api/audit?limit=0", "/api/audit?limit=501", "/api/audit?cursor=-4",
                         "/api/audit?cursor=abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct td_test_http r;
        cr_expect_eq(td_test_api(todod.port, u.token, "GET", bad[i], NULL, NULL, &r), 400, "%s",
                     bad[i]);
        cr_expect(strstr(r.headers, "application/problem+json"), "%s", bad[i]);
        td_test_http_free(&r);
    }
    cr_expect_eq(td_test_api_json(todod.port, NULL, "GET", "/api/audit", NULL, NULL, NULL), 401);
    cr_expect_eq(td_test_api_json(todod.port, "not-a-jwt", "GET", "/api/audit/verify", NULL, NULL,
                                  NULL), 401);
}

Test(audit, users_see_only_their_own_records)
{
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    json_t *t = td_test_create_task(todod.port, a.token, "{\"title\":\"mine\"}");
    json_decref(audit_wait(&a, "/api/audit", 1));
    char *path = td_test_fmt("/api/audit?task_id=%s", td_test_jstr(t, "id"));
    json_t *body;
    cr_assert_eq(td_test_api_json(todod.port, b.token, "GET", path, NULL, NULL, &body), 200);
    cr_expect_eq(json_array_size(json_object_get(body, "items")), 0);
    json_decref(body);
    cr_assert_eq(td_test_api_json(todod.port, b.token, "GET", "/api/audit/verify", NULL, NULL,
                                  &body), 200);
    cr_expect_eq(json_integer_value(json_object_get(body, "records")), 0);
    json_decref(body);
    free(path);
    json_decref(t);
}

Test(audit, the_log_refuses_update_delete_and_truncate)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_decref(td_test_create_task(todod.port, u.token, "{\"title\":\"keep\"}"));
    json_decref(audit_wait(&u, "/api/audit", 1));
    const char *attempts[] = {
        "UPDATE audit_log SET after = '{}'", "DELETE FROM audit_log", "TRUNCATE audit_log",
    };
    for (size_t i = 0; i < 3; i++) {
        char *e = td_test_pg_error(&pg, attempts[i]);
        cr_expect(e && strncmp(e, "42501", 5) == 0 && strstr(e, "append-only"), "%s: %s",
                  attempts[i], e ? e : "succeeded");
        free(e);
    }
    /* the audit process's own database user has no such rights in the first place */
    char *e = td_test_pg_error(&pg, "SET ROLE todod_audit; UPDATE audit_log SET after = NULL");
    cr_expect(e && strncmp(e, "42501", 5) == 0 && strstr(e, "permission denied"), "%s",
              e ? e : "succeeded");
    free(e);
    e = td_test_pg_error(&pg, "SET ROLE todod_audit; DELETE FROM audit_log");
    cr_expect(e && strstr(e, "permission denied"), "%s", e ? e : "succeeded");
    free(e);
}

Test(audit, verify_names_the_first_changed_or_missing_record)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = td_test_create_task(todod.port, u.token, "{\"title\":\"v1\"}");
    char *tp = td_test_fmt("/api/tasks/%s", td_test_jstr(t, "id"));
    for (int i = 2; i <= 5; i++) {
        char *b = td_test_fmt("{\"title\":\"v%d\"}", i);
        cr_assert_eq(td_test_api_json(todod.port, u.token, "PATCH", tp, b, NULL, NULL), 200);
        free(b);
    }
    json_decref(audit_wait(&u, "/api/audit", 5));
    json_t *v;
    cr_assert_eq(td_test_api_json(todod.port, u.token, "GET", "/api/audit/verify", NULL, NULL, &v), 200);
    cr_expect(json_is_true(json_object_get(v, "valid")));
    cr_expect_eq(json_integer_value(json_object_get(v, "records")), 5);
    json_decref(v);

    long third = td_test_pg_long(&pg, "SELECT id FROM audit_log WHERE user_id = '%s' AND user_seq = 3",
                                 u.id);
    free(td_test_pg_queryf(&pg,
        "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
        "UPDATE audit_log SET after = jsonb_set(after, '{title}', '\"forged\"') WHERE id = %ld;"
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT", third));
    cr_assert_eq(td_test_api_json(todod.port, u.token, "GET", "/api/audit/verify", NULL, NULL, &v), 200);
    cr_expect(json_is_false(json_object_get(v, "valid")));
    cr_expect_eq(json_integer_value(td_test_jget(v, "first_broken.id")), third);
    cr_expect(strstr(td_test_jstr(v, "first_broken.reason"), "contents"));
    json_decref(v);

    /* a removed record: the next one is named */
    free(td_test_pg_queryf(&pg,
        "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
        "UPDATE audit_log SET after = jsonb_set(after, '{title}', '\"v3\"') WHERE id = %ld;"
        "DELETE FROM audit_log WHERE user_id = '%s' AND user_seq = 2;"
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT", third, u.id));
    cr_assert_eq(td_test_api_json(todod.port, u.token, "GET", "/api/audit/verify", NULL, NULL, &v), 200);
    cr_expect(json_is_false(json_object_get(v, "valid")));
    cr_expect_eq(json_integer_value(td_test_jget(v, "first_broken.id")), third);
    cr_expect(strstr(td_test_jstr(v, "first_broken.reason"), "missing"));
    json_decref(v);
    json_decref(t);
    free(tp);
}

Test(audit, a_burst_arrives_exactly_once_in_per_user_order_and_redelivery_changes_nothing)
{
    long n = td_test_emit_burst(&pg, "local", 20, 100);
    long got = td_test_wait_count(&pg, n, 60000,
                                  "SELECT count(*) FROM audit_log WHERE user_id LIKE 'local-%'");
    cr_assert_eq(got, n, "audit holds %ld of %ld events", got, n);
    cr_expect_eq(td_test_audit_missing(&pg, "local"), 0);
    cr_expect_eq(td_test_audit_misordered(&pg, "local"), 0);

    /* the relay sends everything again (as after a crash before marking): nothing changes */
    free(td_test_pg_query(&pg, "UPDATE outbox SET published_at = NULL WHERE key LIKE 'local-%';"
                               "NOTIFY todod_outbox"));
    for (int i = 0; i < 400 && td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE "
                                              "published_at IS NULL") > 0; i++)
        usleep(50 * 1000);
    cr_assert_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);
    cr_expect_eq(td_test_audit_count(&pg, "local"), n);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM inbox i JOIN outbox o USING (event_id) "
                                      "WHERE o.key LIKE 'local-%%' AND i.consumer_group = "
                                      "'todod-audit'"), n);
}

Test(audit, a_malformed_event_is_dead_lettered_and_the_consumer_goes_on)
{
    free(td_test_pg_query(&pg,
        "INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
        "'task-events', 'bad-user', '{\"specversion\":\"1.0\",\"id\":\"not-a-uuid\"}');"
        "NOTIFY todod_outbox"));
    struct td_test_user u;
    td_test_user_fake(&u);
    json_decref(td_test_create_task(todod.port, u.token, "{\"title\":\"after the bad one\"}"));
    json_t *body = audit_wait(&u, "/api/audit", 1);
    cr_expect_eq(json_array_size(json_object_get(body, "items")), 1,
                 "the event after the malformed one is recorded");
    json_decref(body);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE key = 'bad-user' "
                                      "AND published_at IS NULL"), 0);
    struct td_test_http m;
    cr_assert_eq(td_test_api(todod.port, NULL, "GET", "/metrics", NULL, NULL, &m), 200);
    cr_expect(strstr(m.body, "td_bus_handled_total{group=\"todod-audit\",topic=\"task-events\","
                             "outcome=\"dead_letter\"} 1"), "%s", m.body);
    td_test_http_free(&m);
    char *why = td_test_pg_query(&pg, "SELECT error FROM dead_letters WHERE key = 'bad-user' "
                                      "AND topic = 'task-events.dlq' AND consumer_group = 'todod-audit'");
    cr_expect(why && strstr(why, "not a task event"), "the dead letter is stored with why: %s",
              why ? why : "(none)");
    free(why);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM dead_letters WHERE event LIKE "
                                      "'%%not-a-uuid%%' AND consumer_group = 'todod-audit'"), 1);
}

/* A bad event in the middle of a lane, committed with 100 good ones: they go to the
 * database together, and only the bad one is dead-lettered; the others are recorded once,
 * in order. */
Test(audit, a_bad_event_among_good_ones_is_the_only_one_dead_lettered)
{
#define EMIT_MIXED "SELECT count(todod_emit(x.t, 'updated', NULL)) FROM (SELECT t FROM tasks t, " \
                   "generate_series(1, 10) i WHERE t.title = 'mixed' ORDER BY i, t.user_id) x;"
    free(td_test_pg_query(&pg,
        "BEGIN;"
        "INSERT INTO tasks (id, user_id, title) SELECT gen_random_uuid(), 'mixed-' || u, 'mixed' "
        "  FROM generate_series(1, 5) u;"
        EMIT_MIXED
        "INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
        "  'task-events', 'mixed-3', '{\"specversion\":\"1.0\",\"id\":\"not-a-uuid\"}');"
        EMIT_MIXED
        "NOTIFY todod_outbox; COMMIT;"));
#undef EMIT_MIXED
    long got = td_test_wait_count(&pg, 100, 30000,
                                  "SELECT count(*) FROM audit_log WHERE user_id LIKE 'mixed-%'");
    cr_assert_eq(got, 100, "audit holds %ld of 100 good events", got);
    cr_expect_eq(td_test_audit_missing(&pg, "mixed"), 1, "only the bad one is not recorded");
    cr_expect_eq(td_test_audit_misordered(&pg, "mixed"), 0);
    cr_expect_eq(td_test_wait_count(&pg, 1, 10000, "SELECT count(*) FROM dead_letters WHERE "
                                                   "event LIKE '%not-a-uuid%' AND "
                                                   "consumer_group = 'todod-audit'"), 1);
    struct td_test_http m;
    cr_assert_eq(td_test_api(todod.port, NULL, "GET", "/metrics", NULL, NULL, &m), 200);
    cr_expect(strstr(m.body, "td_bus_handled_total{group=\"todod-audit\",topic=\"task-events\","
                             "outcome=\"dead_letter\"} 1"), "%s", m.body);
    td_test_http_free(&m);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM dead_letters WHERE "
                                      "consumer_group = 'todod-audit'"), 1);
}

/* kill -9 of `todod all` in the middle of a burst: the local bus holds nothing only in
 * memory (an outbox row is marked published only after audit committed it), so a restart
 * delivers the rest, each event once. */
static struct td_test_pg crash_pg;
static struct td_test_proc crash_todod;

static void crash_spawn(void)
{
    const char *argv[] = {"all", "--database-url", crash_pg.conninfo, NULL};
    td_test_spawn(&crash_todod, argv, NULL);
}

static void crash_start(void)
{
    td_test_pg_start(&crash_pg);
    crash_spawn();
}

static void crash_stop(void)
{
    if (crash_todod.pid > 0)
        cr_expect_eq(td_test_stop(&crash_todod, SIGTERM, 15000), 0);
    td_test_pg_destroy(&crash_pg);
}

TestSuite(audit_crash, .init = crash_start, .fini = crash_stop, .timeout = 180);

Test(audit_crash, kill9_of_todod_all_mid_burst_loses_and_duplicates_nothing)
{
    long n = td_test_emit_burst(&crash_pg, "crash", 50, 100);
    long seen = td_test_wait_count(&crash_pg, 500, 30000,
                                   "SELECT count(*) FROM audit_log WHERE user_id LIKE 'crash-%'");
    cr_assert_geq(seen, 500);
    kill(crash_todod.pid, SIGKILL);
    waitpid(crash_todod.pid, NULL, 0);
    crash_todod.pid = 0;
    long at_kill = td_test_audit_count(&crash_pg, "crash");
    cr_expect_lt(at_kill, n, "the kill came after the burst was done (%ld of %ld)", at_kill, n);
    crash_spawn();
    long got = td_test_wait_count(&crash_pg, n, 90000,
                                  "SELECT count(*) FROM audit_log WHERE user_id LIKE 'crash-%'");
    cr_assert_eq(got, n, "audit holds %ld of %ld events", got, n);
    cr_expect_eq(td_test_audit_missing(&crash_pg, "crash"), 0);
    cr_expect_eq(td_test_audit_misordered(&crash_pg, "crash"), 0);
    /* Published once every group (audit, recur, notify) has committed its effect. */
    for (int i = 0; i < 600 && td_test_pg_long(&crash_pg, "SELECT count(*) FROM outbox WHERE "
                                               "published_at IS NULL") > 0; i++)
        usleep(50 * 1000);
    cr_expect_eq(td_test_pg_long(&crash_pg, "SELECT count(*) FROM outbox WHERE published_at IS NULL"),
                 0);
}

/* PostgreSQL going away is not the events' fault: the consumer waits for it (with
 * backoff) for as long as it takes, and dead-letters nothing. */
Test(audit_crash, a_database_outage_dead_letters_nothing)
{
    long n = td_test_emit_burst(&crash_pg, "dbdown", 50, 40);
    td_test_wait_count(&crash_pg, 200, 30000,
                       "SELECT count(*) FROM audit_log WHERE user_id LIKE 'dbdown-%'");
    td_test_pg_stop_server(&crash_pg);
    sleep(5);   /* longer than five failures' backoff (0.1 + 0.2 + 0.4 + 0.8 + 1.6 s) */
    td_test_pg_start_server(&crash_pg);
    long got = td_test_wait_count(&crash_pg, n, 90000,
                                  "SELECT count(*) FROM audit_log WHERE user_id LIKE 'dbdown-%'");
    cr_assert_eq(got, n, "audit holds %ld of %ld events", got, n);
    cr_expect_eq(td_test_audit_misordered(&crash_pg, "dbdown"), 0);
    struct td_test_http m;
    cr_assert_eq(td_test_api(crash_todod.port, NULL, "GET", "/metrics", NULL, NULL, &m), 200);
    cr_expect(strstr(m.body, "outcome=\"dead_letter\"} 0"), "nothing was dead-lettered");
    td_test_http_free(&m);
}

/* A transaction that took its outbox seq early and commits late, after more than the
 * relay's look-back window of later rows went out: its event still arrives (the sweep
 * starts from the first row), a second or so late at worst. */
Test(audit, an_event_committed_late_with_an_early_seq_still_arrives)
{
    PGconn *slow = PQconnectdb(pg.conninfo);
    cr_assert_eq(PQstatus(slow), CONNECTION_OK);
    PGresult *r = PQexec(slow,
        "BEGIN; INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), 'late-1', "
        "'committed late'); SELECT todod_emit(t, 'created', NULL) FROM tasks t "
        "WHERE t.user_id = 'late-1'");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(slow));
    PQclear(r);
    long n = td_test_emit_burst(&pg, "after-late", 20, 100);   /* 2 000 later seqs */
    cr_assert_eq(td_test_wait_count(&pg, n, 60000, "SELECT count(*) FROM audit_log WHERE "
                                                  "user_id LIKE 'after-late-%'"), n);
    r = PQexec(slow, "COMMIT");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(slow));
    PQclear(r);
    PQfinish(slow);
    cr_expect_eq(td_test_wait_count(&pg, 1, 5000, "SELECT count(*) FROM audit_log WHERE "
                                                 "user_id = 'late-1'"), 1,
                 "the late commit's event never reached audit");
}

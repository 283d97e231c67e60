/* roles/audit/routes.c: GET /api/audit (the caller's records, filtered, oldest first,
 * paged by cursor) and GET /api/audit/verify. The audit role runs alone in the test
 * process (tests/support/role_harness.h); records are appended straight into the shared
 * PostgreSQL with todod_audit_append, as the consumer does. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_audit;
static const struct td_role *const roles[] = {&td_role_audit};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;
static char task1[37], task2[37];

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

/* One record: the n-th event of user, of kind on task at time. */
static void append(const struct td_test_user *u, int n, const char *kind, const char *task,
                   const char *time)
{
    free(td_test_pg_queryf(pg,
        "SELECT todod_audit_append('unit-audit-routes', jsonb_build_object('specversion', '1.0', "
        "'id', gen_random_uuid(), 'type', 'todo.task.%s', 'time', '%s', 'requestid', 'req-%d', "
        "'traceparent', '00-" TRACE "-00f067aa0ba902b7-01', 'data', jsonb_build_object("
        "'user_id', '%s', 'task_id', '%s', 'task_data', jsonb_build_object('title', 'v%d'))))",
        kind, time, n, u->id, task, n));
}

/* Five records of the user: created 1, updated 1, created 2, completed 1, deleted 2,
 * a day apart from 2026-01-01T10:00:00Z; and one of another user. */
static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
    td_test_uuid(task1);
    td_test_uuid(task2);
    append(&user, 1, "created", task1, "2026-01-01T10:00:00Z");
    append(&user, 2, "updated", task1, "2026-01-02T10:00:00Z");
    append(&user, 3, "created", task2, "2026-01-03T10:00:00Z");
    append(&user, 4, "completed", task1, "2026-01-04T10:00:00Z");
    append(&user, 5, "deleted", task2, "2026-01-05T10:00:00Z");
    struct td_test_user other;
    td_test_user_fake(&other);
    append(&other, 1, "created", task1, "2026-01-01T10:00:00Z");
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(audit_routes, .init = start, .fini = stop, .timeout = 60);

/* A string member, never NULL (criterion compares with strcmp). */
static const char *js(json_t *j, const char *path)
{
    const char *v = td_test_jstr(j, path);
    return v ? v : "(none)";
}

/* GET path as the user; asserts 200; returns the page. */
static json_t *page(const char *path)
{
    json_t *j = NULL;
    int status = td_test_api_json(S.port, user.token, "GET", path, NULL, NULL, &j);
    cr_assert_eq(status, 200, "GET %s: %d", path, status);
    cr_assert_not_null(j);
    return j;
}

/* The sequences on a page, "1,2,4", and its next_cursor ("-" when null). */
static void expect_page(const char *path, const char *seqs, const char *cursor)
{
    json_t *j = page(path), *it;
    char got[128] = "";
    size_t i;
    json_array_foreach(json_object_get(j, "items"), i, it) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%lld", i ? "," : "",
                 (long long)json_integer_value(json_object_get(it, "sequence")));
    }
    cr_expect_str_eq(got, seqs, "GET %s", path);
    json_t *c = json_object_get(j, "next_cursor");
    cr_expect_str_eq(json_is_null(c) ? "-" : json_string_value(c) ? json_string_value(c) : "?",
                     cursor, "GET %s: next_cursor", path);
    json_decref(j);
}

Test(audit_routes, the_callers_records_oldest_first_with_every_field)
{
    json_t *j = page("/api/audit");
    json_t *items = json_object_get(j, "items");
    cr_assert_eq(json_array_size(items), 5, "another user's record is not listed");
    const char *types[] = {"created", "updated", "created", "completed", "deleted"};
    for (size_t i = 0; i < 5; i++) {
        json_t *it = json_array_get(items, i);
        char want[64];
        snprintf(want, sizeof want, "todo.task.%s", types[i]);
        cr_expect_str_eq(js(it, "type"), want);
        cr_expect_eq(json_integer_value(json_object_get(it, "sequence")), (json_int_t)i + 1);
        cr_expect_str_eq(js(it, "actor"), user.id);
        snprintf(want, sizeof want, "2026-01-0%zuT10:00:00Z", i + 1);
        cr_expect_str_eq(js(it, "occurred_at"), want);
        snprintf(want, sizeof want, "req-%zu", i + 1);
        cr_expect_str_eq(js(it, "request_id"), want);
        cr_expect_str_eq(js(it, "trace_id"), TRACE);
        cr_expect_eq(strlen(td_test_jstr(it, "hash")), 64);
        /* The chain: each record names the hash of the one before. */
        json_t *prev = json_object_get(it, "prev_hash");
        if (i == 0)
            cr_expect(json_is_null(prev));
        else
            cr_expect_str_eq(json_string_value(prev),
                             td_test_jstr(json_array_get(items, i - 1), "hash"), "record %zu", i + 1);
    }
    /* before/after: what the task was before this change, and after it. */
    cr_expect(json_is_null(json_object_get(json_array_get(items, 0), "before")));
    cr_expect_str_eq(js(json_array_get(items, 1), "before.title"), "v1");
    cr_expect_str_eq(js(json_array_get(items, 1), "after.title"), "v2");
    cr_expect_str_eq(js(json_array_get(items, 4), "before.title"), "v3");
    cr_expect(json_is_null(json_object_get(json_array_get(items, 4), "after")));
    cr_expect(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
}

Test(audit_routes, filters_combine)
{
    char *p;
    expect_page(p = td_test_fmt("/api/audit?task_id=%s", task1), "1,2,4", "-");
    free(p);
    expect_page("/api/audit?type=completed", "4", "-");
    expect_page("/api/audit?type=todo.task.created", "1,3", "-");
    expect_page("/api/audit?type=task_created", "1,3", "-");   /* the seeds' event_type */
    expect_page("/api/audit?type=task_completed", "4", "-");
    expect_page("/api/audit?from=2026-01-02", "2,3,4,5", "-");
    expect_page("/api/audit?to=2026-01-03T10:00:00Z", "1,2", "-");   /* to is exclusive */
    expect_page("/api/audit?from=2026-01-02T10:00:00Z&to=2026-01-04T00:00:00Z", "2,3", "-");
    expect_page(p = td_test_fmt("/api/audit?task_id=%s&from=2026-01-02&type=updated", task1), "2", "-");
    free(p);
    char none[37];
    td_test_uuid(none);
    expect_page(p = td_test_fmt("/api/audit?task_id=%s", none), "", "-");
    free(p);
}

/* Dates and times mean UTC, whatever TimeZone the database session has (a server set to
 * local time, say): UTC+14 puts local midnight of 2026-01-02 at 2026-01-01T10:00:00Z, the
 * time of the first record. */
Test(audit_routes, time_bounds_are_utc_whatever_the_sessions_time_zone)
{
    td_test_roles_stop(&S);
    td_test_roles_config(&S, roles, 1, 0);
    char *url = td_test_fmt("%s options='-c TimeZone=Pacific/Kiritimati'", S.cfg.database_url);
    free(S.cfg.database_url);
    S.cfg.database_url = url;
    td_test_roles_run(&S);
    expect_page("/api/audit?from=2026-01-02", "2,3,4,5", "-");
    expect_page("/api/audit?to=2026-01-02", "1", "-");
}

Test(audit_routes, pages_follow_the_cursor)
{
    expect_page("/api/audit?limit=2", "1,2", "2");
    expect_page("/api/audit?limit=2&cursor=2", "3,4", "4");
    expect_page("/api/audit?limit=2&cursor=4", "5", "-");
    /* A full last page still names a cursor; the page after it is empty. */
    expect_page("/api/audit?limit=5", "1,2,3,4,5", "5");
    expect_page("/api/audit?limit=5&cursor=5", "", "-");
    /* The cursor is a position in the user's chain: filters page the same way. */
    expect_page("/api/audit?type=created&limit=1", "1", "1");
    expect_page("/api/audit?type=created&limit=1&cursor=1", "3", "3");
    expect_page("/api/audit?type=created&limit=1&cursor=3", "", "-");
}

Test(audit_routes, bad_query_parameters_are_400_naming_them)
{
    const char *cases[][2] = {
        {"/api/audit?task_id=nope", "task_id"},
        {"/api/audit?from=yesterday", "from"},
        {"/api/audit?to=2026-13-01", "to"},
        {"/api/audit?type=archived", "type"},
        {"/api/audit?type=todo.task.", "type"},
        {"/api/audit?type=task_", "type"},
        {"/api/audit?type=task_archived", "type"},
        {"/api/audit?cursor=-1", "cursor"},
        {"/api/audit?cursor=abc", "cursor"},
        {"/api/audit?cursor=", "cursor"},
        {"/api/audit?limit=0", "limit"},
        {"/api/audit?limit=501", "limit"},
        {"/api/audit?limit=5x", "limit"},
        {"/api/audit?limit=", "limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct td_test_http r;
        td_test_api(S.port, user.token, "GET", cases[i][0], NULL, NULL, &r);
        td_test_expect_problem(&r, 400, "invalid-query", cases[i][0]);
        char *want = td_test_fmt("query parameter %s:", cases[i][1]);
        cr_expect_not_null(strstr(r.body, want), "%s: %s", cases[i][0], r.body);
        free(want);
        td_test_http_free(&r);
    }
    expect_page("/api/audit?limit=500", "1,2,3,4,5", "-");
    struct td_test_http r;
    td_test_api(S.port, NULL, "GET", "/api/audit", NULL, NULL, &r);
    td_test_expect_problem(&r, 401, "unauthorized", "no token");
    td_test_http_free(&r);
}

Test(audit_routes, verify_walks_the_callers_chain)
{
    json_t *j = page("/api/audit/verify");
    cr_expect(json_is_true(json_object_get(j, "valid")));
    cr_expect_eq(json_integer_value(json_object_get(j, "records")), 5);
    char *head = td_test_pg_queryf(pg, "SELECT encode(hash, 'hex') FROM audit_log WHERE user_id = '%s' "
                                       "AND user_seq = 5", user.id);
    cr_expect_str_eq(js(j, "head"), head);
    free(head);
    json_decref(j);
    /* A record changed behind the trigger's back is named. */
    free(td_test_pg_queryf(pg,
        "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
        "UPDATE audit_log SET after = '{\"title\":\"forged\"}' WHERE user_id = '%s' AND user_seq = 2;"
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT", user.id));
    j = page("/api/audit/verify");
    cr_expect(json_is_false(json_object_get(j, "valid")));
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "first_broken"), "sequence")), 2);
    json_decref(j);
    /* Someone with no records has a valid, empty chain. */
    struct td_test_user nobody;
    td_test_user_fake(&nobody);
    json_t *v = NULL;
    cr_expect_eq(td_test_api_json(S.port, nobody.token, "GET", "/api/audit/verify", NULL, NULL, &v), 200);
    cr_expect(json_is_true(json_object_get(v, "valid")));
    cr_expect_eq(json_integer_value(json_object_get(v, "records")), 0);
    cr_expect(json_is_null(json_object_get(v, "head")));
    json_decref(v);
}

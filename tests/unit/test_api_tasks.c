/* roles/api/tasks.c: reading, replacing, patching, deleting and completing one task, with
 * If-Match and ETag, each write one statement with its outbox event. The api role runs
 * alone in the test process (tests/support/role_harness.h); rows and events are read
 * back from the shared PostgreSQL. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_tasks, .init = start, .fini = stop, .timeout = 60);

/* One call with an optional If-Match; returns the status, the ETag in etag (or "") and
 * the body as JSON in *j when j is non-NULL. */
static int call(const char *method, const char *path, const char *body, const char *if_match,
                char *etag, json_t **j)
{
    char *line = if_match ? td_test_fmt("If-Match: %s", if_match) : NULL;
    const char *headers[] = {line, NULL};
    struct td_test_http r;
    int status = td_test_api(S.port, user.token, method, path, body, headers, &r);
    char *tag = td_test_header(r.headers, "ETag");
    snprintf(etag, 24, "%s", tag ? tag : "");
    free(tag);
    if (j)
        *j = json_loads(r.body, 0, NULL);
    td_test_http_free(&r);
    free(line);
    return status;
}

/* A string member, never NULL (criterion compares with strcmp). */
static const char *js(json_t *j, const char *path)
{
    const char *v = td_test_jstr(j, path);
    return v ? v : "(none)";
}

static long version_of(const char *id)
{
    return td_test_pg_long(pg, "SELECT version FROM tasks WHERE id = '%s'", id);
}

static void expect_events(const char *id, const char *want)
{
    char *types = td_test_outbox_types(pg, id);
    cr_expect_str_eq(types, want, "events of %s", id);
    free(types);
}

Test(api_tasks, if_match_takes_the_strong_tag_and_refuses_stale_ones)
{
    json_t *t = td_test_create_task(S.port, user.token, "{\"title\":\"v1\"}");
    char *path = td_test_fmt("/api/tasks/%s", td_test_jstr(t, "id")), etag[24];
    const char *id = td_test_jstr(t, "id");
    json_t *j = NULL;
    /* Bad tags are 400 and weak ones never match; neither writes. */
    const char *bad[] = {"\"abc\"", "0", "\"1", "1\"", "\"-1\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(call("PATCH", path, "{\"title\":\"x\"}", bad[i], etag, &j), 400, "If-Match: %s", bad[i]);
        cr_expect_str_eq(js(j, "type"), TD_PROBLEM_BASE "bad-if-match");
        json_decref(j);
    }
    cr_expect_eq(call("PATCH", path, "{\"title\":\"x\"}", "W/\"1\"", etag, NULL), 412, "a weak tag");
    cr_expect_eq(version_of(id), 1);

    /* "1", 2 and * match; each write answers the new version as its ETag. */
    cr_expect_eq(call("PATCH", path, "{\"title\":\"v2\"}", "\"1\"", etag, NULL), 200);
    cr_expect_str_eq(etag, "\"2\"");
    cr_expect_eq(call("PUT", path, "{\"title\":\"v3\"}", "2", etag, NULL), 200);
    cr_expect_str_eq(etag, "\"3\"");
    cr_expect_eq(call("PATCH", path, "{\"title\":\"stale\"}", "\"1\"", etag, &j), 412);
    cr_expect_str_eq(js(j, "detail"), "the task is at version 3; fetch it and retry");
    json_decref(j);
    cr_expect_eq(call("PATCH", path, "{\"title\":\"v4\"}", "*", etag, NULL), 200);
    cr_expect_str_eq(etag, "\"4\"");
    cr_expect_eq(call("GET", path, NULL, NULL, etag, &j), 200);
    cr_expect_str_eq(etag, "\"4\"");
    cr_expect_str_eq(js(j, "title"), "v4");
    json_decref(j);

    cr_expect_eq(call("DELETE", path, NULL, "\"3\"", etag, NULL), 412, "a stale delete");
    cr_expect_eq(version_of(id), 4, "still there");
    cr_expect_eq(call("DELETE", path, NULL, "\"4\"", etag, NULL), 204);
    cr_expect_eq(call("GET", path, NULL, NULL, etag, NULL), 404);
    cr_expect_eq(call("DELETE", path, NULL, NULL, etag, NULL), 404);
    expect_events(id, "todo.task.created,todo.task.updated,todo.task.updated,todo.task.updated,"
                      "todo.task.deleted");
    free(path);
    json_decref(t);
}

Test(api_tasks, a_get_body_put_back_is_accepted_and_an_empty_patch_changes_nothing)
{
    json_t *t = td_test_create_task(S.port, user.token,
        "{\"title\":\"round trip\",\"due_at\":\"2026-12-01\",\"tags\":[\"a\"],\"priority\":\"high\"}");
    const char *id = td_test_jstr(t, "id");
    char *path = td_test_fmt("/api/tasks/%s", id), etag[24];
    cr_expect(json_is_true(json_object_get(t, "all_day")));
    /* Everything GET answered, server-managed members included, goes back as the body. */
    char *body = json_dumps(t, JSON_COMPACT);
    json_t *after = NULL;
    cr_expect_eq(call("PUT", path, body, NULL, etag, &after), 200);
    free(body);
    cr_expect(json_is_true(json_object_get(after, "all_day")), "an unchanged due date keeps all_day");
    cr_expect_str_eq(js(after, "due_at"), js(t, "due_at"));
    cr_expect_str_eq(js(after, "priority"), "high");
    cr_expect_eq(json_integer_value(json_object_get(after, "version")), 2);
    json_decref(after);

    /* Only server-managed members: no new version, no event, and If-Match still counts. */
    const char *noop = "{\"id\":\"00000000-0000-4000-8000-000000000000\",\"version\":99,\"all_day\":false}";
    cr_expect_eq(call("PATCH", path, noop, NULL, etag, &after), 200);
    cr_expect_str_eq(etag, "\"2\"");
    cr_expect_str_eq(js(after, "id"), id);
    cr_expect(json_is_true(json_object_get(after, "all_day")));
    json_decref(after);
    cr_expect_eq(call("PATCH", path, noop, "\"1\"", etag, NULL), 412, "a stale tag on a no-op");
    cr_expect_eq(version_of(id), 2);
    expect_events(id, "todo.task.created,todo.task.updated");

    /* Moving the due date to a time makes it no longer all-day. */
    cr_expect_eq(call("PATCH", path, "{\"due_at\":\"2026-12-01T10:00:00Z\"}", NULL, etag, &after), 200);
    cr_expect(json_is_false(json_object_get(after, "all_day")));
    json_decref(after);
    free(path);
    json_decref(t);
}

Test(api_tasks, status_changes_emit_only_when_the_status_changes)
{
    json_t *t = td_test_create_task(S.port, user.token, "{\"title\":\"toggle me\"}");
    const char *id = td_test_jstr(t, "id");
    char *base = td_test_fmt("/api/tasks/%s", id), etag[24];
    char *complete = td_test_fmt("%s/complete", base), *reopen = td_test_fmt("%s/reopen", base);
    char *toggle = td_test_fmt("/api/%s/tasks/%s/complete", user.id, id);
    json_t *j = NULL;
    cr_expect_eq(call("POST", complete, NULL, NULL, etag, &j), 200);
    cr_expect_str_eq(js(j, "status"), "completed");
    cr_expect(json_is_true(json_object_get(j, "completed")));
    cr_expect_not_null(td_test_jstr(j, "completed_at"));
    cr_expect_str_eq(etag, "\"2\"");
    json_decref(j);
    cr_expect_eq(call("POST", complete, NULL, NULL, etag, NULL), 200, "completing twice is fine");
    cr_expect_str_eq(etag, "\"2\"", "and changes nothing");
    cr_expect_eq(call("POST", reopen, NULL, NULL, etag, &j), 200);
    cr_expect_str_eq(js(j, "status"), "pending");
    cr_expect(json_is_null(json_object_get(j, "completed_at")));
    json_decref(j);
    cr_expect_eq(call("PATCH", toggle, NULL, NULL, etag, &j), 200);
    cr_expect_str_eq(js(j, "status"), "completed", "the toggle flips pending");
    json_decref(j);
    cr_expect_eq(call("PATCH", toggle, NULL, NULL, etag, &j), 200);
    cr_expect_str_eq(js(j, "status"), "pending", "and back");
    json_decref(j);
    cr_expect_str_eq(etag, "\"5\"");
    expect_events(id, "todo.task.created,todo.task.completed,todo.task.updated,"
                      "todo.task.completed,todo.task.updated");
    free(base);
    free(complete);
    free(reopen);
    free(toggle);
    json_decref(t);
}

Test(api_tasks, ids_that_are_not_uuids_are_404)
{
    const char *paths[][2] = {
        {"GET", "/api/tasks/not-a-uuid"},
        {"PATCH", "/api/tasks/12345"},
        {"PUT", "/api/tasks/0000000-0000-4000-8000-000000000000"},
        {"DELETE", "/api/tasks/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"},
        {"POST", "/api/tasks/x/complete"},
        {"POST", "/api/tasks/x/reopen"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct td_test_http r;
        const char *body = strcmp(paths[i][0], "PATCH") == 0 || strcmp(paths[i][0], "PUT") == 0
                               ? "{\"title\":\"x\"}" : NULL;
        td_test_api(S.port, user.token, paths[i][0], paths[i][1], body, NULL, &r);
        td_test_expect_problem(&r, 404, "task-not-found", paths[i][1]);
        td_test_http_free(&r);
    }
    /* Not 422 or 500 from a failed uuid cast: the id is checked before any statement. */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 0);
}

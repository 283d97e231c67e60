/* A front-end written for the hackathon brief, pointed at todod unchanged: the calls a
 * Next.js task app makes from the browser at http://localhost:3000, with its exact
 * payloads and headers, replayed against a real `todod all --cors-origins
 * http://localhost:3000`. Every field such a UI reads is checked on every answer. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/proc_harness.h"

#define ORIGIN "http://localhost:3000"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *env[] = {"TODOD_JWT_SECRET=" TD_TEST_JWT_SECRET, NULL};
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--cors-origins",
                          ORIGIN, "--rate-limit-user", "0", "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, env);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(frontend, .init = start, .fini = stop, .timeout = 120);

/* What the browser sends with every fetch() of the app. */
static int call(const char *token, const char *method, const char *path, const char *body,
                json_t **out)
{
    char auth[2200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *headers[] = {"Origin: " ORIGIN, "Accept: application/json",
                             body ? "Content-Type: application/json" : "Accept-Language: en",
                             token ? auth : "Referer: " ORIGIN "/login", NULL};
    struct td_test_http r = {0};
    int status = td_test_api(todod.port, NULL, method, path, body, headers, &r);
    char *allow = td_test_header(r.headers, "Access-Control-Allow-Origin");
    cr_expect(allow && strcmp(allow, ORIGIN) == 0, "%s %s: the browser would drop this answer "
              "(Access-Control-Allow-Origin: %s)", method, path, allow ? allow : "none");
    free(allow);
    if (out)
        *out = r.body_len ? json_loads(r.body, 0, NULL) : NULL;
    td_test_http_free(&r);
    return status;
}

/* Every field the task list and the edit form read, with its type. */
static void expect_ui_fields(json_t *t)
{
    static const struct { const char *name; json_type type; } fields[] = {
        {"id", JSON_STRING}, {"title", JSON_STRING}, {"description", JSON_STRING},
        {"status", JSON_STRING}, {"priority", JSON_STRING}, {"tags", JSON_ARRAY},
        {"created_at", JSON_STRING}, {"updated_at", JSON_STRING},
    };
    cr_assert(json_is_object(t), "a task object");
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        json_t *v = json_object_get(t, fields[i].name);
        cr_expect(v && json_typeof(v) == fields[i].type, "field %s missing or mistyped",
                  fields[i].name);
    }
    cr_expect(json_is_boolean(json_object_get(t, "completed")), "completed is a boolean");
    /* Both may be null, but both must be there. */
    cr_expect_not_null(json_object_get(t, "due_date"), "due_date is answered");
    cr_expect_not_null(json_object_get(t, "recurrence_pattern"), "recurrence_pattern is answered");
}

static json_t *find(json_t *list, const char *id)
{
    json_t *items = json_is_array(list) ? list : json_object_get(list, "items");
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t)
        if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0)
            return t;
    return NULL;
}

Test(frontend, a_whole_session)
{
    /* The preflight the browser makes before the first JSON POST. */
    struct td_test_http pre = {0};
    const char *ph[] = {"Origin: " ORIGIN, "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: content-type", NULL};
    cr_assert_eq(td_test_http(todod.port, "OPTIONS", "/api/auth/register", NULL, ph, &pre), 0);
    cr_expect_eq(pre.status, 204);
    td_test_http_free(&pre);

    /* Register without a name (the form has only email and password). */
    json_t *j = NULL;
    cr_assert_eq(call(NULL, "POST", "/api/auth/register",
                      "{\"email\":\"maya.lee@example.com\",\"password\":\"correct horse battery\"}",
                      &j), 201, "register");
    cr_expect_str_eq(td_test_jstr(j, "user.name"), "maya.lee");
    json_decref(j);

    /* Log in and keep access_token, as an OAuth-minded client does. */
    cr_assert_eq(call(NULL, "POST", "/api/auth/login",
                      "{\"email\":\"maya.lee@example.com\",\"password\":\"correct horse battery\"}",
                      &j), 200, "login");
    cr_assert_not_null(td_test_jstr(j, "access_token"));
    cr_expect_str_eq(td_test_jstr(j, "token_type"), "Bearer");
    cr_expect(json_integer_value(json_object_get(j, "expires_in")) > 3600, "expires_in");
    char token[2048], uid[64], path[256];
    snprintf(token, sizeof token, "%s", td_test_jstr(j, "access_token"));
    snprintf(uid, sizeof uid, "%s", td_test_jstr(j, "user.id"));
    json_decref(j);

    /* The empty list on first load. */
    snprintf(path, sizeof path, "/api/%s/tasks", uid);
    cr_assert_eq(call(token, "GET", path, NULL, &j), 200);
    json_decref(j);

    /* Create from the form: recurrence "none", a datetime-local due date, the user id and
     * UI-only members in the body. */
    char *body = td_test_fmt("{\"title\":\"Buy milk\",\"description\":\"2 litres\","
                             "\"priority\":\"high\",\"tags\":[\"home\",\"errands\"],"
                             "\"due_date\":\"2026-12-20T09:00\",\"recurrence\":\"none\","
                             "\"user_id\":\"%s\",\"completed\":false,\"isEditing\":false}", uid);
    cr_assert_eq(call(token, "POST", path, body, &j), 201, "create from the form");
    free(body);
    expect_ui_fields(j);
    char id[64];
    snprintf(id, sizeof id, "%s", td_test_jstr(j, "id"));
    cr_expect_str_eq(td_test_jstr(j, "due_date"), "2026-12-20T09:00:00Z", "read in the user's zone (UTC)");
    cr_expect(json_is_null(json_object_get(j, "recurrence_pattern")), "none is no recurrence");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "high");
    cr_expect_eq(json_is_false(json_object_get(j, "completed")), 1);
    json_decref(j);

    /* A second task, weekly without a due date: kept, not refused. */
    cr_assert_eq(call(token, "POST", path, "{\"title\":\"Water plants\",\"description\":\"\","
                      "\"priority\":\"low\",\"tags\":[],\"due_date\":null,\"recurrence\":\"weekly\"}",
                      &j), 201);
    cr_expect_str_eq(td_test_jstr(j, "recurrence_pattern"), "weekly");
    json_decref(j);

    /* The list with the app's filter and sort words. */
    char *q = td_test_fmt("%s?status=pending&sort=due_date&search=milk", path);
    cr_assert_eq(call(token, "GET", q, NULL, &j), 200);
    free(q);
    json_t *t = find(j, id);
    cr_assert_not_null(t, "search=milk finds the task");
    expect_ui_fields(t);
    json_decref(j);
    q = td_test_fmt("%s?status=all&sort=alphabetical", path);
    cr_assert_eq(call(token, "GET", q, NULL, &j), 200);
    free(q);
    json_t *items = json_is_array(j) ? j : json_object_get(j, "items");
    cr_expect_eq(json_array_size(items), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "title")),
                     "Buy milk", "alphabetical");
    json_decref(j);

    /* Edit: the form sends only the fields it shows. */
    snprintf(path, sizeof path, "/api/%s/tasks/%s", uid, id);
    cr_assert_eq(call(token, "PUT", path, "{\"title\":\"Buy oat milk\",\"description\":\"2 litres\"}",
                      &j), 200, "partial PUT");
    expect_ui_fields(j);
    cr_expect_str_eq(td_test_jstr(j, "title"), "Buy oat milk");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "high", "absent fields are kept");
    cr_expect_str_eq(td_test_jstr(j, "due_date"), "2026-12-20T09:00:00Z");
    cr_expect_eq(json_array_size(json_object_get(j, "tags")), 2);
    json_decref(j);

    /* Toggle completion twice. */
    char toggle[300];
    snprintf(toggle, sizeof toggle, "%s/complete", path);
    cr_assert_eq(call(token, "PATCH", toggle, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "status"), "completed");
    cr_expect(json_is_true(json_object_get(j, "completed")));
    expect_ui_fields(j);
    json_decref(j);
    cr_assert_eq(call(token, "PATCH", toggle, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "status"), "pending");
    json_decref(j);

    /* Delete, then it is gone. */
    int del = call(token, "DELETE", path, NULL, NULL);
    cr_expect(del == 204 || del == 200, "delete: %d", del);
    cr_expect_eq(call(token, "GET", path, NULL, NULL), 404);
}

/* The same app for a user in New York: the datetime-local value is New York time. */
Test(frontend, datetime_local_is_read_in_the_users_zone)
{
    json_t *j = NULL;
    cr_assert_eq(call(NULL, "POST", "/api/auth/signup",
                      "{\"email\":\"ny@example.com\",\"password\":\"correct horse battery\","
                      "\"time_zone\":\"America/New_York\"}", &j), 201);
    char token[2048], path[256];
    snprintf(token, sizeof token, "%s", td_test_jstr(j, "access_token"));
    snprintf(path, sizeof path, "/api/%s/tasks", td_test_jstr(j, "user.id"));
    json_decref(j);
    cr_assert_eq(call(token, "POST", path, "{\"title\":\"Standup\",\"due_date\":\"2026-12-21T09:30\","
                      "\"recurrence\":\"Daily\"}", &j), 201);
    cr_expect_str_eq(td_test_jstr(j, "due_date"), "2026-12-21T14:30:00Z");
    cr_expect_str_eq(td_test_jstr(j, "recurrence"), "FREQ=DAILY");
    cr_expect_str_eq(td_test_jstr(j, "recurrence_pattern"), "daily");
    json_decref(j);
}

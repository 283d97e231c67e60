/* Task routes (issue 4) against a real `todod all` on a real PostgreSQL: create, read,
 * PATCH/PUT/DELETE, complete/reopen/toggle, If-Match, Idempotency-Key, validation and
 * HTTP errors, and the outbox row every write must leave in its own transaction. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;
static struct td_test_user user;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", "--max-body-bytes", "64KiB", NULL};
    td_test_spawn(&todod, argv, NULL);
    td_test_user_fake(&user);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(api_tasks, .init = start, .fini = stop, .timeout = 90);

static void expect_problem(struct td_test_http *r, int status, const char *what)
{
    cr_expect_eq(r->status, status, "%s: %d %s", what, r->status, r->body);
    char *type = td_test_header(r->headers, "Content-Type");
    cr_expect(type && strstr(type, "application/problem+json"), "%s: content type %s", what, type);
    free(type);
    json_t *j = json_loads(r->body, 0, NULL);
    cr_expect(j && json_integer_value(json_object_get(j, "status")) == status &&
              json_string_value(json_object_get(j, "type")), "%s: not a problem: %s", what, r->body);
    json_decref(j);
}

/* Checks the newest outbox row of a task: CloudEvents fields, its type, and that it
 * was written in the same transaction as the task's row (when the row still exists). */
static void expect_event(const char *task_id, const char *type, const char *title)
{
    json_t *o = td_test_outbox_last(&pg, task_id);
    cr_assert(o, "no outbox row for %s", task_id);
    json_t *ev = json_object_get(o, "event");
    cr_expect_str_eq(td_test_jstr(ev, "specversion"), "1.0");
    cr_expect_str_eq(td_test_jstr(ev, "type"), type);
    cr_expect_str_eq(td_test_jstr(ev, "subject"), task_id);
    cr_expect(td_test_jstr(ev, "source") && *td_test_jstr(ev, "source"));
    const char *id = td_test_jstr(ev, "id");
    cr_expect(id && strlen(id) == 36, "event id %s", id);
    cr_expect_str_eq(id ? id : "", td_test_jstr(o, "event_id"), "envelope id = outbox event_id");
    const char *time = td_test_jstr(ev, "time");
    cr_expect(time && strlen(time) >= 20 && time[10] == 'T', "time %s", time);
    cr_expect_str_eq(td_test_jstr(ev, "data.task_id"), task_id);
    cr_expect_str_eq(td_test_jstr(ev, "data.user_id"), user.id);
    cr_expect_str_eq(td_test_jstr(ev, "data.task_data.title"), title);
    cr_expect_str_eq(td_test_jstr(o, "topic"), "task-events");
    cr_expect_str_eq(td_test_jstr(o, "key"), user.id, "key = user id keeps a user's events in order");
    json_t *same = json_object_get(o, "same_tx");
    if (strcmp(type, "todo.task.deleted") == 0)
        cr_expect(json_is_null(same), "the deleted task's row is gone");
    else
        cr_expect(json_is_true(same), "%s: the event was not written in the task's transaction", type);
    json_decref(o);
}

static void expect_types(const char *task_id, const char *want)
{
    char *types = td_test_outbox_types(&pg, task_id);
    cr_expect_str_eq(types, want, "outbox of %s", task_id);
    free(types);
}

static char *task_path(const char *id, const char *suffix)
{
    return td_test_fmt("/api/tasks/%s%s", id, suffix ? suffix : "");
}

/* The 422 a user's request gets, parsed. */
static json_t *expect_422_as(const struct td_test_user *u, const char *method, const char *path,
                             const char *body)
{
    struct td_test_http r;
    td_test_api(todod.port, u->token, method, path, body, NULL, &r);
    expect_problem(&r, 422, body);
    json_t *j = json_loads(r.body, 0, NULL);
    td_test_http_free(&r);
    return j;
}

Test(api_tasks, create_round_trips_every_field_with_defaults)
{
    struct td_test_http r;
    /* The smallest task: defaults everywhere, the title trimmed. */
    td_test_api(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"  Buy milk \\t\"}", NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *t = td_test_body_json(&r);
    const char *id = td_test_jstr(t, "id");
    cr_assert(id && strlen(id) == 36, "id %s", id);
    char *loc = td_test_header(r.headers, "Location"), *etag = td_test_header(r.headers, "ETag");
    char *want_loc = task_path(id, NULL);
    cr_expect_str_eq(loc ? loc : "", want_loc);
    cr_expect_str_eq(etag ? etag : "", "\"1\"");
    free(loc);
    free(etag);
    free(want_loc);
    td_test_http_free(&r);
    cr_expect_str_eq(td_test_jstr(t, "title"), "Buy milk");
    cr_expect_str_eq(td_test_jstr(t, "description"), "");
    cr_expect_str_eq(td_test_jstr(t, "status"), "pending");
    cr_expect(json_is_false(json_object_get(t, "completed")));
    cr_expect_str_eq(td_test_jstr(t, "priority"), "none");
    cr_expect(json_is_array(json_object_get(t, "tags")) && json_array_size(json_object_get(t, "tags")) == 0);
    cr_expect(json_is_null(json_object_get(t, "due_at")));
    cr_expect(json_is_false(json_object_get(t, "all_day")));
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "UTC");
    cr_expect(json_is_null(json_object_get(t, "recurrence")));
    cr_expect(json_is_array(json_object_get(t, "reminders")) &&
              json_array_size(json_object_get(t, "reminders")) == 0);
    cr_expect(td_test_jstr(t, "created_at") && td_test_jstr(t, "updated_at"));
    cr_expect(json_is_null(json_object_get(t, "completed_at")));
    cr_expect_eq(json_integer_value(json_object_get(t, "version")), 1);
    cr_expect_str_eq(td_test_jstr(t, "user_id"), user.id);
    /* The answer is what GET gives. */
    char *path = task_path(id, NULL);
    json_t *g = NULL;
    cr_expect_eq(td_test_api_json(todod.port, user.token, "GET", path, NULL, NULL, &g), 200);
    cr_expect(json_equal(g, t), "GET differs from the create answer");
    json_decref(g);
    free(path);
    expect_types(id, "todo.task.created");
    expect_event(id, "todo.task.created", "Buy milk");
    json_decref(t);

    /* Every field set, in the forms clients send. */
    const char *full =
        "{\"title\":\"Water the plants\",\"description\":\"the ferns first\","
        "\"priority\":\"p1\",\"tags\":[\"Home\",\"GARDEN\",\"home\"],"
        "\"due_at\":\"2031-03-04T10:30:00+02:00\",\"time_zone\":\"Europe/Paris\","
        "\"recurrence\":\"FREQ=WEEKLY;BYDAY=MO,TH\","
        "\"reminders\":[{\"offset\":\"PT15M\",\"channel\":\"email\"},"
        "{\"at\":\"2031-03-04T06:00:00Z\",\"channel\":\"in_app\"}]}";
    t = td_test_create_task(todod.port, user.token, full);
    id = td_test_jstr(t, "id");
    cr_expect_str_eq(td_test_jstr(t, "title"), "Water the plants");
    cr_expect_str_eq(td_test_jstr(t, "description"), "the ferns first");
    cr_expect_str_eq(td_test_jstr(t, "priority"), "urgent", "p1 is urgent");
    json_t *tags = json_object_get(t, "tags");
    cr_expect_eq(json_array_size(tags), 2, "tags lower-cased and unique: %s", json_dumps(tags, 0));
    cr_expect_str_eq(json_string_value(json_array_get(tags, 0)), "home");
    cr_expect_str_eq(json_string_value(json_array_get(tags, 1)), "garden");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2031-03-04T08:30:00Z");
    cr_expect(json_is_false(json_object_get(t, "all_day")));
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "Europe/Paris");
    cr_expect(td_test_jstr(t, "recurrence") && strstr(td_test_jstr(t, "recurrence"), "FREQ=WEEKLY"));
    json_t *rem = json_object_get(t, "reminders");
    cr_expect_eq(json_array_size(rem), 2);
    cr_expect_str_eq(td_test_jstr(json_array_get(rem, 0), "offset"), "PT15M");
    cr_expect_str_eq(td_test_jstr(json_array_get(rem, 0), "channel"), "email");
    cr_expect_str_eq(td_test_jstr(json_array_get(rem, 1), "at"), "2031-03-04T06:00:00Z");
    cr_expect_str_eq(td_test_jstr(json_array_get(rem, 1), "channel"), "in_app");
    path = task_path(id, NULL);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "GET", path, NULL, NULL, &g), 200);
    cr_expect(json_equal(g, t), "GET differs from the create answer");
    json_decref(g);
    free(path);
    expect_event(id, "todo.task.created", "Water the plants");
    json_t *o = td_test_outbox_last(&pg, id);
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.priority"), "urgent");
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.due_date"), "2031-03-04T08:30:00Z");
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.recurrence_pattern"),
                     td_test_jstr(t, "recurrence"));
    json_decref(o);
    json_decref(t);

    /* A date alone is an all-day task; the hackathon/seed aliases are accepted. */
    t = td_test_create_task(todod.port, user.token,
                            "{\"title\":\"Holiday\",\"due_date\":\"2031-05-01\",\"time_zone\":\"UTC\"}");
    cr_expect(json_is_true(json_object_get(t, "all_day")), "date alone = all day");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2031-05-01T00:00:00Z");
    json_decref(t);
    t = td_test_create_task(todod.port, user.token, "{\"title\":\"Done already\",\"completed\":true}");
    cr_expect_str_eq(td_test_jstr(t, "status"), "completed");
    cr_expect(td_test_jstr(t, "completed_at") != NULL, "completed_at set");
    json_decref(t);
    /* Creating under /api/{user_id}/tasks works too. */
    char *upath = td_test_fmt("/api/%s/tasks", user.id);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "POST", upath, "{\"title\":\"hackathon\"}",
                                  NULL, &t), 201);
    cr_expect_str_eq(td_test_jstr(t, "title"), "hackathon");
    json_decref(t);
    free(upath);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 5);
    cr_expect_eq(td_test_outbox_count(&pg), 5, "one event per create");
}

/* ---------- the hackathon front-ends' bodies ---------- */

/* A user who signed up in New York: their zone reads local due times. */
static void user_in_new_york(struct td_test_user *u)
{
    td_test_user_fake(u);
    free(td_test_pg_queryf(&pg, "INSERT INTO users (id, email, time_zone) VALUES ('%s', '%s@ny.test', "
                                "'America/New_York')", u->id, u->id));
}

/* Creates on the brief's route; asserts 201. */
static json_t *brief_create(const struct td_test_user *u, const char *body)
{
    char *path = td_test_fmt("/api/%s/tasks", u->id);
    json_t *t = NULL;
    int status = td_test_api_json(todod.port, u->token, "POST", path, body, NULL, &t);
    cr_assert_eq(status, 201, "%s: %d %s", body, status, t ? json_dumps(t, 0) : "");
    free(path);
    return t;
}

Test(api_tasks, hackathon_form_bodies_work_unchanged)
{
    struct td_test_user ny;
    user_in_new_york(&ny);
    /* What a Next.js form posts: a datetime-local value, recurrence in words, its own
     * user_id and UI state. */
    char *body = td_test_fmt("{\"title\":\"x\",\"recurrence\":\"none\",\"due_date\":\"2026-12-20T09:00\","
                             "\"priority\":\"high\",\"tags\":[\"a\"],\"user_id\":\"%s\",\"isEditing\":false}",
                             ny.id);
    json_t *t = brief_create(&ny, body);
    free(body);
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2026-12-20T14:00:00Z", "09:00 EST");
    cr_expect_str_eq(td_test_jstr(t, "due_date"), "2026-12-20T14:00:00Z");
    cr_expect(json_is_false(json_object_get(t, "all_day")));
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "America/New_York");
    cr_expect(json_is_null(json_object_get(t, "recurrence")));
    cr_expect(json_is_null(json_object_get(t, "recurrence_pattern")),
              "recurrence_pattern present and null");
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    cr_expect_eq(json_array_size(json_object_get(t, "tags")), 1);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "tags"), 0)), "a");
    cr_expect_null(json_object_get(t, "isEditing"));
    char *tpath = td_test_fmt("/api/%s/tasks/%s", ny.id, td_test_jstr(t, "id"));
    json_t *g = NULL;
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "GET", tpath, NULL, NULL, &g), 200);
    cr_expect(json_equal(g, t), "GET differs from the create answer");
    json_decref(g);
    json_t *o = td_test_outbox_last(&pg, td_test_jstr(t, "id"));
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.due_date"), "2026-12-20T14:00:00Z");
    cr_expect(json_is_null(td_test_jget(o, "event.data.task_data.recurrence_pattern")));
    json_decref(o);

    /* PATCH reads a local time in the task's zone; a time the spring-forward skips takes
     * the offset before the gap (RFC 5545): 02:30 EST is 07:30Z. */
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "PATCH", tpath,
                                  "{\"due_date\":\"2026-03-08T02:30\",\"isEditing\":true}", NULL, &g), 200);
    cr_expect_str_eq(td_test_jstr(g, "due_at"), "2026-03-08T07:30:00Z");
    cr_expect_str_eq(td_test_jstr(g, "due_date"), "2026-03-08T07:30:00Z");
    json_decref(g);
    /* ...and a repeated one is its first occurrence: 01:30 EDT is 05:30Z. */
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "PUT", tpath,
                                  "{\"title\":\"x\",\"due_date\":\"2026-11-01T01:30:00\"}", NULL, &g), 200);
    cr_expect_str_eq(td_test_jstr(g, "due_at"), "2026-11-01T05:30:00Z");
    json_decref(g);
    json_decref(t);
    free(tpath);

    /* A recurrence in words without a due date is kept. */
    t = brief_create(&ny, "{\"title\":\"y\",\"recurrence\":\"Weekly\",\"due_date\":null}");
    cr_expect_str_eq(td_test_jstr(t, "recurrence"), "FREQ=WEEKLY");
    cr_expect_str_eq(td_test_jstr(t, "recurrence_pattern"), "weekly");
    cr_expect(json_is_null(json_object_get(t, "due_at")));
    cr_expect(json_is_null(json_object_get(t, "due_date")));
    o = td_test_outbox_last(&pg, td_test_jstr(t, "id"));
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.recurrence_pattern"), "weekly");
    json_decref(o);
    /* What GET gave goes back through todod's own strict route unchanged: the seeds'
     * names and the server-managed members agree with the rest. */
    char *text = json_dumps(t, JSON_COMPACT);
    char *own = task_path(td_test_jstr(t, "id"), NULL);
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "PUT", own, text, NULL, &g), 200, "%s", text);
    cr_expect_str_eq(td_test_jstr(g, "recurrence"), "FREQ=WEEKLY");
    cr_expect_str_eq(td_test_jstr(g, "recurrence_pattern"), "weekly");
    cr_expect_eq(json_integer_value(json_object_get(g, "version")), 2);
    json_decref(g);
    /* An RRULE that is not one of the four plain ones is its own pattern. */
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "PATCH", own,
                                  "{\"recurrence_pattern\":\"FREQ=WEEKLY;BYDAY=MO,FR\"}", NULL, &g), 200);
    cr_expect_str_eq(td_test_jstr(g, "recurrence_pattern"), "FREQ=WEEKLY;BYDAY=MO,FR");
    json_decref(g);
    o = td_test_outbox_last(&pg, td_test_jstr(t, "id"));
    cr_expect_str_eq(td_test_jstr(o, "event.data.task_data.recurrence_pattern"), "FREQ=WEEKLY;BYDAY=MO,FR");
    json_decref(o);
    free(text);
    free(own);
    json_decref(t);

    /* Minutes-only RFC 3339 with an offset is an instant; a body's time_zone reads a local one. */
    t = brief_create(&ny, "{\"title\":\"z\",\"due_date\":\"2026-12-20T09:00+01:00\"}");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2026-12-20T08:00:00Z");
    json_decref(t);
    t = brief_create(&ny, "{\"title\":\"z\",\"due_date\":\"2026-12-20T09:00\",\"time_zone\":\"Asia/Kolkata\"}");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2026-12-20T03:30:00Z");
    json_decref(t);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", ny.id), 4);
}

/* todod's own routes stay strict: a member nobody knows is a typo, named in the 422. */
Test(api_tasks, unknown_members_are_refused_on_todods_own_routes)
{
    struct td_test_user ny;
    user_in_new_york(&ny);
    struct td_test_http r;
    td_test_api(todod.port, ny.token, "POST", "/api/tasks", "{\"title\":\"x\",\"isEditing\":false}", NULL, &r);
    expect_problem(&r, 422, "unknown member on /api/tasks");
    json_t *j = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect(td_test_problem_names(j, "isEditing"), "422 does not name isEditing: %s", json_dumps(j, 0));
    json_decref(j);
    /* Server-managed members are no typo: ignored there too. */
    char *body = td_test_fmt("{\"title\":\"x\",\"user_id\":\"%s\",\"id\":null,\"version\":3,\"all_day\":true}",
                             ny.id);
    json_t *t = NULL;
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "POST", "/api/tasks", body, NULL, &t), 201);
    free(body);
    cr_expect_eq(json_integer_value(json_object_get(t, "version")), 1);
    cr_expect(json_is_false(json_object_get(t, "all_day")));
    char *own = task_path(td_test_jstr(t, "id"), NULL);
    j = expect_422_as(&ny, "PATCH", own, "{\"priorty\":\"high\"}");
    cr_expect(td_test_problem_names(j, "priorty"));
    json_decref(j);
    /* The same member on the brief's route is ignored. */
    char *brief = td_test_fmt("/api/%s/tasks/%s", ny.id, td_test_jstr(t, "id"));
    json_t *u = NULL;
    cr_expect_eq(td_test_api_json(todod.port, ny.token, "PATCH", brief, "{\"priorty\":\"high\"}", NULL, &u),
                 200);
    cr_expect_str_eq(td_test_jstr(u, "priority"), "none");
    json_decref(u);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", ny.id), 1);
    free(brief);
    free(own);
    json_decref(t);
}

Test(api_tasks, get_patch_put_delete_with_if_match)
{
    json_t *t = td_test_create_task(todod.port, user.token,
        "{\"title\":\"Draft\",\"description\":\"keep me\",\"priority\":\"low\",\"tags\":[\"a\"]}");
    char id[37];
    snprintf(id, sizeof id, "%s", td_test_jstr(t, "id"));
    char *path = task_path(id, NULL);
    struct td_test_http r;
    json_t *j = NULL;

    td_test_api(todod.port, user.token, "GET", path, NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    char *etag = td_test_header(r.headers, "ETag");
    cr_expect_str_eq(etag ? etag : "", "\"1\"");
    free(etag);
    td_test_http_free(&r);
    /* Unknown ids: a random UUID and a non-UUID are both 404. */
    char other[37];
    td_test_uuid(other);
    char *missing = task_path(other, NULL);
    td_test_api(todod.port, user.token, "GET", missing, NULL, NULL, &r);
    expect_problem(&r, 404, "unknown task");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "GET", "/api/tasks/not-a-uuid", NULL, NULL, &r);
    expect_problem(&r, 404, "non-UUID id");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "PATCH", missing, "{\"title\":\"x\"}", NULL, &r);
    expect_problem(&r, 404, "PATCH unknown task");
    td_test_http_free(&r);

    /* PATCH changes only what it names. */
    td_test_api(todod.port, user.token, "PATCH", path, "{\"priority\":\"high\"}", NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    etag = td_test_header(r.headers, "ETag");
    cr_expect_str_eq(etag ? etag : "", "\"2\"");
    free(etag);
    j = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect_str_eq(td_test_jstr(j, "priority"), "high");
    cr_expect_str_eq(td_test_jstr(j, "title"), "Draft");
    cr_expect_str_eq(td_test_jstr(j, "description"), "keep me");
    cr_expect(json_equal(json_object_get(j, "tags"), json_object_get(t, "tags")));
    cr_expect_str_eq(td_test_jstr(j, "created_at"), td_test_jstr(t, "created_at"));
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    expect_types(id, "todo.task.created,todo.task.updated");
    expect_event(id, "todo.task.updated", "Draft");

    /* A stale If-Match is refused and changes nothing. */
    const char *stale[] = {"If-Match: \"1\"", NULL};
    td_test_api(todod.port, user.token, "PATCH", path, "{\"title\":\"lost update\"}", stale, &r);
    expect_problem(&r, 412, "stale If-Match");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "PUT", path, "{\"title\":\"lost update\"}", stale, &r);
    expect_problem(&r, 412, "stale If-Match on PUT");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "DELETE", path, NULL, stale, &r);
    expect_problem(&r, 412, "stale If-Match on DELETE");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT version FROM tasks WHERE id = '%s'", id), 2);
    expect_types(id, "todo.task.created,todo.task.updated");
    /* The current one passes, in each spelling. */
    const char *fresh[] = {"If-Match: \"2\"", NULL};
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", path,
                                  "{\"description\":null}", fresh, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "description"), "", "null clears");
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 3);
    json_decref(j);
    /* If-Match compares strongly (RFC 9110): a weak tag never matches. */
    const char *weak[] = {"If-Match: W/\"3\"", NULL};
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", path, "{\"tags\":[\"b\",\"c\"]}",
                                  weak, NULL), 412);
    const char *bare[] = {"If-Match: 3", NULL};
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", path, "{\"tags\":[\"b\",\"c\"]}",
                                  bare, NULL), 200);
    const char *junk[] = {"If-Match: yesterday", NULL};
    td_test_api(todod.port, user.token, "PATCH", path, "{\"title\":\"x\"}", junk, &r);
    expect_problem(&r, 400, "unparsable If-Match");
    td_test_http_free(&r);

    /* PUT replaces: every absent field takes its default. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", path, "{\"title\":\"Replaced\"}",
                                  NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "title"), "Replaced");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "none");
    cr_expect_eq(json_array_size(json_object_get(j, "tags")), 0);
    cr_expect_str_eq(td_test_jstr(j, "description"), "");
    cr_expect_str_eq(td_test_jstr(j, "status"), "pending");
    cr_expect_str_eq(td_test_jstr(j, "id"), id);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 5);
    json_decref(j);
    expect_event(id, "todo.task.updated", "Replaced");
    /* PUT without a title is a 422: it is a whole task. */
    td_test_api(todod.port, user.token, "PUT", path, "{\"priority\":\"low\"}", NULL, &r);
    expect_problem(&r, 422, "PUT without title");
    td_test_http_free(&r);

    /* Completing through PATCH announces a completion. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", path,
                                  "{\"status\":\"completed\"}", NULL, &j), 200);
    cr_expect(td_test_jstr(j, "completed_at") != NULL);
    json_decref(j);
    expect_event(id, "todo.task.completed", "Replaced");

    /* DELETE: 204 and gone; again 404 and no second event. */
    const char *cur[] = {"If-Match: \"6\"", NULL};
    td_test_api(todod.port, user.token, "DELETE", path, NULL, cur, &r);
    cr_expect_eq(r.status, 204, "%s", r.body);
    cr_expect_eq(r.body_len, 0);
    td_test_http_free(&r);
    expect_event(id, "todo.task.deleted", "Replaced");
    td_test_api(todod.port, user.token, "GET", path, NULL, NULL, &r);
    expect_problem(&r, 404, "deleted task");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "DELETE", path, NULL, NULL, &r);
    expect_problem(&r, 404, "second DELETE");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "PATCH", path, "{\"title\":\"zombie\"}", NULL, &r);
    expect_problem(&r, 404, "PATCH after DELETE");
    td_test_http_free(&r);
    expect_types(id, "todo.task.created,todo.task.updated,todo.task.updated,todo.task.updated,"
                     "todo.task.updated,todo.task.completed,todo.task.deleted");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 0);
    free(missing);
    free(path);
    json_decref(t);
}

/* A PATCH that changes nothing still honours If-Match: a stale version is 412; "*"
 * matches any version. */
Test(api_tasks, noop_patch_still_checks_if_match)
{
    json_t *t = td_test_create_task(todod.port, user.token, "{\"title\":\"Still\"}");
    char *path = task_path(td_test_jstr(t, "id"), NULL);
    struct td_test_http r;
    const char *stale[] = {"If-Match: \"7\"", NULL};
    td_test_api(todod.port, user.token, "PATCH", path, "{\"version\":7}", stale, &r);
    expect_problem(&r, 412, "no-op PATCH with a stale If-Match");
    td_test_http_free(&r);
    const char *fresh[] = {"If-Match: \"1\"", NULL};
    td_test_api(todod.port, user.token, "PATCH", path, "{\"version\":7}", fresh, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    td_test_http_free(&r);
    /* If-Match: * means any current version (RFC 9110 13.1.1), not a malformed tag. */
    const char *any[] = {"If-Match: *", NULL};
    td_test_api(todod.port, user.token, "PATCH", path, "{\"title\":\"Any\"}", any, &r);
    cr_expect_eq(r.status, 200, "If-Match: *: %s", r.body);
    td_test_http_free(&r);
    free(path);
    json_decref(t);
}

/* The hackathon brief's edit form sends only the fields it shows with
 * PUT /api/{user_id}/tasks/{id}, and the brief's back-ends update only those: that PUT
 * keeps every absent field. PUT /api/tasks/{id} still replaces the whole task. */
Test(api_tasks, hackathon_put_updates_only_the_fields_sent)
{
    const char *full = "{\"title\":\"Buy milk\",\"description\":\"2 litres, oat\","
                       "\"priority\":\"high\",\"tags\":[\"errands\",\"home\"],"
                       "\"due_at\":\"2031-03-04T10:30:00Z\"}";
    json_t *t = td_test_create_task(todod.port, user.token, full);
    char id[37];
    snprintf(id, sizeof id, "%s", td_test_jstr(t, "id"));
    char *upath = td_test_fmt("/api/%s/tasks/%s", user.id, id);
    json_t *j = NULL;
    struct td_test_http r;

    /* What a Next.js edit form with a single title input sends. */
    const char *json_type[] = {"Content-Type: application/json", NULL};
    td_test_api(todod.port, user.token, "PUT", upath, "{\"title\":\"new\"}", json_type, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *etag = td_test_header(r.headers, "ETag");
    cr_expect_str_eq(etag ? etag : "", "\"2\"");
    free(etag);
    j = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect_str_eq(td_test_jstr(j, "title"), "new");
    cr_expect_str_eq(td_test_jstr(j, "description"), "2 litres, oat");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "high");
    cr_expect(json_equal(json_object_get(j, "tags"), json_object_get(t, "tags")), "tags kept");
    cr_expect_str_eq(td_test_jstr(j, "due_at"), "2031-03-04T10:30:00Z");
    cr_expect_str_eq(td_test_jstr(j, "status"), "pending");
    cr_expect_str_eq(td_test_jstr(j, "created_at"), td_test_jstr(t, "created_at"));
    json_decref(j);
    /* What the row holds, not only what the answer says. */
    char *row = td_test_pg_queryf(&pg, "SELECT concat_ws('|', title, description, priority, "
                                  "array_to_string(tags, ','), due_at AT TIME ZONE 'UTC') "
                                  "FROM tasks WHERE id = '%s'", id);
    cr_expect_str_eq(row ? row : "", "new|2 litres, oat|3|errands,home|2031-03-04 10:30:00");
    free(row);
    expect_types(id, "todo.task.created,todo.task.updated");
    expect_event(id, "todo.task.updated", "new");

    /* The brief's form with title, description and the completed checkbox. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", upath,
                                  "{\"title\":\"Buy milk\",\"description\":\"1 litre\","
                                  "\"completed\":true}", json_type, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "description"), "1 litre");
    cr_expect_str_eq(td_test_jstr(j, "status"), "completed");
    cr_expect(td_test_jstr(j, "completed_at") != NULL);
    cr_expect_str_eq(td_test_jstr(j, "priority"), "high");
    cr_expect_eq(json_array_size(json_object_get(j, "tags")), 2);
    json_decref(j);
    expect_event(id, "todo.task.completed", "Buy milk");

    /* Validation is PATCH's: no title is fine, a bad title is still 422, and If-Match
     * still guards the write. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", upath,
                                  "{\"priority\":\"low\"}", NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "title"), "Buy milk");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "low");
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 4);
    json_decref(j);
    td_test_api(todod.port, user.token, "PUT", upath, "{\"title\":\"\"}", NULL, &r);
    expect_problem(&r, 422, "empty title on the hackathon PUT");
    td_test_http_free(&r);
    const char *stale[] = {"If-Match: \"3\"", NULL};
    td_test_api(todod.port, user.token, "PUT", upath, "{\"title\":\"lost\"}", stale, &r);
    expect_problem(&r, 412, "stale If-Match on the hackathon PUT");
    td_test_http_free(&r);
    /* Nothing to change: the task as it is, no new version, no event. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", upath, "{}", NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 4);
    json_decref(j);
    expect_types(id, "todo.task.created,todo.task.updated,todo.task.completed,todo.task.updated");

    /* The same body on /api/tasks/{id} replaces: absent fields take their defaults. */
    char *path = task_path(id, NULL);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", path, "{\"title\":\"new\"}",
                                  json_type, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "title"), "new");
    cr_expect_str_eq(td_test_jstr(j, "description"), "");
    cr_expect_str_eq(td_test_jstr(j, "priority"), "none");
    cr_expect_eq(json_array_size(json_object_get(j, "tags")), 0);
    cr_expect(json_is_null(json_object_get(j, "due_at")));
    cr_expect_str_eq(td_test_jstr(j, "status"), "pending");
    json_decref(j);
    td_test_api(todod.port, user.token, "PUT", path, "{\"priority\":\"low\"}", NULL, &r);
    expect_problem(&r, 422, "PUT /api/tasks/{id} without a title");
    td_test_http_free(&r);

    /* Another user's task stays out of reach on the hackathon PUT. */
    struct td_test_user other;
    td_test_user_fake(&other);
    char *opath = td_test_fmt("/api/%s/tasks/%s", other.id, id);
    td_test_api(todod.port, other.token, "PUT", opath, "{\"title\":\"mine now\"}", NULL, &r);
    expect_problem(&r, 404, "another user's task");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'mine now'"), 0);
    free(opath);
    free(path);
    free(upath);
    json_decref(t);
}

Test(api_tasks, complete_and_reopen_are_idempotent_toggle_flips)
{
    json_t *t = td_test_create_task(todod.port, user.token, "{\"title\":\"Laundry\"}");
    char id[37];
    snprintf(id, sizeof id, "%s", td_test_jstr(t, "id"));
    json_decref(t);
    char *complete = task_path(id, "/complete"), *reopen = task_path(id, "/reopen");
    json_t *a = NULL, *b = NULL;

    cr_assert_eq(td_test_api_json(todod.port, user.token, "POST", complete, NULL, NULL, &a), 200);
    cr_expect_str_eq(td_test_jstr(a, "status"), "completed");
    cr_expect(json_is_true(json_object_get(a, "completed")));
    cr_expect(td_test_jstr(a, "completed_at") != NULL);
    cr_expect_eq(json_integer_value(json_object_get(a, "version")), 2);
    expect_event(id, "todo.task.completed", "Laundry");
    /* Twice: the same answer, the same version, no second event. */
    cr_assert_eq(td_test_api_json(todod.port, user.token, "POST", complete, NULL, NULL, &b), 200);
    cr_expect(json_equal(a, b), "second complete answered differently");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT version FROM tasks WHERE id = '%s'", id), 2);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE event->>'subject' = '%s' "
                                      "AND event->>'type' = 'todo.task.completed' "
                                      "AND topic = 'task-events'", id), 1);
    json_decref(a);
    json_decref(b);

    cr_assert_eq(td_test_api_json(todod.port, user.token, "POST", reopen, NULL, NULL, &a), 200);
    cr_expect_str_eq(td_test_jstr(a, "status"), "pending");
    cr_expect(json_is_null(json_object_get(a, "completed_at")));
    cr_expect_eq(json_integer_value(json_object_get(a, "version")), 3);
    cr_assert_eq(td_test_api_json(todod.port, user.token, "POST", reopen, NULL, NULL, &b), 200);
    cr_expect(json_equal(a, b), "second reopen answered differently");
    json_decref(a);
    json_decref(b);
    expect_types(id, "todo.task.created,todo.task.completed,todo.task.updated");
    expect_event(id, "todo.task.updated", "Laundry");

    /* The same routes under /api/{user_id}/tasks. */
    char *ucomplete = td_test_fmt("/api/%s/tasks/%s/complete", user.id, id);
    char *ureopen = td_test_fmt("/api/%s/tasks/%s/reopen", user.id, id);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "POST", ucomplete, NULL, NULL, &a), 200);
    cr_expect_str_eq(td_test_jstr(a, "status"), "completed");
    json_decref(a);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "POST", ureopen, NULL, NULL, &a), 200);
    cr_expect_str_eq(td_test_jstr(a, "status"), "pending");
    cr_expect_eq(json_integer_value(json_object_get(a, "version")), 5);
    json_decref(a);

    /* The hackathon toggle: PATCH .../complete flips each time, one event each. */
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", ucomplete, NULL, NULL, &a), 200);
    cr_expect(json_is_true(json_object_get(a, "completed")));
    cr_expect_eq(json_integer_value(json_object_get(a, "version")), 6);
    json_decref(a);
    expect_event(id, "todo.task.completed", "Laundry");
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", ucomplete, NULL, NULL, &a), 200);
    cr_expect(json_is_false(json_object_get(a, "completed")));
    cr_expect(json_is_null(json_object_get(a, "completed_at")));
    cr_expect_eq(json_integer_value(json_object_get(a, "version")), 7);
    json_decref(a);
    expect_event(id, "todo.task.updated", "Laundry");
    expect_types(id, "todo.task.created,todo.task.completed,todo.task.updated,todo.task.completed,"
                     "todo.task.updated,todo.task.completed,todo.task.updated");
    /* The toggle exists only in the hackathon form. */
    struct td_test_http r;
    td_test_api(todod.port, user.token, "PATCH", complete, NULL, NULL, &r);
    cr_expect_eq(r.status, 405, "PATCH /api/tasks/{id}/complete: %d", r.status);
    td_test_http_free(&r);
    /* On an unknown task all of them are 404. */
    char other[37];
    td_test_uuid(other);
    char *p1 = task_path(other, "/complete"), *p2 = td_test_fmt("/api/%s/tasks/%s/complete", user.id, other);
    td_test_api(todod.port, user.token, "POST", p1, NULL, NULL, &r);
    expect_problem(&r, 404, "complete unknown");
    td_test_http_free(&r);
    td_test_api(todod.port, user.token, "PATCH", p2, NULL, NULL, &r);
    expect_problem(&r, 404, "toggle unknown");
    td_test_http_free(&r);
    free(p1);
    free(p2);
    free(ucomplete);
    free(ureopen);
    free(complete);
    free(reopen);
}

/* ---------- concurrency ---------- */

struct shot {
    pthread_t   th;
    int         port;
    const char *method, *path, *body;
    const char *headers[4];
    int         status;
    char       *answer;
};

static pthread_barrier_t barrier;

static void *fire(void *arg)
{
    struct shot *s = arg;
    struct td_test_http r;
    pthread_barrier_wait(&barrier);
    if (td_test_http(s->port, s->method, s->path, s->body, s->headers, &r) == 0) {
        s->status = r.status;
        s->answer = r.body;
        r.body = NULL;
        td_test_http_free(&r);
    } else {
        s->status = -1;
    }
    return NULL;
}

/* Sends n copies of one request at once (each on its own connection). */
static void fire_all(struct shot *shots, int n)
{
    curl_global_init(CURL_GLOBAL_ALL);
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_create(&shots[i].th, NULL, fire, &shots[i]), 0);
    for (int i = 0; i < n; i++)
        pthread_join(shots[i].th, NULL);
    pthread_barrier_destroy(&barrier);
}

Test(api_tasks, concurrent_patches_with_one_if_match_one_wins)
{
    json_t *t = td_test_create_task(todod.port, user.token, "{\"title\":\"contended\"}");
    char id[37];
    snprintf(id, sizeof id, "%s", td_test_jstr(t, "id"));
    json_decref(t);
    char *path = task_path(id, NULL);
    char *authz = td_test_fmt("Authorization: Bearer %s", user.token);
    enum { N = 10 };
    struct shot shots[N];
    char bodies[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"title\":\"writer %d\"}", i);
        shots[i] = (struct shot){.port = todod.port, .method = "PATCH", .path = path,
                                 .body = bodies[i], .headers = {authz, "If-Match: \"1\"", NULL}};
    }
    fire_all(shots, N);
    int ok = 0, conflict = 0, winner = -1;
    for (int i = 0; i < N; i++) {
        if (shots[i].status == 200) {
            ok++;
            winner = i;
        } else if (shots[i].status == 412) {
            conflict++;
        } else {
            cr_expect_fail("writer %d: %d %s", i, shots[i].status, shots[i].answer);
        }
    }
    cr_expect_eq(ok, 1, "exactly one writer wins (%d did)", ok);
    cr_expect_eq(conflict, N - 1);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT version FROM tasks WHERE id = '%s'", id), 2);
    if (winner >= 0) {
        char *title = td_test_pg_queryf(&pg, "SELECT title FROM tasks WHERE id = '%s'", id);
        char want[32];
        snprintf(want, sizeof want, "writer %d", winner);
        cr_expect_str_eq(title, want, "the stored title is the winner's");
        free(title);
    }
    expect_types(id, "todo.task.created,todo.task.updated");
    for (int i = 0; i < N; i++)
        free(shots[i].answer);
    free(authz);
    free(path);
}

Test(api_tasks, idempotency_keys_replay_once)
{
    struct td_test_http r;
    const char *key[] = {"Idempotency-Key: 2b9d6f0e-first", NULL};
    const char *body = "{\"title\":\"pay the invoice\",\"priority\":\"high\"}";
    td_test_api(todod.port, user.token, "POST", "/api/tasks", body, key, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *first = td_test_body_json(&r);
    char *replayed = td_test_header(r.headers, "Idempotent-Replayed");
    cr_expect(!replayed || strcmp(replayed, "true") != 0, "the first answer is not a replay");
    free(replayed);
    td_test_http_free(&r);
    const char *id = td_test_jstr(first, "id");

    td_test_api(todod.port, user.token, "POST", "/api/tasks", body, key, &r);
    cr_expect_eq(r.status, 201, "%s", r.body);
    replayed = td_test_header(r.headers, "Idempotent-Replayed");
    cr_expect_str_eq(replayed ? replayed : "", "true");
    free(replayed);
    json_t *second = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect_str_eq(td_test_jstr(second, "id"), id, "the retry names the same task");
    cr_expect(json_equal(first, second));
    json_decref(second);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'pay the invoice'"), 1);
    expect_types(id, "todo.task.created");

    /* The same key with another body is a client bug: 422, nothing created. */
    td_test_api(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"something else\"}", key, &r);
    expect_problem(&r, 422, "key reused with another body");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 1);
    /* Keys belong to a user: another user's same key creates their own task. */
    struct td_test_user other;
    td_test_user_fake(&other);
    json_t *theirs = NULL;
    cr_expect_eq(td_test_api_json(todod.port, other.token, "POST", "/api/tasks", body, key, &theirs), 201);
    cr_expect(td_test_jstr(theirs, "id") && strcmp(td_test_jstr(theirs, "id"), id) != 0);
    json_decref(theirs);

    /* Ten concurrent retries with a fresh key: one task, one event, one id for all. */
    char *authz = td_test_fmt("Authorization: Bearer %s", user.token);
    enum { N = 10 };
    struct shot shots[N];
    const char *body2 = "{\"title\":\"flaky network\"}";
    for (int i = 0; i < N; i++)
        shots[i] = (struct shot){.port = todod.port, .method = "POST", .path = "/api/tasks",
                                 .body = body2, .headers = {authz, "Idempotency-Key: retry-storm-1",
                                                            "Content-Type: application/json", NULL}};
    fire_all(shots, N);
    char first_id[37] = "";
    for (int i = 0; i < N; i++) {
        cr_expect_eq(shots[i].status, 201, "retry %d: %d %s", i, shots[i].status, shots[i].answer);
        json_t *j = shots[i].answer ? json_loads(shots[i].answer, 0, NULL) : NULL;
        const char *tid = td_test_jstr(j, "id");
        if (tid && !first_id[0])
            snprintf(first_id, sizeof first_id, "%s", tid);
        cr_expect(tid && strcmp(tid, first_id) == 0, "retry %d answered task %s, not %s", i, tid, first_id);
        json_decref(j);
        free(shots[i].answer);
    }
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'flaky network'"), 1);
    if (first_id[0])
        expect_types(first_id, "todo.task.created");
    /* A key is 1 to 255 characters. */
    char longkey[300];
    int n = snprintf(longkey, sizeof longkey, "Idempotency-Key: ");
    memset(longkey + n, 'k', 256);
    longkey[n + 256] = '\0';
    const char *long_key[] = {longkey, NULL};
    td_test_api(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"k\"}", long_key, &r);
    expect_problem(&r, 400, "a 256-character key");
    td_test_http_free(&r);
    const char *short_key[] = {"Idempotency-Key: x", NULL};
    cr_expect_eq(td_test_api_json(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"k\"}",
                                  short_key, NULL), 201, "a one-character key is fine");
    free(authz);
    json_decref(first);
}

/* Creates arriving together share one statement; when the database refuses one of them,
 * it alone fails and the others are created, each with its event. */
Test(api_tasks, concurrent_creates_with_one_the_database_refuses_fail_only_that_one)
{
    free(td_test_pg_query(&pg, "ALTER TABLE tasks ADD CONSTRAINT test_no_boom CHECK (title <> 'boom')"));
    char *authz = td_test_fmt("Authorization: Bearer %s", user.token);
    enum { N = 24, BAD = N / 2 };
    struct shot shots[N];
    for (int i = 0; i < N; i++)
        shots[i] = (struct shot){.port = todod.port, .method = "POST", .path = "/api/tasks",
                                 .body = i == BAD ? "{\"title\":\"boom\"}" : "{\"title\":\"fine\"}",
                                 .headers = {authz, "Content-Type: application/json", NULL}};
    fire_all(shots, N);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(shots[i].status, i == BAD ? 422 : 201, "create %d: %d %s", i, shots[i].status,
                     shots[i].answer);
        free(shots[i].answer);
    }
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'fine'"), N - 1);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'boom'"), 0);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE event->>'type' = "
                                      "'todo.task.created' AND topic = 'task-events'"), N - 1);
    free(authz);
}

/* ---------- bad input ---------- */

static json_t *expect_422(const char *method, const char *path, const char *body)
{
    struct td_test_http r;
    td_test_api(todod.port, user.token, method, path, body, NULL, &r);
    expect_problem(&r, 422, body);
    json_t *j = json_loads(r.body, 0, NULL);
    td_test_http_free(&r);
    cr_expect(json_is_array(json_object_get(j, "errors")), "422 without errors[]: %s", body);
    return j;
}

Test(api_tasks, validation_names_every_bad_field)
{
    json_t *j = expect_422("POST", "/api/tasks",
        "{\"title\":\"   \",\"description\":7,\"status\":\"maybe\",\"priority\":\"extreme\","
        "\"tags\":\"not-an-array\",\"due_at\":\"next tuesday\",\"time_zone\":\"Mars/Olympus_Mons\","
        "\"recurrence\":\"FREQ=SOMETIMES\",\"reminders\":[{\"offset\":\"15 minutes\",\"channel\":\"pigeon\"}],"
        "\"colour\":\"red\"}");
    const char *fields[] = {"title", "description", "status", "priority", "tags", "due_at",
                            "time_zone", "recurrence", "reminders", "colour"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        cr_expect(td_test_problem_names(j, fields[i]), "422 does not name %s: %s", fields[i],
                  json_dumps(j, 0));
    json_decref(j);

    /* Limits, one at a time. */
    char *long_title = malloc(520), *long_desc = malloc(10020);
    memset(long_title, 'x', 501);
    long_title[501] = '\0';
    memset(long_desc, 'd', 10001);
    long_desc[10001] = '\0';
    struct { char *body; const char *field; } one[] = {
        {td_test_fmt("{\"title\":\"%s\"}", long_title), "title"},
        {td_test_fmt("{\"title\":\"ok\",\"description\":\"%s\"}", long_desc), "description"},
        {td_test_fmt("{\"description\":\"no title\"}"), "title"},
        {td_test_fmt("{\"title\":\"ok\",\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
                     "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]}"), "tags"},
        {td_test_fmt("{\"title\":\"ok\",\"tags\":[\"%.51s\"]}", long_title), "tags"},
        {td_test_fmt("{\"title\":\"ok\",\"tags\":[3]}"), "tags"},
        {td_test_fmt("{\"title\":\"ok\",\"priority\":\"p5\"}"), "priority"},
        {td_test_fmt("{\"title\":\"ok\",\"due_at\":\"2031-02-30T10:00:00Z\"}"), "due_at"},
        {td_test_fmt("{\"title\":\"ok\",\"due_at\":\"2031-01-01T00:00:00Z\",\"reminders\":[{\"offset\":\"PT15M\",\"channel\":\"fax\"}]}"), "reminders"},
        {td_test_fmt("{\"title\":\"ok\",\"due_at\":\"2031-01-01T00:00:00Z\",\"reminders\":[{\"offset\":\"soon\",\"channel\":\"email\"}]}"), "reminders"},
        {td_test_fmt("{\"title\":42}"), "title"},
    };
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        j = expect_422("POST", "/api/tasks", one[i].body);
        cr_expect(td_test_problem_names(j, one[i].field), "%.80s: %s not named", one[i].body, one[i].field);
        json_decref(j);
        free(one[i].body);
    }
    /* A 500-character title, trimmed, is fine. */
    long_title[500] = '\0';
    char *ok = td_test_fmt("{\"title\":\"  %s  \"}", long_title);
    json_t *t = td_test_create_task(todod.port, user.token, ok);
    cr_expect_eq(strlen(td_test_jstr(t, "title")), 500);
    free(ok);
    free(long_title);
    free(long_desc);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 1, "no invalid task was stored");
    cr_expect_eq(td_test_outbox_count(&pg), 1);

    /* PATCH validates too and leaves the task alone. */
    char *path = task_path(td_test_jstr(t, "id"), NULL);
    j = expect_422("PATCH", path, "{\"title\":\"\",\"priority\":\"extreme\"}");
    cr_expect(td_test_problem_names(j, "title") && td_test_problem_names(j, "priority"));
    json_decref(j);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT version FROM tasks"), 1);
    cr_expect_eq(td_test_outbox_count(&pg), 1);
    /* Server-managed members are not the client's to set: a task sent back as GET gave
     * it is accepted, and its id, owner, version and times are ignored. */
    json_t *back = json_deep_copy(t);
    char other[37];
    td_test_uuid(other);
    json_object_set_new(back, "id", json_string(other));
    json_object_set_new(back, "user_id", json_string(other));
    json_object_set_new(back, "version", json_integer(99));
    json_object_set_new(back, "created_at", json_string("2000-01-01T00:00:00Z"));
    json_object_set_new(back, "title", json_string("sent back"));
    char *text = json_dumps(back, JSON_COMPACT);
    json_t *u = NULL;
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PUT", path, text, NULL, &u), 200, "%s", text);
    cr_expect_str_eq(td_test_jstr(u, "id"), td_test_jstr(t, "id"));
    cr_expect_str_eq(td_test_jstr(u, "user_id"), user.id);
    cr_expect_str_eq(td_test_jstr(u, "created_at"), td_test_jstr(t, "created_at"));
    cr_expect_str_eq(td_test_jstr(u, "title"), "sent back");
    cr_expect_eq(json_integer_value(json_object_get(u, "version")), 2);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE id = '%s' OR user_id = '%s'",
                                 other, other), 0);
    json_decref(u);
    free(text);
    json_decref(back);
    free(path);
    json_decref(t);
}

Test(api_tasks, http_errors_are_problems)
{
    struct td_test_http r;
    json_t *t = td_test_create_task(todod.port, user.token, "{\"title\":\"target\"}");
    char *path = task_path(td_test_jstr(t, "id"), NULL);
    /* Malformed JSON and non-objects: 400. */
    const char *bad[] = {"{\"title\":", "not json", "[{\"title\":\"x\"}]", "\"title\"",
                         "{\"title\":\"a\",\"title\":\"b\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        td_test_api(todod.port, user.token, "POST", "/api/tasks", bad[i], NULL, &r);
        expect_problem(&r, 400, bad[i]);
        td_test_http_free(&r);
    }
    td_test_api(todod.port, user.token, "PATCH", path, "{oops}", NULL, &r);
    expect_problem(&r, 400, "malformed PATCH");
    td_test_http_free(&r);
    /* Wrong content types: 415. */
    const char *types[] = {"Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded",
                           "Content-Type: application/jsonp", "Content-Type: application/xml"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        const char *h[] = {types[i], NULL};
        td_test_api(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"x\"}", h, &r);
        expect_problem(&r, 415, types[i]);
        td_test_http_free(&r);
        td_test_api(todod.port, user.token, "PUT", path, "{\"title\":\"x\"}", h, &r);
        expect_problem(&r, 415, types[i]);
        td_test_http_free(&r);
    }
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    cr_expect_eq(td_test_api_json(todod.port, user.token, "POST", "/api/tasks", "{\"title\":\"x\"}",
                                  charset, NULL), 201, "application/json with a charset is JSON");
    /* Unknown routes: 404. */
    const char *unknown[] = {"/api/nothing", "/api/tasks/x/y/z", "/api/taskz"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        td_test_api(todod.port, user.token, "GET", unknown[i], NULL, NULL, &r);
        expect_problem(&r, 404, unknown[i]);
        td_test_http_free(&r);
    }
    /* Wrong methods: 405 with Allow. */
    struct { const char *method, *path, *allow[5]; } wrong[] = {
        {"DELETE", "/api/tasks", {"GET", "POST"}},
        {"PUT", "/api/tags", {"GET"}},
        {"POST", path, {"GET", "PATCH", "PUT", "DELETE"}},
        {"GET", "/api/auth/login", {"POST"}},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        td_test_api(todod.port, user.token, wrong[i].method, wrong[i].path, NULL, NULL, &r);
        expect_problem(&r, 405, wrong[i].path);
        char *allow = td_test_header(r.headers, "Allow");
        cr_expect(allow != NULL, "%s %s: no Allow", wrong[i].method, wrong[i].path);
        for (int k = 0; allow && wrong[i].allow[k]; k++)
            cr_expect(strstr(allow, wrong[i].allow[k]) != NULL, "%s: Allow %s lacks %s",
                      wrong[i].path, allow, wrong[i].allow[k]);
        cr_expect(allow && !strstr(allow, wrong[i].method), "Allow %s lists %s", allow, wrong[i].method);
        free(allow);
        td_test_http_free(&r);
    }
    /* Bodies past --max-body-bytes (64 KiB): 413, nothing stored. */
    size_t big = 100 * 1024;
    char *huge = malloc(big + 64);
    strcpy(huge, "{\"title\":\"big\",\"description\":\"");
    size_t at = strlen(huge);
    memset(huge + at, 'z', big);
    strcpy(huge + at + big, "\"}");
    int fd = td_test_connect(todod.port);
    cr_assert(fd >= 0);
    char *head = td_test_fmt("POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                             user.token, strlen(huge));
    td_test_send_all(fd, head, strlen(head));
    td_test_send_all(fd, huge, strlen(huge));   /* the server may stop reading part-way */
    char *resp = td_test_recv_response(fd, 5000);
    int status = 0;
    if (resp)
        sscanf(resp, "HTTP/1.1 %d", &status);
    cr_expect_eq(status, 413, "oversized body: %.200s", resp);
    cr_expect(resp && strstr(resp, "application/problem+json"));
    free(resp);
    free(head);
    free(huge);
    close(fd);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'big'"), 0);
    /* No token beats everything but the route: 401 before the body is looked at. */
    td_test_api(todod.port, NULL, "POST", "/api/tasks", "{oops", NULL, &r);
    expect_problem(&r, 401, "no token, bad body");
    td_test_http_free(&r);
    free(path);
    json_decref(t);
}

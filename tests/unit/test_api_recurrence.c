/* roles/api/recurrence.c: skip, the occurrences preview and ending a series, with the
 * recur role beside the api (both in the test process, tests/support/role_harness.h), so a
 * completion through HTTP is followed by its next occurrence as under `todod all`. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api, td_role_recur;
static const struct td_role *const roles[] = {&td_role_api, &td_role_recur};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 2, 0);
    td_test_user_fake(&user);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_recurrence, .init = start, .fini = stop, .timeout = 90);

static json_t *daily(const char *rule)
{
    char *body = td_test_fmt("{\"title\":\"stretch\",\"due_at\":\"2030-01-07T14:00:00Z\","
                             "\"time_zone\":\"America/New_York\",\"recurrence\":\"%s\","
                             "\"priority\":\"high\",\"tags\":[\"health\"]}", rule);
    json_t *t = td_test_create_task(S.port, user.token, body);
    free(body);
    return t;
}

static long series_count(const char *first)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s'", first);
}

Test(api_recurrence, completing_twice_through_http_makes_one_next_occurrence)
{
    json_t *t = daily("FREQ=DAILY");
    const char *id = td_test_jstr(t, "id");
    char *path = td_test_fmt("/api/tasks/%s/complete", id);
    char *reopen = td_test_fmt("/api/tasks/%s/reopen", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s'", id);
    cr_assert_eq(td_test_wait_count(pg, 1, 20000, sql), 1, "no next occurrence");
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", reopen, NULL, NULL, NULL), 200);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    /* every event of the user handled */
    char *handled = td_test_fmt(
        "SELECT count(*) FROM inbox i JOIN outbox o USING (event_id) WHERE i.consumer_group = "
        "'todod-recur' AND o.event->>'subject' = '%s' AND o.event->>'type' = 'todo.task.completed'",
        id);
    cr_expect_eq(td_test_wait_count(pg, 2, 20000, handled), 2, "both completions handled");
    free(handled);
    cr_expect_eq(series_count(id), 1, "a second occurrence");
    /* completed in 2026, due 2030: the next day at the same local time */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s' AND "
                                     "due_at = '2030-01-08T14:00:00Z' AND priority = 3 AND "
                                     "tags = '{health}' AND occurrence_index = 1", id), 1);
    free(sql);
    free(path);
    free(reopen);
    json_decref(t);
}

Test(api_recurrence, skip_moves_the_due_date_and_occurrences_preview)
{
    json_t *t = daily("FREQ=DAILY;COUNT=3");
    const char *id = td_test_jstr(t, "id");
    char *occ = td_test_fmt("/api/tasks/%s/occurrences?count=5", id);
    json_t *j = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "GET", occ, NULL, NULL, &j), 200);
    json_t *list = json_object_get(j, "occurrences");
    cr_assert_eq(json_array_size(list), 2, "COUNT=3: two after the first");
    cr_expect_str_eq(json_string_value(json_array_get(list, 0)), "2030-01-08T14:00:00Z");
    cr_expect_str_eq(json_string_value(json_array_get(list, 1)), "2030-01-09T14:00:00Z");
    json_decref(j);
    char *skip = td_test_fmt("/api/tasks/%s/skip", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", skip, NULL, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "due_at"), "2030-01-08T14:00:00Z");
    cr_expect_str_eq(td_test_jstr(j, "status"), "pending");
    json_decref(j);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", skip, NULL, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "due_at"), "2030-01-09T14:00:00Z");
    json_decref(j);
    cr_expect_eq(td_test_api_json(S.port, user.token, "POST", skip, NULL, NULL, NULL), 409,
                 "COUNT=3 exhausted");
    char *bad = td_test_fmt("/api/tasks/%s/occurrences?count=101", id);
    cr_expect_eq(td_test_api_json(S.port, user.token, "GET", bad, NULL, NULL, NULL), 400);
    json_t *plain = td_test_create_task(S.port, user.token, "{\"title\":\"once\"}");
    char *pskip = td_test_fmt("/api/tasks/%s/skip", td_test_jstr(plain, "id"));
    cr_expect_eq(td_test_api_json(S.port, user.token, "POST", pskip, NULL, NULL, NULL), 409);
    free(occ);
    free(skip);
    free(bad);
    free(pskip);
    json_decref(plain);
    json_decref(t);
}

Test(api_recurrence, deleting_the_series_removes_pending_occurrences_and_ends_it)
{
    json_t *t = daily("FREQ=DAILY");
    const char *id = td_test_jstr(t, "id");
    char *path = td_test_fmt("/api/tasks/%s/complete", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s'", id);
    cr_assert_eq(td_test_wait_count(pg, 1, 20000, sql), 1);
    char *next = td_test_pg_queryf(pg, "SELECT id FROM tasks WHERE series_id = '%s'", id);
    char *del = td_test_fmt("/api/tasks/%s?series=true", next);
    cr_assert_eq(td_test_api_json(S.port, user.token, "DELETE", del, NULL, NULL, NULL), 204);
    cr_expect_eq(series_count(id), 0, "the pending occurrence is gone");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 1,
                 "the completed first task stays");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM recurrence_series_ended WHERE series_id = '%s'",
                                 id), 1);
    /* the first task reopened and completed again: the series is over */
    char *reopen = td_test_fmt("/api/tasks/%s/reopen", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", reopen, NULL, NULL, NULL), 200);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    usleep(1500 * 1000);
    cr_expect_eq(series_count(id), 0);
    cr_expect_eq(td_test_api_json(S.port, user.token, "DELETE", del, NULL, NULL, NULL), 404);
    free(sql);
    free(path);
    free(next);
    free(del);
    free(reopen);
    json_decref(t);
}

Test(api_recurrence, a_completion_anchored_task_completed_late_counts_from_the_completion)
{
    /* Due 09:00 New York in 2024, completed now: schedule would give the first 09:00
     * after now; completion gives the completion's local date + 1 day at 09:00. */
    json_t *t = td_test_create_task(S.port, user.token,
                                    "{\"title\":\"water plants\",\"due_at\":\"2024-01-07T14:00:00Z\","
                                    "\"time_zone\":\"America/New_York\",\"recurrence\":\"daily\"}");
    const char *id = td_test_jstr(t, "id");
    char *task = td_test_fmt("/api/tasks/%s", id);
    /* PATCH stores it (create's default was schedule); anything else is a 422 on the field */
    json_t *p = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "PATCH", task,
                                  "{\"recurrence_anchor\":\"whenever\"}", NULL, &p), 422);
    cr_expect(td_test_problem_names(p, "recurrence_anchor"));
    json_decref(p);
    cr_assert_eq(td_test_api_json(S.port, user.token, "PATCH", task,
                                  "{\"recurrence_anchor\":\"completion\"}", NULL, NULL), 200);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND "
                                     "recurrence_anchor = 'completion'", id), 1);
    char *path = td_test_fmt("/api/tasks/%s/complete", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, NULL), 200);
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s'", id);
    cr_assert_eq(td_test_wait_count(pg, 1, 20000, sql), 1, "no next occurrence");
    cr_expect_eq(td_test_pg_long(pg,
        "SELECT count(*) FROM tasks n, tasks f WHERE f.id = '%s' AND n.series_id = f.id AND "
        "n.recurrence_anchor = 'completion' AND n.occurrence_index = 1 AND n.due_at = "
        "((f.completed_at AT TIME ZONE 'America/New_York')::date + 1 + time '09:00') "
        "AT TIME ZONE 'America/New_York'", id), 1, "not the completion date + 1 day at 09:00");
    free(sql);
    free(path);
    free(task);
    json_decref(t);
}

Test(api_recurrence, create_and_put_store_the_anchor)
{
    json_t *t = td_test_create_task(S.port, user.token,
                                    "{\"title\":\"a\",\"recurrence\":\"weekly\","
                                    "\"recurrence_anchor\":\"completion\"}");
    const char *id = td_test_jstr(t, "id");
    cr_expect_str_eq(td_test_jstr(t, "recurrence_anchor"), "completion", "answered");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND "
                                     "recurrence_anchor = 'completion'", id), 1);
    char *task = td_test_fmt("/api/tasks/%s", id);
    /* PUT without it takes the default back */
    cr_assert_eq(td_test_api_json(S.port, user.token, "PUT", task,
                                  "{\"title\":\"a\",\"recurrence\":\"weekly\"}", NULL, NULL), 200);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND "
                                     "recurrence_anchor = 'schedule'", id), 1);
    json_t *p = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", "/api/tasks",
                                  "{\"title\":\"b\",\"recurrence_anchor\":null}", NULL, &p), 422);
    cr_expect(td_test_problem_names(p, "recurrence_anchor"));
    json_decref(p);
    free(task);
    json_decref(t);
}

/* recurrence_exdates through HTTP: answered as stored, honoured by the preview and by
 * skip, carried to the next occurrence the recur role makes on completion, which skips
 * them too; PATCH replaces them; a bad one is a 422 naming it. */
Test(api_recurrence, excluded_dates_are_honoured_by_preview_skip_and_completion)
{
    json_t *t = td_test_create_task(S.port, user.token,
        "{\"title\":\"gym\",\"due_at\":\"2030-01-07T09:00:00\",\"time_zone\":\"America/New_York\","
        "\"recurrence\":\"daily\",\"recurrence_exdates\":[\"2030-01-08\",\"2030-01-10T09:00\"]}");
    const char *id = td_test_jstr(t, "id");
    json_t *ex = td_test_jget(t, "recurrence_exdates");
    cr_assert(json_is_array(ex) && json_array_size(ex) == 2);
    cr_expect_str_eq(json_string_value(json_array_get(ex, 1)), "2030-01-10T09:00:00");
    char *occ = td_test_fmt("/api/tasks/%s/occurrences?count=3", id);
    json_t *j = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "GET", occ, NULL, NULL, &j), 200);
    json_t *list = json_object_get(j, "occurrences");
    cr_assert_eq(json_array_size(list), 3);
    cr_expect_str_eq(json_string_value(json_array_get(list, 0)), "2030-01-09T14:00:00Z");
    cr_expect_str_eq(json_string_value(json_array_get(list, 1)), "2030-01-11T14:00:00Z");
    cr_expect_str_eq(json_string_value(json_array_get(list, 2)), "2030-01-12T14:00:00Z");
    json_decref(j);
    char *skip = td_test_fmt("/api/tasks/%s/skip", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", skip, NULL, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "due_at"), "2030-01-09T14:00:00Z");
    json_decref(j);
    /* completing Jan 9 makes Jan 11 (Jan 10 at 09:00 is out), with the dates carried over */
    char *done = td_test_fmt("/api/tasks/%s/complete", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", done, NULL, NULL, NULL), 200);
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s' AND status = "
                            "'pending'", id);
    cr_assert_eq(td_test_wait_count(pg, 1, 20000, sql), 1, "no next occurrence");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s' AND "
                                     "status = 'pending' AND due_at = '2030-01-11T14:00:00Z' AND "
                                     "recurrence_exdates = '{2030-01-08,2030-01-10T09:00:00}'",
                                 id), 1, "not Jan 11 with the dates carried over");
    /* PATCH replaces them; null empties them */
    char *path = td_test_fmt("/api/tasks/%s", id);
    cr_assert_eq(td_test_api_json(S.port, user.token, "PATCH", path,
                                  "{\"recurrence_exdates\":null}", NULL, &j), 200);
    cr_expect_eq(json_array_size(td_test_jget(j, "recurrence_exdates")), 0);
    json_decref(j);
    /* bad ones: named in a 422 */
    struct td_test_http r;
    cr_assert_eq(td_test_api(S.port, user.token, "PATCH", path,
                             "{\"recurrence_exdates\":[\"2030-01-08T09:00:00Z\"]}", NULL, &r), 422);
    json_t *p = td_test_body_json(&r);
    cr_expect(td_test_problem_names(p, "recurrence_exdates[0]"), "%s", r.body);
    json_decref(p);
    td_test_http_free(&r);
    free(path);
    free(sql);
    free(done);
    free(skip);
    free(occ);
    json_decref(t);
}

/* A rule no month or year matches (libical alone would search until the year 20000) is a
 * quick 422 naming recurrence. */
Test(api_recurrence, a_rule_without_any_occurrence_is_a_quick_422)
{
    struct td_test_http r;
    cr_assert_eq(td_test_api(S.port, user.token, "POST", "/api/tasks",
                             "{\"title\":\"never\",\"recurrence\":"
                             "\"FREQ=MONTHLY;BYSETPOS=5;BYDAY=FR;BYMONTHDAY=31\"}", NULL, &r), 422);
    json_t *p = td_test_body_json(&r);
    cr_expect(td_test_problem_names(p, "recurrence"), "%s", r.body);
    cr_expect(strstr(r.body, "no occurrence within 100 years"), "%s", r.body);
    json_decref(p);
    td_test_http_free(&r);
}

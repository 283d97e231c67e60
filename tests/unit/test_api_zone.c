/* roles/api/zone.c: a date-only due date means midnight in a zone that the body does not
 * name; zone.c looks it up: the user's on create and PUT, the task's on PATCH. The api
 * role runs alone in the test process (tests/support/role_harness.h); users are rows
 * written straight into the shared PostgreSQL with the zone each case needs. */
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

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_zone, .init = start, .fini = stop, .timeout = 60);

/* An account living in zone, with a token signed by the test. */
static void account(struct td_test_user *u, const char *zone)
{
    td_test_user_fake(u);
    free(td_test_pg_queryf(pg, "INSERT INTO users (id, email, time_zone) VALUES ('%s', '%s@zone.test', '%s')",
                           u->id, u->id, zone));
}

static void set_zone(const struct td_test_user *u, const char *zone)
{
    free(td_test_pg_queryf(pg, "UPDATE users SET time_zone = '%s' WHERE id = '%s'", zone, u->id));
}

/* Sends body and expects 2xx with due_at, all_day and time_zone as given; returns the
 * task's id (malloc'd). */
static char *expect_due(const char *token, const char *method, const char *path, const char *body,
                        const char *due_at, int all_day, const char *zone)
{
    json_t *j = NULL;
    int status = td_test_api_json(S.port, token, method, path, body, NULL, &j);
    cr_expect(status == 200 || status == 201, "%s %s: %d", method, body, status);
    const char *got = td_test_jstr(j, "due_at"), *tz = td_test_jstr(j, "time_zone");
    cr_expect_str_eq(got ? got : "(none)", due_at, "%s %s: due_at", method, body);
    cr_expect_eq(json_is_true(json_object_get(j, "all_day")), all_day, "%s %s: all_day", method, body);
    cr_expect_str_eq(tz ? tz : "(none)", zone, "%s %s: time_zone", method, body);
    char *id = strdup(td_test_jstr(j, "id") ? td_test_jstr(j, "id") : "");
    json_decref(j);
    return id;
}

Test(api_zone, create_places_a_bare_date_in_the_users_zone)
{
    struct td_test_user u;
    account(&u, "Pacific/Auckland");
    /* December is summer there (+13), July winter (+12): the offset is the date's. */
    free(expect_due(u.token, "POST", "/api/tasks", "{\"title\":\"a\",\"due_at\":\"2026-12-01\"}",
                    "2026-11-30T11:00:00Z", 1, "Pacific/Auckland"));
    free(expect_due(u.token, "POST", "/api/tasks", "{\"title\":\"b\",\"due_date\":\"2026-07-01\"}",
                    "2026-06-30T12:00:00Z", 1, "Pacific/Auckland"));
    /* A zone in the body wins; a date-time needs no zone. */
    free(expect_due(u.token, "POST", "/api/tasks",
                    "{\"title\":\"c\",\"due_at\":\"2026-12-01\",\"time_zone\":\"Europe/Paris\"}",
                    "2026-11-30T23:00:00Z", 1, "Europe/Paris"));
    free(expect_due(u.token, "POST", "/api/tasks",
                    "{\"title\":\"d\",\"due_at\":\"2026-12-01T09:30:00Z\"}",
                    "2026-12-01T09:30:00Z", 0, "Pacific/Auckland"));
    /* The user's path form looks the zone up the same way. */
    char *path = td_test_fmt("/api/%s/tasks", u.id);
    free(expect_due(u.token, "POST", path, "{\"title\":\"e\",\"due_at\":\"2026-12-01\"}",
                    "2026-11-30T11:00:00Z", 1, "Pacific/Auckland"));
    free(path);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND all_day", u.id), 4);
}

Test(api_zone, users_without_an_account_row_get_utc)
{
    /* A UUID subject with no users row, and an external IdP's subject that is no UUID. */
    struct td_test_user ghost;
    td_test_user_fake(&ghost);
    free(expect_due(ghost.token, "POST", "/api/tasks", "{\"title\":\"a\",\"due_at\":\"2026-12-01\"}",
                    "2026-12-01T00:00:00Z", 1, "UTC"));
    char *token = td_test_jwt("github|4711");
    free(expect_due(token, "POST", "/api/tasks", "{\"title\":\"a\",\"due_at\":\"2026-12-01\"}",
                    "2026-12-01T00:00:00Z", 1, "UTC"));
    free(token);
}

Test(api_zone, patch_keeps_the_tasks_zone_put_takes_the_users)
{
    struct td_test_user u;
    account(&u, "Pacific/Auckland");
    char *id = expect_due(u.token, "POST", "/api/tasks", "{\"title\":\"a\",\"due_at\":\"2026-12-01\"}",
                          "2026-11-30T11:00:00Z", 1, "Pacific/Auckland");
    char *path = td_test_fmt("/api/tasks/%s", id);
    /* The user moves; the task stays where it was made. */
    set_zone(&u, "America/New_York");
    free(expect_due(u.token, "PATCH", path, "{\"due_at\":\"2026-12-05\"}", "2026-12-04T11:00:00Z", 1,
                    "Pacific/Auckland"));
    free(expect_due(u.token, "PATCH", path, "{\"due_at\":\"2026-12-06\",\"time_zone\":\"Asia/Tokyo\"}",
                    "2026-12-05T15:00:00Z", 1, "Asia/Tokyo"));
    /* PATCH reads the zone the task has now, after the change above. */
    free(expect_due(u.token, "PATCH", path, "{\"due_at\":\"2026-12-07\"}", "2026-12-06T15:00:00Z", 1,
                    "Asia/Tokyo"));
    /* PUT replaces the task: like a create, the user's zone (now New York, -5). */
    free(expect_due(u.token, "PUT", path, "{\"title\":\"a\",\"due_at\":\"2026-12-08\"}",
                    "2026-12-08T05:00:00Z", 1, "America/New_York"));
    cr_expect_eq(td_test_pg_long(pg, "SELECT version FROM tasks WHERE id = '%s'", id), 5);
    free(path);
    free(id);
}

Test(api_zone, patch_of_another_users_task_with_a_bare_date_is_404)
{
    struct td_test_user owner, other;
    account(&owner, "Pacific/Auckland");
    account(&other, "Europe/Paris");
    char *id = expect_due(owner.token, "POST", "/api/tasks", "{\"title\":\"a\",\"due_at\":\"2026-12-01\"}",
                          "2026-11-30T11:00:00Z", 1, "Pacific/Auckland");
    char *path = td_test_fmt("/api/tasks/%s", id);
    struct td_test_http r;
    td_test_api(S.port, other.token, "PATCH", path, "{\"due_at\":\"2026-12-05\"}", NULL, &r);
    td_test_expect_problem(&r, 404, "task-not-found", "another user's task");
    td_test_http_free(&r);
    char *due = td_test_pg_queryf(pg, "SELECT to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                                      "|| ' v' || version FROM tasks WHERE id = '%s'", id);
    cr_expect_str_eq(due, "2026-11-30 11:00 v1", "the task is unchanged");
    free(due);
    free(path);
    free(id);
}

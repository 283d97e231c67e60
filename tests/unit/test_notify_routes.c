/* roles/notify/routes.c: the in_app channel over HTTP. The notify role runs alone in the
 * test process; notifications are written by SQL as todod_notify_fire writes them, and a
 * snooze is fired by the role's timer. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_notify;
static const struct td_role *const roles[] = {&td_role_notify};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user, other;
static char task[37], n_old[37], n_new[37], n_other[37];

/* A sent reminder and its notification, created `ago` before now; id gets the
 * notification's id. */
static void notification(const struct td_test_user *u, const char *ago, char id[37])
{
    td_test_uuid(id);
    free(td_test_pg_queryf(pg,
        "WITH r AS (INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, "
        "  offset_minutes, channel, state, fired_at) VALUES ('%s', '%s', 'call mum', "
        "  now() + interval '10 minutes', now() - interval '%s', 10, 'in_app', 'sent', now()) "
        "  RETURNING *) "
        "INSERT INTO notifications (id, user_id, reminder_id, task_id, title, due_at, remind_at, "
        "  created_at) SELECT '%s', user_id, id, task_id, title, due_at, remind_at, "
        "  now() - interval '%s' FROM r", task, u->id, ago, id, ago));
}

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
    td_test_user_fake(&other);
    td_test_uuid(task);
    notification(&user, "2 hours", n_old);
    notification(&user, "1 minute", n_new);
    notification(&other, "1 minute", n_other);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(notify_routes, .init = start, .fini = stop, .timeout = 60);

static json_t *get(const char *path)
{
    json_t *j = NULL;
    int status = td_test_api_json(S.port, user.token, "GET", path, NULL, NULL, &j);
    cr_assert_eq(status, 200, "GET %s: %d", path, status);
    cr_assert_not_null(j);
    return j;
}

/* The ids on a page, in order, each shortened to its first 8 characters. */
static void expect_ids(const char *path, const char *a, const char *b)
{
    json_t *j = get(path), *items = json_object_get(j, "items");
    size_t want = b ? 2 : a ? 1 : 0;
    cr_assert_eq(json_array_size(items), want, "GET %s: %zu items", path, json_array_size(items));
    if (a)
        cr_expect_str_eq(td_test_jstr(json_array_get(items, 0), "id"), a);
    if (b)
        cr_expect_str_eq(td_test_jstr(json_array_get(items, 1), "id"), b);
    json_decref(j);
}

Test(notify_routes, the_callers_notifications_newest_first_and_the_unread_filter)
{
    expect_ids("/api/notifications", n_new, n_old);
    json_t *j = get("/api/notifications?limit=1");
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    cr_assert_not_null(it);
    cr_expect_str_eq(td_test_jstr(it, "task_id"), task);
    cr_expect_str_eq(td_test_jstr(it, "title"), "call mum");
    cr_expect_str_eq(td_test_jstr(it, "channel"), "in_app");
    cr_expect(json_is_false(json_object_get(it, "read")));
    cr_expect(json_is_null(json_object_get(it, "read_at")));
    json_decref(j);
    char *path = td_test_fmt("/api/notifications/%s/read", n_new);
    json_t *r = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, NULL, NULL, &r), 200);
    cr_expect(json_is_true(json_object_get(r, "read")));
    json_decref(r);
    expect_ids("/api/notifications?unread=true", n_old, NULL);
    expect_ids("/api/notifications?unread=false", n_new, n_old);
    free(path);
    struct td_test_http h;
    td_test_api(S.port, user.token, "GET", "/api/notifications?unread=maybe", NULL, NULL, &h);
    td_test_expect_problem(&h, 400, "invalid-query", "unread=maybe");
    td_test_http_free(&h);
    td_test_api(S.port, NULL, "GET", "/api/notifications", NULL, NULL, &h);
    cr_expect_eq(h.status, 401);
    td_test_http_free(&h);
}

Test(notify_routes, another_users_notification_and_a_bad_id_are_not_found)
{
    struct td_test_http h;
    char *path = td_test_fmt("/api/notifications/%s/read", n_other);
    td_test_api(S.port, user.token, "POST", path, NULL, NULL, &h);
    td_test_expect_problem(&h, 404, "notification-not-found", "another user's");
    td_test_http_free(&h);
    td_test_api(S.port, user.token, "POST", "/api/notifications/nope/read", NULL, NULL, &h);
    td_test_expect_problem(&h, 404, "notification-not-found", "not a UUID");
    td_test_http_free(&h);
    free(path);
    path = td_test_fmt("/api/notifications/%s/snooze", n_other);
    td_test_api(S.port, user.token, "POST", path, "{\"until\":\"2099-01-01T00:00:00Z\"}", NULL, &h);
    td_test_expect_problem(&h, 404, "notification-not-found", "snooze of another user's");
    td_test_http_free(&h);
    free(path);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE id = '%s' AND "
                                     "read_at IS NULL", n_other), 1);
}

Test(notify_routes, snooze_reschedules_the_reminder_and_the_timer_fires_it)
{
    struct td_test_http h;
    char *path = td_test_fmt("/api/notifications/%s/snooze", n_old);
    td_test_api(S.port, user.token, "POST", path, "{\"until\":\"2001-01-01T00:00:00Z\"}", NULL, &h);
    td_test_expect_problem(&h, 422, "validation-failed", "until in the past");
    td_test_http_free(&h);
    td_test_api(S.port, user.token, "POST", path, "{\"until\":\"soon\"}", NULL, &h);
    td_test_expect_problem(&h, 422, "validation-failed", "until not a date-time");
    td_test_http_free(&h);
    td_test_api(S.port, user.token, "POST", path, "[", NULL, &h);
    td_test_expect_problem(&h, 400, "malformed-json", "not JSON");
    td_test_http_free(&h);
    char until[32];
    time_t t = time(NULL) + 2;
    strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    char *body = td_test_fmt("{\"until\":\"%s\"}", until);
    json_t *r = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", path, body, NULL, &r), 200);
    cr_expect_str_eq(td_test_jstr(r, "remind_at"), until);
    cr_expect_str_eq(td_test_jstr(r, "state"), "scheduled");
    char rid[37];
    snprintf(rid, sizeof rid, "%s", td_test_jstr(r, "reminder_id"));
    json_decref(r);
    char *sql = td_test_fmt("SELECT count(*) FROM notifications WHERE reminder_id = '%s'", rid);
    cr_assert_eq(td_test_wait_count(pg, 1, 10000, sql), 1, "the snoozed reminder did not fire");
    long late_ms = td_test_pg_long(pg,
        "SELECT (extract(epoch FROM fired_at - remind_at) * 1000)::bigint FROM reminders "
        "WHERE id = '%s' AND state = 'sent'", rid);
    cr_expect(late_ms >= 0 && late_ms < 1000, "fired %ld ms after its instant", late_ms);
    /* the snoozed one is read; the new notification of its reminder is unread, newest */
    char *fresh = td_test_pg_queryf(pg, "SELECT id FROM notifications WHERE reminder_id = '%s'", rid);
    expect_ids("/api/notifications?unread=true", fresh, n_new);
    free(fresh);
    free(sql);
    free(body);
    free(path);
}

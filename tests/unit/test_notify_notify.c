/* roles/notify/notify.c: task events become reminder rows exactly once, and the timer
 * fires each at its instant, once, also across two notify instances and after a stop.
 * The notify role runs alone in the test process (tests/support/role_harness.h) with its
 * relay publishing on the local bus; tasks and their events are written by SQL as the
 * api's statements write them. Reminders are a second or two ahead on the real clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roles/notify/notify.h"
#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_notify;
static const struct td_role *const roles[] = {&td_role_notify};

static struct td_test_roles S, S2;
static struct td_test_pg *pg;
static char user[24];

static void start(void)
{
    pg = td_test_roles_pg();
    char id[37];
    td_test_uuid(id);
    snprintf(user, sizeof user, "nt%.8s", id);
    td_test_roles_start(&S, roles, 1, 0);
}

static void stop(void)
{
    td_test_roles_stop(&S2);
    td_test_roles_stop(&S);
}

TestSuite(notify, .init = start, .fini = stop, .timeout = 60);

/* Writes the task's event as the api does and wakes the relay; returns the event id. */
static char *emit(const char *id, const char *kind, const char *set)
{
    char *ev = td_test_pg_queryf(pg,
        "WITH u AS (UPDATE tasks SET %s version = version + 1 WHERE id = '%s' RETURNING *) "
        "SELECT todod_emit(u, '%s', NULL) FROM u", set ? set : "", id, kind);
    cr_assert(ev, "no %s event for %s", kind, id);
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
    return ev;
}

/* A pending task due at the SQL expression due with the reminders given, and its created
 * event; returns the task id (static buffer) and the event id in *ev (malloc'd). */
static const char *new_task(const char *due, const char *reminders, char **ev)
{
    static char id[37];
    td_test_uuid(id);
    *ev = td_test_pg_queryf(pg,
        "WITH t AS (INSERT INTO tasks (id, user_id, title, due_at, reminders) "
        "  VALUES ('%s', '%s', 'call mum', %s, '%s') RETURNING *) "
        "SELECT todod_emit(t, 'created', NULL) FROM t", id, user, due, reminders);
    cr_assert(*ev, "no created event");
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
    return id;
}

static long processed(const char *event_id)
{
    char *sql = td_test_fmt("SELECT count(*) FROM inbox WHERE consumer_group = 'todod-notify' "
                            "AND event_id = '%s'", event_id);
    long n = td_test_wait_count(pg, 1, 20000, sql);
    free(sql);
    return n;
}

static long in_state(const char *task, const char *state)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM reminders WHERE task_id = '%s' AND state = '%s'",
                           task, state);
}

static long wait_state(const char *task, const char *state, long want, int ms)
{
    char *sql = td_test_fmt("SELECT count(*) FROM reminders WHERE task_id = '%s' AND state = '%s'",
                            task, state);
    long n = td_test_wait_count(pg, want, ms, sql);
    free(sql);
    return n;
}

Test(notify, a_reminder_fires_once_within_a_second_of_its_instant)
{
    char *ev, id[37];
    snprintf(id, sizeof id, "%s", new_task("now() + interval '2 seconds'",
                                           "[{\"offset\":\"PT1S\",\"channel\":\"in_app\"}]", &ev));
    cr_assert_eq(processed(ev), 1);
    cr_assert_eq(wait_state(id, "sent", 1, 10000), 1, "the reminder did not fire");
    /* lateness: when it fired against its instant (the event carries due to the second) */
    long late_ms = td_test_pg_long(pg,
        "SELECT (extract(epoch FROM fired_at - remind_at) * 1000)::bigint FROM reminders "
        "WHERE task_id = '%s'", id);
    cr_expect_geq(late_ms, 0, "fired %ld ms early", -late_ms);
    cr_expect_lt(late_ms, 1000, "fired %ld ms after its instant", late_ms);
    long now_late = td_test_pg_long(pg,
        "SELECT (extract(epoch FROM clock_timestamp() - remind_at) * 1000)::bigint FROM reminders "
        "WHERE task_id = '%s'", id);
    cr_expect_lt(now_late - late_ms, 3000);   /* fired_at is the real clock, not a made-up one */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminders WHERE task_id = '%s' AND "
                                     "late", id), 0);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE task_id = '%s' "
                                     "AND user_id = '%s' AND read_at IS NULL", id, user), 1);
    char *data = td_test_pg_queryf(pg,
        "SELECT concat_ws('|', o.topic, o.key, o.event->>'type', o.event->'data'->>'event_type', "
        "  o.event->'data'->>'notification_type', o.event->'data'->>'title') FROM outbox o "
        "JOIN reminders r ON r.event_id = o.event_id WHERE r.task_id = '%s'", id);
    char want[200];
    snprintf(want, sizeof want, "reminders|%s|todo.reminder.due|reminder_triggered|in_app|call mum", user);
    cr_expect_str_eq(data, want);
    free(data);
    /* once: a second look finds nothing more to fire */
    usleep(500 * 1000);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE task_id = '%s'", id), 1);
    free(ev);
}

Test(notify, an_update_moves_the_reminder_and_it_fires_at_the_new_instant)
{
    char *ev, id[37];
    snprintf(id, sizeof id, "%s", new_task("now() + interval '1 hour'",
                                           "[{\"offset\":\"PT15M\",\"channel\":\"in_app\"}]", &ev));
    cr_assert_eq(processed(ev), 1);
    cr_assert_eq(in_state(id, "scheduled"), 1);
    char *up = emit(id, "updated", "due_at = now() + interval '2 seconds', "
                                   "reminders = '[{\"offset\":\"PT1S\"}]',");
    cr_assert_eq(processed(up), 1);
    cr_expect_eq(in_state(id, "cancelled"), 1, "the old instant was not replaced");
    cr_expect_eq(wait_state(id, "sent", 1, 10000), 1, "the moved reminder did not fire");
    long late_ms = td_test_pg_long(pg,
        "SELECT (extract(epoch FROM fired_at - remind_at) * 1000)::bigint FROM reminders "
        "WHERE task_id = '%s' AND state = 'sent'", id);
    cr_expect(late_ms >= 0 && late_ms < 1000, "fired %ld ms after its instant", late_ms);
    free(ev);
    free(up);
}

Test(notify, completion_and_deletion_cancel_and_redelivery_schedules_once)
{
    char *ev, a[37], b[37];
    snprintf(a, sizeof a, "%s", new_task("now() + interval '1 hour'",
             "[{\"offset\":\"PT15M\"},{\"offset\":\"PT1M\",\"channel\":\"in_app\"}]", &ev));
    cr_assert_eq(processed(ev), 1);
    /* the same event again, as a broker redelivers it (same CloudEvents id) */
    free(td_test_pg_queryf(pg,
        "INSERT INTO outbox (event_id, topic, key, event) SELECT gen_random_uuid(), topic, key, event "
        "FROM outbox WHERE event_id = '%s'", ev));
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
    char *sql = td_test_fmt("SELECT (count(*) = 0)::int FROM outbox WHERE key = '%s' "
                            "AND published_at IS NULL", user);
    cr_assert_eq(td_test_wait_count(pg, 1, 10000, sql), 1, "the copy was not delivered");
    usleep(300 * 1000);
    cr_expect_eq(in_state(a, "scheduled"), 2, "redelivery scheduled again");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminders WHERE task_id = '%s'", a), 2);
    char *done = emit(a, "completed", "status = 'completed', completed_at = now(),");
    cr_assert_eq(processed(done), 1);
    cr_expect_eq(in_state(a, "scheduled"), 0);
    cr_expect_eq(in_state(a, "cancelled"), 2);
    char *ev2;
    snprintf(b, sizeof b, "%s", new_task("now() + interval '1 hour'", "[{\"offset\":\"PT5M\"}]", &ev2));
    cr_assert_eq(processed(ev2), 1);
    cr_expect_eq(in_state(b, "scheduled"), 1);
    char *del = emit(b, "deleted", NULL);
    cr_assert_eq(processed(del), 1);
    cr_expect_eq(in_state(b, "cancelled"), 1);
    free(sql);
    free(ev);
    free(ev2);
    free(done);
    free(del);
}

/* Rows whose instant passed while no notify ran: as written by todod_notify_schedule. */
static void past_rows(const char *task, int n, const char *ago)
{
    free(td_test_pg_queryf(pg,
        "INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, channel) "
        "SELECT '%s', '%s', 'call mum', now(), now() - interval '%s', 'in_app' "
        "FROM generate_series(1, %d)", task, user, ago, n));
}

Test(notify, after_a_stop_passed_reminders_fire_once_late_or_are_missed)
{
    char late[37], old[37];
    td_test_uuid(late);
    td_test_uuid(old);
    td_test_roles_stop(&S);
    past_rows(late, 1, "1 minute");
    past_rows(old, 1, "2 days");
    td_test_roles_start(&S, roles, 1, 0);
    cr_assert_eq(wait_state(late, "sent", 1, 10000), 1, "the passed reminder did not fire");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminders WHERE task_id = '%s' AND late",
                                 late), 1, "not marked late");
    cr_expect_eq(wait_state(old, "missed", 1, 10000), 1, "older than the horizon, not missed");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE task_id = '%s'",
                                 old), 0);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE task_id = '%s'",
                                 late), 1);
}

Test(notify, two_instances_never_fire_one_reminder_twice)
{
    char task[37];
    td_test_uuid(task);
    td_test_roles_stop(&S);
    past_rows(task, 300, "10 seconds");
    td_test_roles_config(&S, roles, 1, 0);
    td_test_roles_config(&S2, roles, 1, 0);
    td_test_roles_run(&S);
    td_test_roles_run(&S2);
    cr_assert_eq(wait_state(task, "sent", 300, 20000), 300, "not every reminder fired");
    /* and a third claimant, the statement itself, finds nothing left */
    char *left = td_test_pg_query(pg, "SELECT todod_notify_fire(now(), '1 day', '5 s', 1000)");
    cr_expect(left && strncmp(left, "0|", 2) == 0, "fired again: %s", left ? left : "(null)");
    free(left);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM notifications WHERE task_id = '%s'",
                                 task), 300);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(DISTINCT reminder_id) FROM notifications "
                                     "WHERE task_id = '%s'", task), 300);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE topic = 'reminders' AND "
                                     "event->>'subject' = '%s' AND "
                                     "event->'data'->>'event_type' = 'reminder_triggered'", task), 300);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE topic = 'reminders' AND "
                                     "event->>'subject' = '%s' AND "
                                     "event->'data'->>'event_type' = 'reminder_sent'", task), 300,
                 "in_app: one reminder_sent each");
}

Test(notify, other_channels_are_recorded_as_not_configured)
{
    /* sms and push at once; webhook and email when they fire: this user (a subject of an
     * external IdP) has no webhook URL, and no --smtp-url is set */
    char *ev, id[37];
    snprintf(id, sizeof id, "%s", new_task("now() + interval '4 seconds'",
             "[{\"offset\":\"PT1S\",\"channel\":\"sms\"},{\"offset\":\"PT1S\",\"channel\":\"push\"},"
             "{\"offset\":\"PT1S\",\"channel\":\"email\"},{\"offset\":\"PT1S\",\"channel\":\"webhook\"}]",
             &ev));
    cr_assert_eq(processed(ev), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminders WHERE task_id = '%s' AND "
                                     "state = 'failed' AND error = 'channel not configured'", id), 2);
    char *st = td_test_pg_queryf(pg, "SELECT string_agg(channel || ' ' || state || ' at ' || "
                                     "remind_at::text, ', ') FROM reminders WHERE task_id = '%s'", id);
    cr_expect_eq(in_state(id, "scheduled"), 2, "rows: %s", st);
    free(st);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE event->>'subject' = '%s' "
                                     "AND event->'data'->>'event_type' = 'reminder_scheduled'", id), 2,
                 "one reminder_scheduled per scheduled row");
    cr_assert_eq(wait_state(id, "failed", 4, 10000), 4, "webhook and email did not fail");
    char *errs = td_test_pg_queryf(pg, "SELECT string_agg(channel || ': ' || error, '; ' ORDER BY channel) "
                                       "FROM reminders WHERE task_id = '%s' AND channel IN ('email', 'webhook')", id);
    cr_expect_str_eq(errs, "email: channel not configured: email needs --smtp-url; "
                           "webhook: channel not configured: the user has no webhook_url");
    free(errs);
    free(ev);
}

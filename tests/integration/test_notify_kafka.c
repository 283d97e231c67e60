/* The notify role as real processes on Kafka (the librdkafka mock cluster in another
 * process): two `todod notify` replicas in one consumer group beside one `todod api`
 * (which writes and relays), on one PostgreSQL, on the real clock.
 *
 * Many tasks whose reminders fall due within a few seconds: each reminder fires exactly
 * once (one sent row, one in_app notification, one todo.reminder.due event per reminder
 * id and instant) and on time, although both replicas race for them. Then both replicas
 * die by SIGKILL with reminders due during the downtime: the one started again fires the
 * missed ones once, marked late, and records those older than --reminder-horizon as
 * missed, firing nothing for them. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/kafka_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_kafka kafka;
static struct td_test_proc api, notify[2];

static void spawn(struct td_test_proc *p, const char *role, const char *horizon)
{
    const char *argv[] = {role, "--database-url", pg.conninfo, "--migrate", "--bus", "kafka",
                          "--kafka-brokers", kafka.bootstraps, "--consumer-max-attempts", "3",
                          "--rate-limit-user", "0", "--rate-limit-addr", "0",
                          horizon ? "--reminder-horizon" : NULL, horizon, NULL};
    td_test_spawn(p, argv, NULL);
}

static void start(void)
{
    td_test_pg_start(&pg);
    const char *topics[] = {"task-events:6", "task-events.dlq:1", "reminders:6",
                            "task-updates:6", NULL};
    td_test_kafka_start(&kafka, topics);
    spawn(&api, "api", NULL);
    spawn(&notify[0], "notify", NULL);
    spawn(&notify[1], "notify", NULL);
}

static void stop(void)
{
    td_test_stop_running(&notify[0]);
    td_test_stop_running(&notify[1]);
    td_test_stop_running(&api);
    td_test_kafka_stop(&kafka);
    td_test_pg_destroy(&pg);
}

TestSuite(notify_kafka, .init = start, .fini = stop, .timeout = 300);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d > 0)
        usleep((useconds_t)(d * 1e6));
}

/* Creates n tasks titled `title` for u, task i with one in_app reminder at
 * at0 + i * step_ms (whole seconds are what the API keeps: the instants are rounded). */
static void create_tasks(const struct td_test_user *u, const char *title, int n, long long at0,
                         int step_ms)
{
    for (int i = 0; i < n; i++) {
        long long at = at0 + (long long)i * step_ms / 1000;
        struct tm tm;
        time_t tt = (time_t)at;
        gmtime_r(&tt, &tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char *body = td_test_fmt("{\"title\":\"%s %d\",\"due_at\":\"%s\",\"reminders\":"
                                 "[{\"at\":\"%s\",\"channel\":\"in_app\"}]}",
                                 title, i, when, when);
        json_decref(td_test_create_task(api.port, u->token, body));
        free(body);
    }
}

/* Waits until n reminder rows of the tasks titled `title ...` are in state. */
static long in_state(const char *title, const char *state, long n, int timeout_ms)
{
    char *sql = td_test_fmt("SELECT count(*) FROM reminders WHERE title LIKE '%s %%' AND "
                            "state = '%s'", title, state);
    long got = td_test_wait_count(&pg, n, timeout_ms, sql);
    free(sql);
    return got;
}

/* Reminder ids and instants (of the tasks titled `title ...`) with more than one
 * todo.reminder.due event in the outbox, or with more than one notification. */
static long duplicates(const char *title)
{
    return td_test_pg_long(&pg,
        "SELECT (SELECT count(*) FROM (SELECT o.event->'data'->>'reminder_id', "
        "          o.event->'data'->>'remind_at' FROM outbox o "
        "         WHERE o.topic = 'reminders' AND o.event->>'type' = 'todo.reminder.due' "
        "           AND o.event->'data'->>'title' LIKE '%s %%' "
        "         GROUP BY 1, 2 HAVING count(*) > 1) d) + "
        "       (SELECT count(*) FROM (SELECT reminder_id, remind_at FROM notifications "
        "         WHERE title LIKE '%s %%' GROUP BY 1, 2 HAVING count(*) > 1) d)",
        title, title);
}

static long due_events(const char *title)
{
    return td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE topic = 'reminders' AND "
                                "event->>'type' = 'todo.reminder.due' AND "
                                "event->'data'->>'title' LIKE '%s %%'", title);
}

static long notifications(const char *title, const char *where)
{
    return td_test_pg_long(&pg, "SELECT count(*) FROM notifications WHERE title LIKE '%s %%' %s",
                           title, where);
}

/* The consumer group's first join takes a few seconds on Kafka: one task whose reminder
 * row appears says both the api's relay and a notify consumer run. */
static void warm_up(const struct td_test_user *u, const char *title)
{
    create_tasks(u, title, 1, (long long)now_s() + 3600, 0);
    cr_assert_eq(in_state(title, "scheduled", 1, 60000), 1, "notify never scheduled");
}

#define RACE_TASKS 240

Test(notify_kafka, two_replicas_fire_each_reminder_once_and_on_time)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    warm_up(&u, "warm-up-race");
    /* due from 12 s on, spread over 4 s (60 a second, several per instant): time enough to
     * create them all and for both consumers to schedule them first */
    long long at0 = (long long)now_s() + 12;
    create_tasks(&u, "race", RACE_TASKS, at0, 4000 / RACE_TASKS);
    cr_assert_eq(in_state("race", "scheduled", RACE_TASKS, 30000), RACE_TASKS,
                 "not every reminder was scheduled");
    cr_assert(now_s() < (double)at0, "creating the tasks took too long for this test");
    cr_assert_eq(in_state("race", "sent", RACE_TASKS, 30000), RACE_TASKS,
                 "not every reminder fired");
    usleep(1000 * 1000);   /* nothing fires late a second time */
    cr_expect_eq(in_state("race", "sent", RACE_TASKS, 0), RACE_TASKS);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM reminders WHERE title LIKE 'race %%'"),
                 RACE_TASKS, "a reminder row too many");
    cr_expect_eq(notifications("race", ""), RACE_TASKS);
    cr_expect_eq(due_events("race"), RACE_TASKS);
    cr_expect_eq(duplicates("race"), 0, "a reminder fired twice");
    cr_expect_eq(notifications("race", "AND late"), 0, "marked late");
    /* on time: from the instant to the notification's row (written in the firing
     * transaction), under the sanitizers on a shared machine */
    char *lateness = td_test_pg_queryf(&pg,
        "SELECT format('p50 %%s ms, p99 %%s ms, max %%s ms', "
        "  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric), "
        "  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric), round(max(ms)::numeric)) "
        "FROM (SELECT extract(epoch FROM created_at - remind_at) * 1000 AS ms FROM notifications "
        "WHERE title LIKE 'race %%') x");
    fprintf(stderr, "notify_kafka: lateness of %d reminders on two replicas: %s\n", RACE_TASKS,
            lateness ? lateness : "?");
    free(lateness);
    cr_expect_eq(notifications("race", "AND created_at < remind_at"), 0, "fired early");
    cr_expect_eq(notifications("race", "AND created_at > remind_at + interval '2.5 s'"), 0,
                 "fired more than 2.5 s late");
    /* and the reminders topic carries them (the api relays nothing of notify's: each
     * notify's own relay publishes what its transaction wrote) */
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE topic = 'reminders' AND "
                                      "event->'data'->>'title' LIKE 'race %%' AND published_at "
                                      "IS NULL"),
                 0, "reminder events left unpublished");
}

Test(notify_kafka, after_kill_9_missed_reminders_fire_once_late_or_are_recorded_missed)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    warm_up(&u, "warm-up-kill");
    /* "old" fall due 2 s after the kill, "late" 16 s after; notify is back 24 s after the
     * kill with a 20 s horizon: "old" are 22 s or more behind (missed), "late" 8 s or
     * more, under the horizon and over the 5 s after which a reminder is late. */
    double kill_at = now_s() + 8;
    create_tasks(&u, "old", 20, (long long)kill_at + 2, 50);
    create_tasks(&u, "late", 20, (long long)kill_at + 16, 50);
    cr_assert_eq(in_state("old", "scheduled", 20, 30000), 20);
    cr_assert_eq(in_state("late", "scheduled", 20, 30000), 20);
    sleep_until(kill_at);
    cr_assert(now_s() < kill_at + 1.5, "creating the tasks took too long for this test");
    cr_assert_eq(td_test_stop(&notify[0], SIGKILL, 5000), 128 + SIGKILL);
    cr_assert_eq(td_test_stop(&notify[1], SIGKILL, 5000), 128 + SIGKILL);
    sleep_until(kill_at + 24);
    cr_expect_eq(in_state("old", "scheduled", 20, 0), 20, "fired while no notify ran");
    cr_expect_eq(in_state("late", "scheduled", 20, 0), 20, "fired while no notify ran");
    spawn(&notify[0], "notify", "20s");
    cr_assert_eq(in_state("late", "sent", 20, 20000), 20, "the missed reminders did not fire");
    cr_assert_eq(in_state("old", "missed", 20, 20000), 20,
                 "older than the horizon, not recorded as missed");
    usleep(1000 * 1000);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM reminders WHERE title LIKE 'late %%' "
                                      "AND state = 'sent' AND late"), 20, "not marked late");
    cr_expect_eq(notifications("late", ""), 20);
    cr_expect_eq(notifications("late", "AND late"), 20);
    cr_expect_eq(due_events("late"), 20);
    cr_expect_eq(duplicates("late"), 0, "a reminder fired twice");
    cr_expect_eq(notifications("old", ""), 0, "a missed reminder was notified");
    cr_expect_eq(due_events("old"), 0, "a missed reminder has a due event");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM reminders WHERE title LIKE 'old %%' "
                                      "AND state = 'missed' AND error IS NOT NULL"), 20);
    /* the second replica comes back as well: it finds nothing left to fire */
    spawn(&notify[1], "notify", NULL);
    usleep(1000 * 1000);
    cr_expect_eq(notifications("late", ""), 20);
    cr_expect_eq(duplicates("late"), 0);
    cr_expect_eq(notifications("old", ""), 0);
}

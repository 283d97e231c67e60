/* roles/recur/recur.c: a completed recurring task gets its next occurrence exactly once.
 * The recur role runs alone in the test process (tests/support/role_harness.h) with its
 * outbox relay publishing on the local bus; tasks and their events are written by SQL as
 * the api's statements write them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles/recur/recur.h"
#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_recur;
static const struct td_role *const roles[] = {&td_role_recur};

static struct td_test_roles S;
static struct td_test_pg *pg;
static char user[24];

static void start(void)
{
    pg = td_test_roles_pg();
    char id[37];
    td_test_uuid(id);
    snprintf(user, sizeof user, "rc%.8s", id);
    td_test_roles_start(&S, roles, 1, 0);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(recur, .init = start, .fini = stop, .timeout = 60);

/* A pending task of the test's user; returns its id (static buffer). */
static const char *new_task(const char *rrule, const char *due)
{
    static char id[37];
    td_test_uuid(id);
    free(td_test_pg_queryf(pg,
        "INSERT INTO tasks (id, user_id, title, description, priority, tags, due_at, time_zone, "
        "  recurrence, reminders) VALUES ('%s', '%s', 'water plants', 'the ferns', 3, "
        "  '{home,green}', '%s', 'America/New_York', '%s', '[{\"offset\":\"PT15M\",\"channel\":\"in_app\"}]')",
        id, user, due, rrule));
    return id;
}

/* Completes the task (as POST /complete does) and publishes its event; returns the
 * event id (malloc'd). */
static char *complete(const char *id)
{
    char *ev = td_test_pg_queryf(pg,
        "WITH u AS (UPDATE tasks SET status = 'completed', completed_at = '%s', "
        "  version = version + 1 WHERE id = '%s' RETURNING *) "
        "SELECT todod_emit(u, 'completed', NULL) FROM u",
        "2026-01-05T15:00:00Z", id);
    cr_assert(ev, "no completed event for %s", id);
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
    return ev;
}

/* 1 once every outbox row of the test's user is published (delivered and handled). */
static long all_published(void)
{
    char *sql = td_test_fmt("SELECT (count(*) = 0)::int FROM outbox WHERE key = '%s' "
                            "AND published_at IS NULL", user);
    long n = td_test_wait_count(pg, 1, 10000, sql);
    free(sql);
    return n;
}

static long processed(const char *event_id)
{
    char *sql = td_test_fmt("SELECT count(*) FROM inbox WHERE consumer_group = 'todod-recur' "
                            "AND event_id = '%s'", event_id);
    long n = td_test_wait_count(pg, 1, 20000, sql);
    free(sql);
    return n;
}

static long occurrences(const char *series)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s'", series);
}

Test(recur, a_completed_daily_task_gets_one_next_occurrence_the_next_day)
{
    char first[37];
    snprintf(first, sizeof first, "%s", new_task("FREQ=DAILY", "2026-01-05T14:00:00Z"));
    char *ev = complete(first);
    cr_assert_eq(processed(ev), 1, "the completed event was not consumed");
    cr_assert_eq(occurrences(first), 1);
    char *row = td_test_pg_queryf(pg,
        "SELECT concat_ws('|', todod_ts(due_at), title, description, priority, tags::text, "
        "  reminders::text, occurrence_index, todod_ts(series_start), status, recurrence, "
        "  time_zone, recurrence_anchor) FROM tasks WHERE series_id = '%s'", first);
    cr_expect_str_eq(row, "2026-01-06T14:00:00Z|water plants|the ferns|3|{home,green}|"
                          "[{\"offset\": \"PT15M\", \"channel\": \"in_app\"}]|1|"
                          "2026-01-05T14:00:00Z|pending|FREQ=DAILY|America/New_York|schedule");
    free(row);
    /* the new task was written with its own created event */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox o JOIN tasks t ON "
                                     "o.event->>'subject' = t.id::text WHERE t.series_id = '%s' "
                                     "AND o.event->>'type' = 'todo.task.created' AND o.topic = 'task-events'",
                                 first), 1);
    free(ev);
}

Test(recur, redelivery_and_a_second_completion_create_nothing_more)
{
    char first[37];
    snprintf(first, sizeof first, "%s", new_task("FREQ=DAILY", "2026-01-05T14:00:00Z"));
    char *ev = complete(first);
    cr_assert_eq(processed(ev), 1);
    /* the same event again, as a broker redelivers it (same CloudEvents id) */
    free(td_test_pg_queryf(pg,
        "INSERT INTO outbox (event_id, topic, key, event) SELECT gen_random_uuid(), topic, key, event "
        "FROM outbox WHERE event_id = '%s'", ev));
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
    /* reopened and completed again: a new event of the same occurrence */
    free(td_test_pg_queryf(pg, "UPDATE tasks SET status = 'pending', completed_at = NULL WHERE id = '%s'",
                           first));
    char *again = complete(first);
    cr_assert_eq(processed(again), 1, "the second completion was not consumed");
    cr_expect_eq(all_published(), 1, "the copy was not delivered");
    cr_expect_eq(occurrences(first), 1, "an occurrence created twice");
    free(ev);
    free(again);
}

Test(recur, count_exhausted_ends_the_series)
{
    char first[37];
    snprintf(first, sizeof first, "%s", new_task("FREQ=DAILY;COUNT=2", "2026-01-05T14:00:00Z"));
    char *ev = complete(first);
    cr_assert_eq(processed(ev), 1);
    cr_assert_eq(occurrences(first), 1);
    char *second = td_test_pg_queryf(pg, "SELECT id FROM tasks WHERE series_id = '%s'", first);
    char *ev2 = complete(second);
    cr_assert_eq(processed(ev2), 1, "the second completion was not consumed");
    cr_expect_eq(occurrences(first), 1, "COUNT=2 has no third occurrence");
    free(ev);
    free(ev2);
    free(second);
}

Test(recur, count_ends_a_completion_anchored_series_after_its_third)
{
    char first[37];
    snprintf(first, sizeof first, "%s", new_task("FREQ=DAILY;COUNT=3", "2026-01-05T14:00:00Z"));
    free(td_test_pg_queryf(pg, "UPDATE tasks SET recurrence_anchor = 'completion' WHERE id = '%s'",
                           first));
    char *id = strdup(first);
    for (int i = 1; i <= 3; i++) {
        char *ev = complete(id);
        cr_assert_eq(processed(ev), 1, "completion %d was not consumed", i);
        free(ev);
        free(id);
        cr_assert_eq(occurrences(first), i < 3 ? i : 2, "after completion %d", i);
        id = td_test_pg_queryf(pg, "SELECT coalesce((SELECT id::text FROM tasks WHERE series_id = "
                                   "'%s' AND occurrence_index = %d), '')", first, i);
        if (i < 3)
            cr_assert(strlen(id) == 36, "no occurrence %d", i);
    }
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s' AND "
                                     "recurrence_anchor = 'completion'", first), 2,
                 "the occurrences keep the anchor");
    free(id);
}

Test(recur, an_ended_series_and_a_task_without_recurrence_get_nothing)
{
    char first[37];
    snprintf(first, sizeof first, "%s", new_task("FREQ=WEEKLY", "2026-01-05T14:00:00Z"));
    free(td_test_pg_queryf(pg, "INSERT INTO recurrence_series_ended (series_id, user_id) "
                               "VALUES ('%s', '%s')", first, user));
    char *ev = complete(first);
    cr_assert_eq(processed(ev), 1);
    cr_expect_eq(occurrences(first), 0);
    char plain[37];
    td_test_uuid(plain);
    free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, title) VALUES ('%s', '%s', 'once')",
                           plain, user));
    char *ev2 = complete(plain);
    cr_expect_eq(all_published(), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE series_id = '%s'", plain), 0);
    free(ev);
    free(ev2);
}

Test(recur, decide_reads_the_event)
{
    json_t *root;
    long long next;
    char why[300];
    cr_expect_eq(recur_decide("nope", 4, &root, &next, why, sizeof why), RECUR_BAD);
    cr_expect_null(root);
    const char *upd = "{\"id\":\"x\",\"type\":\"todo.task.updated\",\"data\":{\"event_type\":\"updated\"}}";
    cr_expect_eq(recur_decide(upd, strlen(upd), &root, &next, why, sizeof why), RECUR_IGNORE);
    json_decref(root);
    const char *bad = "{\"id\":\"1\",\"type\":\"todo.task.completed\",\"data\":{\"task_data\":"
                      "{\"recurrence\":\"FREQ=DAILY\",\"time_zone\":\"UTC\"}}}";
    cr_expect_eq(recur_decide(bad, strlen(bad), &root, &next, why, sizeof why), RECUR_BAD);
    json_decref(root);
    const char *ok = "{\"id\":\"1\",\"type\":\"todo.task.completed\",\"data\":{\"task_data\":"
                     "{\"recurrence\":\"FREQ=DAILY;COUNT=1\",\"time_zone\":\"UTC\",\"due_date\":"
                     "\"2026-01-05T09:00:00Z\",\"completed_at\":\"2026-01-05T10:00:00Z\","
                     "\"series\":{\"start\":\"2026-01-05T09:00:00Z\"}}}}";
    cr_expect_eq(recur_decide(ok, strlen(ok), &root, &next, why, sizeof why), RECUR_EXHAUSTED);
    json_decref(root);
}

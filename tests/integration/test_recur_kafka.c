/* The recur role as real processes on Kafka (the librdkafka mock cluster in another
 * process): two `todod recur` replicas in one consumer group beside one `todod api` (which
 * writes and relays). A completed daily task gets exactly one next occurrence, also when
 * it is completed twice in a row and when a reopen and a second completion send a second
 * completed event; the next occurrence's own completion carries the series on. Completed
 * events published again on the broker (a redelivery) make nothing more. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/kafka_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_kafka kafka;
static struct td_test_proc api, recur[2];

static void spawn(struct td_test_proc *p, const char *role)
{
    const char *argv[] = {role, "--database-url", pg.conninfo, "--migrate", "--bus", "kafka",
                          "--kafka-brokers", kafka.bootstraps, "--consumer-max-attempts", "3",
                          /* the api takes many requests from one user here */
                          strcmp(role, "api") ? NULL : "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    td_test_spawn(p, argv, NULL);
}

static void start(void)
{
    td_test_pg_start(&pg);
    const char *topics[] = {"task-events:6", "task-events.dlq:1", "reminders:6",
                            "task-updates:6", NULL};
    td_test_kafka_start(&kafka, topics);
    spawn(&api, "api");
    spawn(&recur[0], "recur");
    spawn(&recur[1], "recur");
}

static void stop(void)
{
    td_test_stop_running(&recur[0]);
    td_test_stop_running(&recur[1]);
    td_test_stop_running(&api);
    td_test_kafka_stop(&kafka);
    td_test_pg_destroy(&pg);
}

TestSuite(recur_kafka, .init = start, .fini = stop, .timeout = 300);

static int post(const char *token, const char *id, const char *action)
{
    char *path = td_test_fmt("/api/tasks/%s/%s", id, action);
    int status = td_test_api_json(api.port, token, "POST", path, NULL, NULL, NULL);
    free(path);
    return status;
}

/* Waits until the recur group has recorded `want` completed events of task id. */
static long handled(const char *id, long want)
{
    char *sql = td_test_fmt(
        "SELECT count(*) FROM inbox i JOIN outbox o USING (event_id) WHERE i.consumer_group = "
        "'todod-recur' AND o.event->>'subject' = '%s' AND o.event->>'type' = 'todo.task.completed'",
        id);
    long got = td_test_wait_count(&pg, want, 60000, sql);
    free(sql);
    return got;
}

static long occurrences(const char *series, int index)
{
    return td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE series_id = '%s' AND "
                                "occurrence_index = %d", series, index);
}

Test(recur_kafka, a_completed_daily_task_gets_exactly_one_next_occurrence)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = td_test_create_task(api.port, u.token,
                                    "{\"title\":\"stretch\",\"due_at\":\"2030-01-07T14:00:00Z\","
                                    "\"time_zone\":\"America/New_York\",\"recurrence\":\"daily\"}");
    const char *id = td_test_jstr(t, "id");
    /* twice in a row: the second finds it completed and emits nothing */
    cr_assert_eq(post(u.token, id, "complete"), 200);
    cr_assert_eq(post(u.token, id, "complete"), 200);
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s'", id);
    cr_assert_eq(td_test_wait_count(&pg, 1, 60000, sql), 1, "no next occurrence");
    cr_expect_eq(handled(id, 1), 1);
    /* a second completed event of the same occurrence (reopen, complete again) */
    cr_assert_eq(post(u.token, id, "reopen"), 200);
    cr_assert_eq(post(u.token, id, "complete"), 200);
    cr_assert_eq(handled(id, 2), 2, "the second completion was never handled");
    usleep(500 * 1000);   /* nothing arrives late */
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE series_id = '%s'", id), 1,
                 "more than one next occurrence");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE series_id = '%s' AND "
                                      "occurrence_index = 1 AND due_at = '2030-01-08T14:00:00Z'",
                                 id), 1, "not the next day at 09:00 New York");
    /* its created event went out once, from the recur role's transaction */
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox o JOIN tasks t ON "
                                      "t.id::text = o.event->>'subject' WHERE t.series_id = '%s' "
                                      "AND o.event->>'type' = 'todo.task.created' "
                                      "AND o.topic = 'task-events'", id), 1);
    /* the next occurrence, completed twice in a row too, is followed by one third */
    char *next = td_test_pg_queryf(&pg, "SELECT id FROM tasks WHERE series_id = '%s' AND "
                                        "occurrence_index = 1", id);
    cr_assert(next && strlen(next) == 36, "no id: %s", next ? next : "(null)");
    cr_assert_eq(post(u.token, next, "complete"), 200);
    cr_assert_eq(post(u.token, next, "complete"), 200);
    cr_assert_eq(handled(next, 1), 1);
    cr_expect_eq(td_test_wait_count(&pg, 2, 60000, sql), 2);
    usleep(500 * 1000);
    cr_expect_eq(occurrences(id, 2), 1, "not exactly one third occurrence");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE series_id = '%s'", id), 2);
    free(next);
    free(sql);
    json_decref(t);
}

/* Publishes value on task-events with key, count times (a redelivery as Kafka makes one:
 * the very same event again, to whichever replica holds its partition). */
static void publish(const char *key, const char *value, int count)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", kafka.bootstraps, err, sizeof err),
                 RD_KAFKA_CONF_OK, "%s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert(rk, "producer: %s", err);
    for (int i = 0; i < count; i++)
        cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("task-events"),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/* Redelivery on the broker itself: many daily tasks completed at once (each twice), so
 * both replicas work, then every completed event published again, three times, after
 * its next occurrence exists: still exactly one next occurrence per task, and each
 * event handled once by the group. */
#define MANY 24
Test(recur_kafka, redelivered_completed_events_make_nothing_more)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    char *ids[MANY];
    for (int i = 0; i < MANY; i++) {
        json_t *t = td_test_create_task(api.port, u.token,
                                        "{\"title\":\"water plants\",\"due_at\":"
                                        "\"2030-02-01T08:00:00Z\",\"recurrence\":\"daily\"}");
        ids[i] = strdup(td_test_jstr(t, "id"));
        json_decref(t);
    }
    for (int i = 0; i < MANY; i++) {
        cr_assert_eq(post(u.token, ids[i], "complete"), 200);
        cr_assert_eq(post(u.token, ids[i], "complete"), 200);
    }
    char *sql = td_test_fmt("SELECT count(*) FROM tasks WHERE user_id = '%s' AND "
                            "occurrence_index = 1", u.id);
    cr_assert_eq(td_test_wait_count(&pg, MANY, 60000, sql), MANY, "not every task recurred");
    for (int i = 0; i < MANY; i++) {
        char *ev = td_test_pg_queryf(&pg, "SELECT event::text FROM outbox WHERE topic = "
                                          "'task-events' AND event->>'subject' = '%s' AND event->>'type' = "
                                          "'todo.task.completed'", ids[i]);
        cr_assert(ev, "no completed event for %s", ids[i]);
        publish(u.id, ev, 3);
        free(ev);
    }
    /* the group has seen them all again: wait for the consumers to pass the copies */
    char *group = td_test_fmt(
        "SELECT count(*) FROM inbox i JOIN outbox o USING (event_id) WHERE i.consumer_group = "
        "'todod-recur' AND o.topic = 'task-events' AND o.event->>'type' = 'todo.task.completed' AND "
        "o.event->'data'->>'user_id' = '%s'", u.id);
    cr_expect_eq(td_test_wait_count(&pg, MANY, 30000, group), MANY);
    sleep(3);
    cr_expect_eq(td_test_pg_long(&pg, "%s", sql), MANY, "an occurrence too many");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND "
                                      "occurrence_index > 1", u.id), 0);
    cr_expect_eq(td_test_pg_long(&pg, "%s", group), MANY, "an event handled twice");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox o JOIN tasks t ON "
                                      "t.id::text = o.event->>'subject' WHERE t.user_id = '%s' "
                                      "AND t.occurrence_index = 1 AND o.topic = 'task-events' AND o.event->>'type' = "
                                      "'todo.task.created'", u.id), MANY,
                 "not one created event per next occurrence");
    for (int i = 0; i < MANY; i++)
        free(ids[i]);
    free(group);
    free(sql);
}

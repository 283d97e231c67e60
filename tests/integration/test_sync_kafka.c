/* Two `todod sync` replicas on Kafka (the librdkafka mock cluster in another process)
 * beside one `todod api`: each replica consumes task-updates in a consumer group of its
 * own, so a user's update reaches that user's connections on both, and no one else's; a
 * ticket issued by one replica is redeemed by the other (PostgreSQL holds it). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/kafka_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"
#include "tests/support/ws_harness.h"

static struct td_test_pg pg;
static struct td_test_kafka kafka;
static struct td_test_proc api, sync_[2];

static void spawn(struct td_test_proc *p, const char *role)
{
    const char *argv[] = {role, "--database-url", pg.conninfo, "--migrate", "--bus", "kafka",
                          "--kafka-brokers", kafka.bootstraps, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    td_test_spawn(p, argv, NULL);
}

static void start(void)
{
    td_test_pg_start(&pg);
    const char *topics[] = {"task-events:6", "task-events.dlq:1", "reminders:6", "reminders.dlq:1",
                            "task-updates:6", "task-updates.dlq:1", NULL};
    td_test_kafka_start(&kafka, topics);
    spawn(&api, "api");
    spawn(&sync_[0], "sync");
    spawn(&sync_[1], "sync");
}

static void stop(void)
{
    td_test_stop_running(&sync_[0]);
    td_test_stop_running(&sync_[1]);
    td_test_stop_running(&api);
    td_test_kafka_stop(&kafka);
    td_test_pg_destroy(&pg);
}

TestSuite(sync_kafka, .init = start, .fini = stop, .timeout = 300);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void open_ws(struct td_test_ws *ws, int port, const char *token)
{
    char *auth = td_test_fmt("Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    cr_assert_eq(td_test_ws_open(ws, port, "/ws", h, 0), 101, "%s", ws->body);
    json_t *hello = td_test_ws_next(ws, 10000);
    cr_assert_str_eq(td_test_jstr(hello, "type"), "hello");
    json_decref(hello);
    free(auth);
}

Test(sync_kafka, both_replicas_deliver_a_users_update_to_that_user_only)
{
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    struct td_test_ws a0, a1, b1;
    open_ws(&a0, sync_[0].port, a.token);
    open_ws(&a1, sync_[1].port, a.token);
    open_ws(&b1, sync_[1].port, b.token);
    /* the first one waits for the replicas to join their groups */
    json_t *t = td_test_create_task(api.port, a.token, "{\"title\":\"warm up\"}");
    json_t *m0 = td_test_ws_next(&a0, 60000), *m1 = td_test_ws_next(&a1, 60000);
    cr_assert(m0 && m1, "an update did not reach both replicas");
    cr_expect_str_eq(td_test_jstr(m0, "task_id"), td_test_jstr(t, "id"));
    cr_expect(json_equal(m0, m1));
    json_decref(m0);
    json_decref(m1);
    json_decref(t);
    double lat[10];
    for (int i = 0; i < 10; i++) {
        double t0 = now_ms();
        t = td_test_create_task(api.port, a.token, "{\"title\":\"through kafka\"}");
        m0 = td_test_ws_next(&a0, 30000);
        m1 = td_test_ws_next(&a1, 30000);
        lat[i] = now_ms() - t0;
        cr_assert(m0 && m1, "update %d missing", i);
        cr_expect_eq(json_integer_value(json_object_get(m0, "seq")), i + 2);
        cr_expect(json_equal(m0, m1));
        json_decref(m0);
        json_decref(m1);
        json_decref(t);
    }
    double worst = 0, sum = 0;
    for (int i = 0; i < 10; i++) {
        sum += lat[i];
        if (lat[i] > worst)
            worst = lat[i];
    }
    fprintf(stderr, "sync_kafka: POST-to-both-replicas latency ms: mean %.1f max %.1f\n", sum / 10, worst);
    json_t *none = td_test_ws_next(&b1, 500);
    cr_expect_null(none, "user B got A's update");
    td_test_ws_free(&a0);
    td_test_ws_free(&a1);
    td_test_ws_free(&b1);
}

Test(sync_kafka, a_ticket_from_one_replica_opens_the_other_once)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    json_t *t = NULL;
    cr_assert_eq(td_test_api_json(sync_[0].port, a.token, "POST", "/api/ws-ticket", NULL, NULL, &t), 201);
    char *path = td_test_fmt("/ws?ticket=%s", td_test_jstr(t, "ticket"));
    struct td_test_ws ws;
    cr_assert_eq(td_test_ws_open(&ws, sync_[1].port, path, NULL, 0), 101, "%s", ws.body);
    td_test_ws_free(&ws);
    cr_expect_eq(td_test_ws_open(&ws, sync_[0].port, path, NULL, 0), 401);
    td_test_ws_free(&ws);
    free(path);
    json_decref(t);
}

/* core/bus.c (the driver-independent dispatcher: lanes, retries, dead letters), driven
 * through the local driver on a real libuv loop; what the local driver itself promises
 * is tested in test_bus_local.c. Handlers hold deliveries and finish them later from
 * timers, the way a handler waiting for a database commit does (tests/support/
 * bus_harness.h). Every test closes the bus and asserts uv_loop_close succeeds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/bus.h"
#include "core/metrics.h"
#include "tests/support/bus_harness.h"
#include "tests/support/loop_harness.h"

static uv_loop_t loop;
static uv_timer_t tick;   /* keeps UV_RUN_ONCE from sleeping forever while we wait */
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static struct td_metrics *metrics;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    cr_assert(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    cr_assert(td_metrics_new(&metrics) == 0);
}

static void teardown(void)
{
    td_metrics_free(metrics);
}

static struct td_bus *open_bus(int max_attempts)
{
    struct td_bus_opts o = {.driver = TD_BUS_LOCAL, .max_attempts = max_attempts,
                            .client_id = "test", .log = &quiet, .metrics = metrics};
    struct td_bus *bus = NULL;
    cr_assert(td_bus_open(&loop, &o, &bus) == 0);
    cr_assert(bus);
    return bus;
}

static void on_bus_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Closes the bus and proves nothing is left on the loop. */
static void close_all(struct td_bus *bus)
{
    int closed = 0;
    td_bus_close(bus, on_bus_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, 1, "closed callback ran %d times", closed);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

static double handled(const char *group, const char *topic, const char *outcome)
{
    return td_test_handled(metrics, group, topic, outcome);
}

/* A timer that finishes held deliveries in a scrambled order, a few at a time. */
struct scrambler {
    uv_timer_t               t;
    struct td_test_consumer *c;
    unsigned                 seed;
};

static void on_scramble(uv_timer_t *t)
{
    struct scrambler *s = t->data;
    int k = s->c->nheld ? 1 + (int)(rand_r(&s->seed) % (unsigned)s->c->nheld) : 0;
    while (k-- > 0 && s->c->nheld)
        td_test_release(s->c, (int)(rand_r(&s->seed) % (unsigned)s->c->nheld), 0);
}

TestSuite(bus, .init = setup, .fini = teardown, .timeout = 60);

/* (a) Per key in publish order; different keys in different lanes run side by side; a
 * lane never has two messages in the handler. */
Test(bus, per_key_order_and_one_message_per_lane)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.name = "g", .mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "task-events", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);

    enum { KEYS = 8, PER_KEY = 30 };
    static struct td_test_pubres pr[KEYS * PER_KEY];
    for (int i = 0; i < PER_KEY; i++)
        for (int k = 0; k < KEYS; k++) {
            char key[16], val[32];
            snprintf(key, sizeof key, "user-%d", k);
            snprintf(val, sizeof val, "{\"k\":%d,\"i\":%d}", k, i);
            td_test_publish(bus, "task-events", key, val, NULL, &pr[i * KEYS + k]);
        }
    cr_assert_eq(c.n, 0, "a handler ran inside td_bus_publish");

    struct scrambler s = {.c = &c, .seed = 42};
    uv_timer_init(&loop, &s.t);
    s.t.data = &s;
    uv_timer_start(&s.t, on_scramble, 1, 1);
    int done = 0;
    double end = td_test_now_ms() + 20000;
    while (td_test_now_ms() < end) {
        done = 0;
        for (int i = 0; i < KEYS * PER_KEY; i++)
            done += pr[i].calls;
        if (done == KEYS * PER_KEY)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&s.t, NULL);
    cr_assert_eq(done, KEYS * PER_KEY, "only %d of %d publishes confirmed", done, KEYS * PER_KEY);
    cr_assert_eq(c.n, KEYS * PER_KEY, "handler saw %d messages", c.n);
    cr_assert_eq(c.overlap, 0, "%d time(s) a second message entered a busy lane", c.overlap);
    cr_assert_gt(c.max_inflight, 1, "different lanes never ran side by side");

    int next[KEYS] = {0};
    int32_t lane[KEYS];
    int64_t last_off = 0;
    int nlanes = 0;
    int32_t seen[64] = {0};
    for (int j = 0; j < c.n; j++) {
        int k, i;
        cr_assert_eq(sscanf(c.rec[j].value, "{\"k\":%d,\"i\":%d}", &k, &i), 2, "%s",
                     c.rec[j].value);
        char key[16];
        snprintf(key, sizeof key, "user-%d", k);
        cr_assert_str_eq(c.rec[j].key, key);
        cr_assert_eq(i, next[k], "key %d: got message %d, expected %d", k, i, next[k]);
        if (next[k] == 0)
            lane[k] = c.rec[j].partition;
        cr_assert_eq(c.rec[j].partition, lane[k], "one key changed lanes");
        next[k]++;
        cr_assert_eq(c.rec[j].attempt, 1);
        cr_assert_str_eq(c.rec[j].tp, "");
        cr_assert_gt(c.rec[j].offset, 0);
        if (c.rec[j].offset > last_off)
            last_off = c.rec[j].offset;
        if (!seen[c.rec[j].partition]++)
            nlanes++;
    }
    cr_assert_eq(last_off, KEYS * PER_KEY, "offsets are the publish sequence");
    cr_assert_gt(nlanes, 1, "all keys landed in one lane");
    for (int i = 0; i < KEYS * PER_KEY; i++)
        cr_assert_eq(pr[i].status, 0);
    cr_assert_eq(handled("g", "task-events", "ok"), KEYS * PER_KEY);
    cr_assert_eq(td_test_metric(metrics, "td_bus_published_total"), KEYS * PER_KEY);
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* (c) RETRY: the message comes back with attempt+1 after a growing backoff; after
 * max_attempts it is dead-lettered and the lane moves on. */
Test(bus, retry_backoff_then_dead_letter)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.mode = TD_TEST_RETRY_POISON}, dlq = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "task-events", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events.dlq", "dlq-watch", td_test_consumer_handler, &dlq) == 0);
    cr_assert(td_bus_start(bus) == 0);

    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    struct td_test_pubres p1 = {0}, p2 = {0};
    double t0 = td_test_now_ms();
    td_test_publish(bus, "task-events", "u1", "{\"poison\":true}", tp, &p1);
    td_test_publish(bus, "task-events", "u1", "{\"next\":true}", NULL, &p2);
    cr_assert(td_test_run_until(&loop, &c.n, 3, 3000), "only %d attempt(s)", c.n);
    cr_assert(td_test_run_until(&loop, &dlq.n, 1, 2000), "the dead letter never reached <topic>.dlq");
    /* the poison message: attempts 1, 2, 3, at >= 100 and >= 200 ms intervals */
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(c.rec[i].value, "{\"poison\":true}");
        cr_assert_eq(c.rec[i].attempt, i + 1, "attempt %d reported as %d", i + 1,
                     c.rec[i].attempt);
        cr_assert_eq(c.rec[i].offset, c.rec[0].offset);
        cr_assert_str_eq(c.rec[i].tp, tp);
    }
    double gap1 = c.rec[1].at - c.rec[0].at, gap2 = c.rec[2].at - c.rec[1].at;
    cr_assert_geq(gap1, 95, "first retry after %.0f ms", gap1);
    cr_assert_geq(gap2, 195, "second retry after %.0f ms (no exponential backoff)", gap2);
    cr_assert_lt(gap1, 1000, "first retry after %.0f ms", gap1);
    cr_assert_lt(c.rec[0].at - t0, 100, "first delivery took %.0f ms", c.rec[0].at - t0);
    cr_assert_str_eq(dlq.rec[0].value, "{\"poison\":true}");
    cr_assert_str_eq(dlq.rec[0].key, "u1");
    cr_assert_str_eq(dlq.rec[0].tp, tp);
    cr_assert_eq(handled("g", "task-events", "dead_letter"), 1);
    cr_assert_eq(handled("g", "task-events", "retry"), 2);

    /* the lane moved on: the next message of the same key comes and is handled */
    cr_assert(td_test_run_until(&loop, &c.n, 4, 2000), "the lane did not move on after the dead letter");
    cr_assert_str_eq(c.rec[3].value, "{\"next\":true}");
    cr_assert_eq(c.rec[3].attempt, 1);
    cr_assert_geq(c.rec[3].at, dlq.rec[0].at, "the next message ran before the dead letter");
    cr_assert(td_test_run_until(&loop, &p1.calls, 1, 1000));
    cr_assert_eq(p1.status, 0);   /* delivered: the dead-letter topic holds it now */
    cr_assert_eq(p1.calls, 1);
    cr_assert(td_test_run_until(&loop, &p2.calls, 1, 1000));
    cr_assert_eq(handled("g", "task-events", "ok"), 1);
    cr_assert_eq(handled("g", "task-events", "retry"), 2);
    cr_assert_eq(handled("g", "task-events", "dead_letter"), 1);
    cr_assert_eq(c.n, 4);
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* A handler failing once then succeeding: one retry, then ok; no dead letter. The handler
 * answers inside the call, on the retry too (a handler may decide at once). */
Test(bus, retry_answered_inside_handler)
{
    struct td_bus *bus = open_bus(5);
    static struct td_test_consumer c = {.mode = TD_TEST_RETRY_THEN_DONE};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0};
    td_test_publish(bus, "t", "k", "x", NULL, &p);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 3000));
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.rec[0].attempt, 1);
    cr_assert_eq(c.rec[1].attempt, 2);
    cr_assert_geq(c.rec[1].at - c.rec[0].at, 95);
    cr_assert_eq(handled("g", "t", "retry"), 1);
    cr_assert_eq(handled("g", "t", "ok"), 1);
    cr_assert_eq(handled("g", "t", "dead_letter"), 0);
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* (d) TD_TEST_REJECT dead-letters at once, on the first attempt. */
Test(bus, reject_dead_letters_at_once)
{
    struct td_bus *bus = open_bus(5);
    static struct td_test_consumer c = {.mode = TD_TEST_REJECT};
    cr_assert(td_bus_subscribe(bus, "reminders", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0};
    double t0 = td_test_now_ms();
    td_test_publish(bus, "reminders", "u9", "{\"bad\":1}", NULL, &p);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 2000));
    double took = td_test_now_ms() - t0;
    cr_assert_eq(c.n, 1, "a rejected message was handled %d times", c.n);
    cr_assert_eq(c.rec[0].attempt, 1);
    cr_assert_lt(took, 90, "rejecting took %.0f ms (a retry backoff?)", took);
    cr_assert_eq(handled("g", "reminders", "dead_letter"), 1);
    cr_assert_eq(handled("g", "reminders", "retry"), 0);
    td_test_run_for(&loop, 300);
    cr_assert_eq(c.n, 1, "a rejected message came back");
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* (e) td_bus_pending counts queued publishes and messages in handlers, back to 0. */
Test(bus, pending_counts)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert_eq(td_bus_pending(bus), 0);
    cr_assert(td_bus_start(bus) == 0);
    cr_assert_eq(td_bus_pending(bus), 0);
    struct td_test_pubres p[3] = {{0}};
    td_test_publish(bus, "t", "a", "1", NULL, &p[0]);
    td_test_publish(bus, "t", "a", "2", NULL, &p[1]);
    td_test_publish(bus, "t", "a", "3", NULL, &p[2]);
    cr_assert_eq(td_bus_pending(bus), 3, "pending = %zu after 3 publishes", td_bus_pending(bus));
    cr_assert(td_test_run_until(&loop, &c.n, 1, 1000));
    td_test_run_for(&loop, 30);
    cr_assert_eq(c.n, 1, "a second message of the lane entered the handler");
    size_t during = td_bus_pending(bus);
    cr_assert_geq(during, 3, "pending = %zu with 3 messages unfinished", during);
    td_test_release(&c, 0, 0);
    cr_assert(td_test_run_until(&loop, &p[0].calls, 1, 1000));
    cr_assert(td_test_run_until(&loop, &c.n, 2, 1000));
    cr_assert_gt(td_bus_pending(bus), 0);
    cr_assert_lt(td_bus_pending(bus), during);
    td_test_release(&c, 0, 0);
    cr_assert(td_test_run_until(&loop, &c.n, 3, 1000));
    cr_assert_gt(td_bus_pending(bus), 0);
    td_test_release(&c, 0, 0);
    cr_assert(td_test_run_until(&loop, &p[2].calls, 1, 1000));
    cr_assert_eq(td_bus_pending(bus), 0, "pending = %zu at the end", td_bus_pending(bus));
    /* a message waiting for its retry still counts */
    struct td_test_pubres q = {0};
    td_test_publish(bus, "t", "b", "4", NULL, &q);
    cr_assert(td_test_run_until(&loop, &c.n, 4, 1000));
    td_test_release(&c, 0, TD_BUS_RETRY);
    cr_assert_gt(td_bus_pending(bus), 0, "a message waiting to be retried is not counted");
    cr_assert(td_test_run_until(&loop, &c.n, 5, 2000));
    cr_assert_eq(c.rec[4].attempt, 2);
    td_test_release(&c, 0, 0);
    cr_assert(td_test_run_until(&loop, &q.calls, 1, 2000));
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* Publishing before start, or once closing, fails at once and never calls back. */
Test(bus, publish_refused_before_start_and_when_closing)
{
    struct td_bus *bus = open_bus(3);
    struct td_test_pubres p = {0};
    int rc = td_bus_publish(bus, "t", "k", "v", 1, NULL, td_test_on_published, &p);
    cr_assert_lt(rc, 0, "publish before start = %d", rc);
    cr_assert(td_bus_start(bus) == 0);
    int closed = 0;
    td_bus_close(bus, on_bus_closed, &closed);
    rc = td_bus_publish(bus, "t", "k", "v", 1, NULL, td_test_on_published, &p);
    cr_assert_eq(rc, -ECANCELED, "publish while closing = %d", rc);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    cr_assert_eq(closed, 1);
    cr_assert_eq(p.calls, 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

/* (f) Closing with work everywhere: published but not dispatched, queued in a lane, in a
 * handler, waiting for a retry. Everything is freed (ASan), no callback runs late. */
Test(bus, close_with_work_in_flight)
{
    struct td_bus *bus = open_bus(5);
    static struct td_test_consumer holder = {.mode = TD_TEST_HOLD}, retrier = {.mode = TD_TEST_RETRY_ALWAYS};
    cr_assert(td_bus_subscribe(bus, "task-events", "holder", td_test_consumer_handler, &holder) == 0);
    cr_assert(td_bus_subscribe(bus, "reminders", "retrier", td_test_consumer_handler, &retrier) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct td_test_pubres p[12];
    for (int i = 0; i < 4; i++)
        td_test_publish(bus, "task-events", "same-key", "held or queued", NULL, &p[i]);
    td_test_publish(bus, "reminders", "r", "retried", NULL, &p[4]);
    cr_assert(td_test_run_until(&loop, &holder.n, 1, 1000));
    cr_assert(td_test_run_until(&loop, &retrier.n, 1, 1000));
    for (int i = 5; i < 12; i++)   /* not dispatched yet when the bus closes */
        td_test_publish(bus, "task-events", "other", "queued publish", NULL, &p[i]);
    cr_assert_gt(td_bus_pending(bus), 10);
    int closed = 0;
    td_bus_close(bus, on_bus_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, 1);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(p[i].calls, 0, "publish %d confirmed during close", i);
    cr_assert_eq(holder.n, 1, "messages dispatched while closing");
    cr_assert_eq(retrier.n, 1, "a retry ran while closing");
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

/* A handler finishing its message while the bus closes (before the close completes):
 * the lane does not run the next one and nothing is confirmed. */
Test(bus, done_during_close)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p[3] = {{0}};
    for (int i = 0; i < 3; i++)
        td_test_publish(bus, "t", "k", "v", NULL, &p[i]);
    cr_assert(td_test_run_until(&loop, &c.n, 1, 1000));
    int closed = 0;
    td_bus_close(bus, on_bus_closed, &closed);
    td_test_release(&c, 0, 0);            /* finished while closing: not confirmed, lane stops */
    cr_assert_eq(c.n, 1, "the lane ran its next message while closing");
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    cr_assert_eq(closed, 1);
    cr_assert_eq(p[0].calls + p[1].calls + p[2].calls, 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

/* td_bus_set_depth: up to depth messages of one lane in the handler at once, committed
 * (confirmed) in delivery order whatever order they finish in; a message waiting for its
 * retry lets nothing new into the handler. */
Test(bus, depth_commits_in_order)
{
    struct td_bus *bus = open_bus(5);
    static struct td_test_consumer c = {.mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert_eq(td_bus_set_depth(bus, "t", "g", 3), 0);
    cr_assert_eq(td_bus_set_depth(bus, "t", "nobody", 3), -ENOENT);
    cr_assert(td_bus_start(bus) == 0);
    static struct td_test_pubres p[6];
    const char *v[6] = {"m0", "m1", "m2", "m3", "m4", "m5"};
    for (int i = 0; i < 6; i++)
        td_test_publish(bus, "t", "k", v[i], NULL, &p[i]);
    cr_assert(td_test_run_until(&loop, &c.n, 3, 1000));
    td_test_run_for(&loop, 30);
    cr_assert_eq(c.n, 3, "%d messages in the handler with depth 3", c.n);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(c.rec[i].value, v[i]);

    td_test_release(&c, td_test_find_held(&c, "m2"), 0);   /* finishes before m0 and m1 */
    cr_assert_eq(c.n, 4, "a slot freed but m3 was not handed out");
    cr_assert_str_eq(c.rec[3].value, "m3");
    td_test_run_for(&loop, 30);
    cr_assert_eq(p[2].calls, 0, "m2 confirmed before m0 and m1");
    td_test_release(&c, td_test_find_held(&c, "m0"), 0);
    td_test_run_until(&loop, &p[0].calls, 1, 500);
    cr_assert_eq(p[0].calls, 1);
    cr_assert_eq(p[2].calls, 0, "m2 confirmed before m1");
    td_test_release(&c, td_test_find_held(&c, "m1"), 0);
    td_test_run_until(&loop, &p[2].calls, 1, 500);
    cr_assert_eq(p[1].calls, 1);
    cr_assert_eq(p[2].calls, 1);
    cr_assert_leq(p[1].at, p[2].at);

    /* m3 fails: it waits for its backoff; m4, behind it, finishes but is not confirmed
     * until m3 is back and done */
    cr_assert_eq(c.n, 6);
    td_test_release(&c, td_test_find_held(&c, "m3"), TD_BUS_RETRY);
    td_test_release(&c, td_test_find_held(&c, "m4"), 0);
    td_test_run_for(&loop, 50);
    cr_assert_eq(p[4].calls, 0, "m4 confirmed while m3 waits for its retry");
    cr_assert(td_test_run_until(&loop, &c.n, 7, 1000), "m3 never came back");
    cr_assert_str_eq(c.rec[6].value, "m3");
    cr_assert_eq(c.rec[6].attempt, 2);
    td_test_release(&c, td_test_find_held(&c, "m3"), 0);
    cr_assert(td_test_run_until(&loop, &p[4].calls, 1, 500));
    cr_assert_eq(p[3].calls, 1);
    cr_assert_leq(p[3].at, p[4].at);
    td_test_release(&c, td_test_find_held(&c, "m5"), 0);
    cr_assert(td_test_run_until(&loop, &p[5].calls, 1, 500));
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* The same answered later (after a database round trip, say). */
Test(bus, retry_then_success_later)
{
    struct td_bus *bus = open_bus(5);
    static struct td_test_consumer c = {.mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0};
    td_test_publish(bus, "t", "k", "x", NULL, &p);
    cr_assert(td_test_run_until(&loop, &c.n, 1, 1000));
    td_test_release(&c, 0, TD_BUS_RETRY);
    cr_assert_eq(c.n, 1, "retried without a backoff");
    cr_assert(td_test_run_until(&loop, &c.n, 2, 2000));
    cr_assert_eq(c.rec[1].attempt, 2);
    cr_assert_geq(c.rec[1].at - c.rec[0].at, 95);
    td_test_release(&c, 0, 0);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 1000));
    cr_assert_eq(p.status, 0);
    cr_assert_eq(handled("g", "t", "retry"), 1);
    cr_assert_eq(handled("g", "t", "ok"), 1);
    cr_assert_eq(handled("g", "t", "dead_letter"), 0);
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* TD_BUS_WAIT (a dependency is down) retries with backoff but does not count toward
 * max_attempts; TD_BUS_RETRY does. */
Test(bus, wait_does_not_count_toward_dead_letter)
{
    struct td_bus *bus = open_bus(2);
    static const int script[] = {TD_BUS_WAIT, TD_BUS_WAIT, TD_BUS_WAIT, TD_BUS_RETRY,
                                 TD_BUS_RETRY, 0};
    static struct td_test_consumer c = {.mode = TD_TEST_SCRIPT, .script = script};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0};
    td_test_publish(bus, "t", "k", "x", NULL, &p);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 5000));
    /* three waits, then two failures: the second failure is the second of two allowed */
    cr_assert_eq(c.n, 5, "handled %d times", c.n);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(c.rec[i].attempt, i + 1);
    for (int i = 1; i < 5; i++)
        cr_assert_geq(c.rec[i].at - c.rec[i - 1].at, 95, "attempt %d came after %.0f ms", i + 1,
                      c.rec[i].at - c.rec[i - 1].at);
    cr_assert_eq(handled("g", "t", "dead_letter"), 1);
    cr_assert_eq(handled("g", "t", "retry"), 4);
    cr_assert_eq(handled("g", "t", "ok"), 0);
    cr_assert_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* core/bus_kafka.c: the Kafka driver against a real Kafka-protocol broker (librdkafka's
 * mock cluster, in its own process: tests/support/kafka_harness.h), on a real libuv loop.
 * Publish and consume with keys and traceparent; offsets stored only after td_bus_done, so
 * what a closed consumer left unfinished goes to the group's next member and what it
 * finished does not; broker reachability; dead letters; a broker outage. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>


#include "core/buf.h"
#include "core/bus.h"
#include "core/metrics.h"
#include "tests/support/loop_harness.h"
#include "tests/support/kafka_harness.h"

static struct td_test_kafka kafka;
static uv_loop_t loop;
static uv_timer_t tick;
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static struct td_metrics *metrics;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    const char *topics[] = {"ktest:4", "ktest.dlq:1", "redo:2", "redo.dlq:1", "outage:2",
                            "outage.dlq:1", "bad:1", "bad.dlq:1", NULL};
    td_test_kafka_start(&kafka, topics);
    cr_assert(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    cr_assert(td_metrics_new(&metrics) == 0);
}

static void teardown(void)
{
    td_metrics_free(metrics);
    td_test_kafka_stop(&kafka);
}




static int wait_up(struct td_bus *bus, int want, int ms)
{
    double end = td_test_now_ms() + ms;
    char reason[200];
    while (td_bus_is_up(bus, reason, sizeof reason) != want && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return td_bus_is_up(bus, reason, sizeof reason) == want;
}

static struct td_bus *open_bus(int max_attempts)
{
    struct td_bus_opts o = {.driver = TD_BUS_KAFKA, .brokers = kafka.bootstraps,
                            .partitions = 2, .max_attempts = max_attempts,
                            .client_id = "todod-test", .log = &quiet, .metrics = metrics};
    struct td_bus *bus = NULL;
    cr_assert(td_bus_open(&loop, &o, &bus) == 0);
    return bus;
}

static void on_bus_closed(void *arg)
{
    (*(int *)arg)++;
}

static void close_bus(struct td_bus *bus)
{
    int closed = 0;
    td_bus_close(bus, on_bus_closed, &closed);
    cr_assert(td_test_run_until(&loop, &closed, 1, 20000), "the bus did not close");
}

static void close_loop(void)
{
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

/* ------------------------------------------------------------ a recording consumer */

enum { MAXREC = 512 };

struct rec {
    char    key[32];
    char    value[64];
    char    tp[64];
    int32_t partition;
    int64_t offset;
    int     attempt;
};

struct consumer {
    int        n;
    struct rec rec[MAXREC];
    const char *hold;     /* never finish the message with this value */
    const char *retry;    /* answer RETRY to this one, every time */
    const char *reject;   /* answer REJECT to this one */
    struct td_bus_delivery *held;
};

static void handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct consumer *c = arg;
    cr_assert(c->n < MAXREC);
    struct rec *r = &c->rec[c->n++];
    snprintf(r->key, sizeof r->key, "%s", msg->key);
    snprintf(r->value, sizeof r->value, "%.*s", (int)msg->len, msg->value);
    snprintf(r->tp, sizeof r->tp, "%s", msg->traceparent);
    r->partition = msg->partition;
    r->offset = msg->offset;
    r->attempt = msg->attempt;
    if (c->hold && strcmp(r->value, c->hold) == 0) {
        c->held = d;   /* the bus frees it when it closes */
        return;
    }
    if (c->retry && strcmp(r->value, c->retry) == 0) {
        td_bus_done(d, TD_BUS_RETRY, "not now");
        return;
    }
    if (c->reject && strcmp(r->value, c->reject) == 0) {
        td_bus_done(d, TD_BUS_REJECT, "this event is malformed");
        return;
    }
    td_bus_done(d, 0, NULL);
}

static int count_value(const struct consumer *c, const char *value)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += strcmp(c->rec[i].value, value) == 0;
    return n;
}

static const struct rec *find_value(const struct consumer *c, const char *value)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->rec[i].value, value) == 0)
            return &c->rec[i];
    return NULL;
}

struct pubres {
    int calls;
    int status;
};

static void on_published(int status, void *arg)
{
    struct pubres *p = arg;
    p->calls++;
    p->status = status;
}

static int sum_calls(const struct pubres *p, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += p[i].calls;
    return s;
}

static void publish(struct td_bus *bus, const char *topic, const char *key, const char *value,
                    const char *tp, struct pubres *res)
{
    int rc = td_bus_publish(bus, topic, key, value, strlen(value), tp, on_published, res);
    cr_assert_eq(rc, 0, "publish %s/%s = %d", topic, key, rc);
    cr_assert_eq(res->calls, 0, "the publish callback ran inside td_bus_publish");
}

/* Waits until the loop has run this long with fewer than want: returns calls reached. */
static int run_until_sum(const struct pubres *p, int n, int ms)
{
    double end = td_test_now_ms() + ms;
    while (sum_calls(p, n) < n && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return sum_calls(p, n);
}

TestSuite(bus_kafka, .init = setup, .fini = teardown, .timeout = 90);

static const char *const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/* One bus, one group on two topics plus a group reading the dead-letter topic (each bus
 * start costs a group join, so one test covers the lot):
 * - N keyed messages arrive once each, per key in order, with their traceparent, partition
 *   and offset; every publish callback reports 0;
 * - REJECT sends a message to <topic>.dlq (error in a header) and the lane moves on;
 * - td_bus_is_up follows the broker, and a publish made while it is down is not failed
 *   but delivered once it is back. */
Test(bus_kafka, publish_consume_dead_letter_and_outage)
{
    struct td_bus *bus = open_bus(3);
    static struct consumer c, bad = {.reject = "poison"}, dlq;
    cr_assert(td_bus_subscribe(bus, "ktest", "g", handler, &c) == 0);
    cr_assert(td_bus_subscribe(bus, "bad", "g", handler, &bad) == 0);
    cr_assert(td_bus_subscribe(bus, "bad.dlq", "dlq-watch", handler, &dlq) == 0);
    char reason[200] = "";
    cr_assert_eq(td_bus_is_up(bus, reason, sizeof reason), 0, "up before start");
    cr_assert(td_bus_start(bus) == 0);
    cr_assert(wait_up(bus, 1, 5000), "td_bus_is_up never became 1");

    enum { KEYS = 5, PER_KEY = 12, N = KEYS * PER_KEY };
    static struct pubres pr[N], pb[2];
    for (int i = 0; i < PER_KEY; i++)
        for (int k = 0; k < KEYS; k++) {
            char key[16], val[32];
            snprintf(key, sizeof key, "user-%d", k);
            snprintf(val, sizeof val, "%d:%d", k, i);
            publish(bus, "ktest", key, val, (k % 2) ? TP : NULL, &pr[i * KEYS + k]);
        }
    /* larger than message.max.bytes: refused at once, and the callback never runs */
    enum { BIG = 1200000 };
    char *big = malloc(BIG);
    cr_assert(big);
    memset(big, 'x', BIG);
    struct pubres pbig = {0};
    int rc = td_bus_publish(bus, "ktest", "k", big, BIG, NULL, on_published, &pbig);
    free(big);
    cr_assert_eq(rc, -EMSGSIZE, "publishing %d bytes = %d", BIG, rc);
    publish(bus, "bad", "k", "poison", TP, &pb[0]);
    publish(bus, "bad", "k", "fine", NULL, &pb[1]);
    cr_assert_gt(td_bus_pending(bus), 0);
    cr_assert_eq(run_until_sum(pr, N, 15000), N, "publish callbacks missing");
    cr_assert_eq(run_until_sum(pb, 2, 5000), 2, "publish callbacks missing");
    for (int i = 0; i < N; i++)
        cr_assert_eq(pr[i].status, 0, "publish %d reported %d", i, pr[i].status);
    cr_assert(td_test_run_until(&loop, &c.n, N, 25000), "consumer got %d of %d", c.n, N);
    cr_assert(td_test_run_until(&loop, &bad.n, 2, 5000), "got %d of the 2 messages on \"bad\"", bad.n);
    cr_assert(td_test_run_until(&loop, &dlq.n, 1, 5000), "the dead letter never reached bad.dlq");
    td_test_run_for(&loop, 300);
    cr_assert_eq(c.n, N, "consumer got %d messages for %d published", c.n, N);
    cr_assert_eq(pbig.calls, 0, "the callback of a refused publish ran");

    int next[KEYS] = {0};
    int32_t part[KEYS];
    int64_t last_off[4] = {-1, -1, -1, -1};
    for (int j = 0; j < c.n; j++) {
        const struct rec *r = &c.rec[j];
        int k, i;
        cr_assert_eq(sscanf(r->value, "%d:%d", &k, &i), 2);
        cr_assert_eq(i, next[k], "key %d: message %d arrived when %d was due", k, i, next[k]);
        cr_assert_geq(r->partition, 0);
        cr_assert_lt(r->partition, 4);
        if (next[k] == 0)
            part[k] = r->partition;
        cr_assert_eq(r->partition, part[k], "one key spread over two partitions");
        next[k]++;
        cr_assert_gt(r->offset, last_off[r->partition], "offsets go back in partition %d",
                     r->partition);
        last_off[r->partition] = r->offset;
        char key[16];
        snprintf(key, sizeof key, "user-%d", k);
        cr_assert_str_eq(r->key, key);
        cr_assert_str_eq(r->tp, (k % 2) ? TP : "", "traceparent of %s", r->value);
        cr_assert_eq(r->attempt, 1);
    }
    cr_assert_eq(td_test_metric(metrics, "td_bus_handled_total{group=\"g\",topic=\"ktest\",outcome=\"ok\"}"), N);

    /* the rejected message: handled once, dead-lettered, and the next one ran */
    cr_assert_eq(bad.n, 2, "\"bad\" handled %d times", bad.n);
    cr_assert_str_eq(bad.rec[0].value, "poison");
    cr_assert_eq(bad.rec[0].attempt, 1);
    cr_assert_str_eq(bad.rec[1].value, "fine");
    cr_assert_eq(dlq.n, 1);
    cr_assert_str_eq(dlq.rec[0].value, "poison");
    cr_assert_str_eq(dlq.rec[0].key, "k");
    cr_assert_str_eq(dlq.rec[0].tp, TP);
    cr_assert_eq(td_test_metric(metrics, "td_bus_handled_total{group=\"g\",topic=\"bad\",outcome=\"dead_letter\"}"),
                 1);
    cr_assert_eq(td_test_metric(metrics, "td_bus_published_total"), N + 3);   /* and the dead letter */
    char why[128] = "";
    cr_assert_eq(td_test_kafka_find_header(&kafka, "bad.dlq", "todod-error", why, sizeof why,
                                           15000), 0, "no todod-error header in bad.dlq");
    cr_assert_str_eq(why, "this event is malformed");
    cr_assert_eq(td_bus_pending(bus), 0);

    /* the broker goes away and comes back */
    td_test_kafka_cmd(&kafka, "down");
    cr_assert(wait_up(bus, 0, 10000), "td_bus_is_up stayed 1 with the broker down");
    cr_assert_eq(td_bus_is_up(bus, reason, sizeof reason), 0);
    cr_assert(strstr(reason, "unreachable"), "reason: %s", reason);
    struct pubres p1 = {0};
    publish(bus, "ktest", "user-0", "during", NULL, &p1);
    td_test_run_for(&loop, 1500);
    cr_assert_eq(p1.calls, 0, "a publish failed during an outage (status %d)", p1.status);
    cr_assert_gt(td_bus_pending(bus), 0);
    td_test_kafka_cmd(&kafka, "up");
    cr_assert(td_test_run_until(&loop, &p1.calls, 1, 20000), "the publish never completed after the outage");
    cr_assert_eq(p1.status, 0);
    cr_assert(wait_up(bus, 1, 5000));
    cr_assert(td_test_run_until(&loop, &c.n, N + 1, 20000), "the message published during the outage never came");
    cr_assert_str_eq(c.rec[N].value, "during");
    close_bus(bus);
    close_loop();
}

/* Offsets are stored only after done: a message held in the handler, and one answered
 * RETRY until the close, go to the next member of the group; finished ones do not. */
Test(bus_kafka, unfinished_messages_are_redelivered)
{
    struct td_bus *a = open_bus(100);
    static struct consumer ca = {.hold = "held", .retry = "retried"};
    cr_assert(td_bus_subscribe(a, "redo", "g", handler, &ca) == 0);
    cr_assert(td_bus_start(a) == 0);
    static struct pubres pr[12];
    int n = 0;
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "a%d", i);
        publish(a, "redo", "alice", v, NULL, &pr[n++]);
        snprintf(v, sizeof v, "b%d", i);
        publish(a, "redo", "bob", v, NULL, &pr[n++]);
    }
    /* last in their partitions, so nothing done waits behind them */
    publish(a, "redo", "bob", "retried", NULL, &pr[n++]);
    publish(a, "redo", "alice", "held", NULL, &pr[n++]);
    cr_assert_eq(run_until_sum(pr, n, 15000), n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(pr[i].status, 0);

    /* all ten finished; "retried" comes back at least once; "held" is in the handler,
     * or waits behind "retried" when both keys share a partition */
    double end = td_test_now_ms() + 20000;
    while (td_test_now_ms() < end) {
        int ok = 0;
        for (int i = 0; i < ca.n; i++)
            ok += ca.rec[i].value[0] != 'r' && ca.rec[i].value[0] != 'h';
        if (ok >= 10 && count_value(&ca, "retried") >= 2)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    cr_assert_geq(count_value(&ca, "retried"), 2, "\"retried\" was never retried");
    const struct rec *retried = find_value(&ca, "retried");
    const struct rec *held = find_value(&ca, "held");
    cr_assert(retried);
    cr_assert(held || retried->partition == ca.rec[0].partition ||
              retried->partition == ca.rec[1].partition);
    for (const char *const *v = (const char *const[]){"a0", "a1", "a2", "a3", "a4", "b0", "b1",
                                                        "b2", "b3", "b4", NULL}; *v; v++)
        cr_assert_eq(count_value(&ca, *v), 1, "%s handled %d times by the first member", *v,
                     count_value(&ca, *v));
    td_test_run_for(&loop, 700);   /* past auto.commit.interval.ms */
    int64_t retried_off = retried->offset;
    int32_t retried_part = retried->partition;
    close_bus(a);

    struct td_bus *b = open_bus(100);
    static struct consumer cb;
    cr_assert(td_bus_subscribe(b, "redo", "g", handler, &cb) == 0);
    cr_assert(td_bus_start(b) == 0);
    cr_assert(td_test_run_until(&loop, &cb.n, 2, 25000), "the next member got %d message(s), not 2", cb.n);
    td_test_run_for(&loop, 1000);
    cr_assert_eq(cb.n, 2, "the next member got %d messages (finished ones again?)", cb.n);
    cr_assert_eq(count_value(&cb, "held"), 1);
    cr_assert_eq(count_value(&cb, "retried"), 1);
    const struct rec *again = find_value(&cb, "retried");
    cr_assert_eq(again->offset, retried_off);
    cr_assert_eq(again->partition, retried_part);
    cr_assert_eq(again->attempt, 1, "attempts start again on a new member");
    close_bus(b);
    close_loop();
}


/* Closing while the broker is down, with publishes waiting and the consumer group not yet
 * started: the close is bounded, no callback runs afterwards, and nothing leaks. */
Test(bus_kafka, close_with_broker_down)
{
    td_test_kafka_cmd(&kafka, "down");
    struct td_bus *bus = open_bus(3);
    static struct consumer c;
    cr_assert(td_bus_subscribe(bus, "ktest", "g", handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct pubres p[3];
    for (int i = 0; i < 3; i++)
        publish(bus, "ktest", "k", "stuck", TP, &p[i]);
    td_test_run_for(&loop, 1500);
    char reason[200] = "";
    cr_assert_eq(td_bus_is_up(bus, reason, sizeof reason), 0);
    cr_assert_eq(sum_calls(p, 3), 0, "a publish failed or succeeded with the broker down");
    cr_assert_eq(td_bus_pending(bus), 3);
    double t0 = td_test_now_ms();
    close_bus(bus);
    cr_assert_lt(td_test_now_ms() - t0, 8000, "closing took %.0f ms", td_test_now_ms() - t0);
    cr_assert_eq(sum_calls(p, 3), 0, "a publish callback ran during the close");
    cr_assert_eq(c.n, 0);
    close_loop();
}

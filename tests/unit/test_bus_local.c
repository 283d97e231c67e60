/* core/bus_local.c, the in-process bus of `todod all`: each publish goes to every group
 * subscribed to its topic and counts as delivered only once every one of them finished
 * it (in the PostgreSQL tests: committed its effect); one key keeps one lane and its
 * order; a retry in one group holds the publish and nobody else; dead letters go to the
 * dead-letter subscription before the original counts. Real libuv loop, and a real
 * PostgreSQL (tests/support/pg_harness) where handlers commit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/metrics.h"
#include "tests/support/bus_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/pg_harness.h"

static uv_loop_t loop;
static uv_timer_t tick;   /* keeps UV_RUN_ONCE from sleeping for ever while we wait */
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static struct td_metrics *metrics;
static struct td_test_pg pg;

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

static void pg_setup(void)
{
    td_test_pg_start(&pg);
    setup();
}

static void pg_teardown(void)
{
    teardown();
    td_test_pg_destroy(&pg);
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

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Closes the bus (and the pool, when there is one) and proves nothing is left. */
static void close_all_with(struct td_bus *bus, struct td_db *db)
{
    int closed = 0;
    td_bus_close(bus, on_closed, &closed);
    if (db)
        td_db_close(db, on_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, db ? 2 : 1, "close callbacks ran %d times", closed);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

static void close_all(struct td_bus *bus)
{
    close_all_with(bus, NULL);
}

static double handled(const char *group, const char *topic, const char *outcome)
{
    return td_test_handled(metrics, group, topic, outcome);
}

TestSuite(bus_local, .init = setup, .fini = teardown, .timeout = 60);

/* Every group on the topic gets its own copy, with the same lane and sequence number;
 * groups of other topics get nothing; the sequence counts publishes on every topic. */
Test(bus_local, every_subscribed_group_gets_each_publish)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer g[3] = {{.mode = TD_TEST_DONE_NOW}, {.mode = TD_TEST_DONE_NOW},
                                           {.mode = TD_TEST_DONE_NOW}};
    static struct td_test_consumer other = {.mode = TD_TEST_DONE_NOW};
    const char *groups[] = {"audit", "notify", "recur"};
    for (int i = 0; i < 3; i++)
        cr_assert(td_bus_subscribe(bus, "task-events", groups[i], td_test_consumer_handler,
                                   &g[i]) == 0);
    cr_assert(td_bus_subscribe(bus, "reminders", "notify", td_test_consumer_handler, &other) == 0);
    cr_assert(td_bus_start(bus) == 0);

    static struct td_test_pubres pr[6];
    td_test_publish(bus, "task-events", "u1", "e1", NULL, &pr[0]);
    td_test_publish(bus, "task-events", "u2", "e2", NULL, &pr[1]);
    td_test_publish(bus, "reminders", "u1", "r1", NULL, &pr[2]);
    td_test_publish(bus, "task-events", "u1", "e3", NULL, &pr[3]);
    td_test_publish(bus, "nobody-listens", "u1", "n1", NULL, &pr[4]);
    td_test_publish(bus, "task-events", "u3", "e4", NULL, &pr[5]);
    cr_assert(td_test_run_until(&loop, &pr[5].calls, 1, 2000));
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(pr[i].calls, 1, "publish %d confirmed %d times", i, pr[i].calls);
        cr_expect_eq(pr[i].status, 0);
    }
    const char *want[] = {"e1", "e2", "e3", "e4"};
    const int64_t seq[] = {1, 2, 4, 6};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(g[i].n, 4, "group %s got %d messages", groups[i], g[i].n);
        for (int j = 0; j < 4; j++) {
            cr_expect_str_eq(g[i].rec[j].value, want[j]);
            cr_expect_str_eq(g[i].rec[j].topic, "task-events");
            cr_expect_eq(g[i].rec[j].offset, seq[j], "%s: offset %lld", want[j],
                         (long long)g[i].rec[j].offset);
            cr_expect_eq(g[i].rec[j].partition, g[0].rec[j].partition, "groups disagree on the lane");
            cr_expect_str_eq(g[i].rec[j].error, "");
        }
        cr_expect_eq(handled(groups[i], "task-events", "ok"), 4);
    }
    cr_assert_eq(other.n, 1);
    cr_expect_str_eq(other.rec[0].value, "r1");
    cr_expect_eq(other.rec[0].offset, 3);
    cr_expect_eq(td_test_metric(metrics, "td_bus_published_total"), 6);
    cr_expect_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* A publish is confirmed only after the last group finished it, whichever that is. */
Test(bus_local, publish_confirmed_after_every_group)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer fast = {.mode = TD_TEST_DONE_NOW}, slow = {.mode = TD_TEST_HOLD};
    static struct td_test_consumer other = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "task-events", "fast", td_test_consumer_handler, &fast) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "slow", td_test_consumer_handler, &slow) == 0);
    cr_assert(td_bus_subscribe(bus, "reminders", "other", td_test_consumer_handler, &other) == 0);
    cr_assert(td_bus_start(bus) == 0);

    struct td_test_pubres pr = {0};
    td_test_publish(bus, "task-events", "u1", "{\"a\":1}", NULL, &pr);
    cr_assert_eq(fast.n + slow.n, 0, "delivered inside td_bus_publish");
    cr_assert(td_test_run_until(&loop, &slow.n, 1, 2000), "the slow group never got it");
    cr_assert(td_test_run_until(&loop, &fast.n, 1, 2000), "the fast group never got it");
    td_test_run_for(&loop, 100);
    cr_assert_eq(other.n, 0, "a subscriber of another topic got it");
    cr_assert_eq(pr.calls, 0, "confirmed while the slow group still holds it");
    cr_assert_eq(td_bus_pending(bus), 2, "one publish and one message in a handler: %zu",
                 td_bus_pending(bus));
    td_test_release(&slow, 0, 0);
    td_test_run_until(&loop, &pr.calls, 1, 1000);
    cr_assert_eq(pr.calls, 1);
    cr_assert_eq(pr.status, 0);
    td_test_run_for(&loop, 50);
    cr_assert_eq(pr.calls, 1, "the callback ran twice");
    cr_assert_eq(fast.n, 1);
    cr_assert_eq(slow.n, 1);
    cr_assert_eq(handled("fast", "task-events", "ok"), 1);
    cr_assert_eq(handled("slow", "task-events", "ok"), 1);
    cr_assert_eq(td_bus_pending(bus), 0);

    /* the same the other way round: the slow group finishes first */
    struct td_test_pubres pr2 = {0};
    fast.mode = TD_TEST_HOLD;
    td_test_publish(bus, "task-events", "u1", "{\"a\":2}", NULL, &pr2);
    cr_assert(td_test_run_until(&loop, &slow.n, 2, 2000));
    cr_assert(td_test_run_until(&loop, &fast.n, 2, 2000));
    td_test_release(&slow, 0, 0);
    td_test_run_for(&loop, 50);
    cr_assert_eq(pr2.calls, 0, "confirmed while the fast group still holds it");
    td_test_release(&fast, 0, 0);
    td_test_run_until(&loop, &pr2.calls, 1, 1000);
    cr_assert_eq(pr2.calls, 1);

    /* a topic nobody subscribes to is delivered at once (nothing to wait for) */
    struct td_test_pubres pr3 = {0};
    td_test_publish(bus, "task-updates", "u1", "{}", NULL, &pr3);
    cr_assert(td_test_run_until(&loop, &pr3.calls, 1, 1000));
    cr_assert_eq(pr3.status, 0);
    close_all(bus);
}

/* Handlers answering inside the call: messages still come one by one from the loop, and
 * so do the publish callbacks. */
Test(bus_local, callbacks_come_from_the_loop)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct td_test_pubres pr[100];
    for (int i = 0; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        td_test_publish(bus, "t", "same", v,
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &pr[i]);
    }
    cr_assert_eq(c.n, 0);
    cr_assert(td_test_run_until(&loop, &pr[99].calls, 1, 5000));
    cr_assert_eq(c.n, 100);
    for (int i = 0; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        cr_assert_str_eq(c.rec[i].value, v);
        cr_assert_str_eq(c.rec[i].tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        cr_assert_eq(pr[i].calls, 1);
        cr_assert_eq(pr[i].status, 0);
    }
    close_all(bus);
}

/* One key keeps one of the 16 lanes, on every topic and in every group, and each group
 * gets its messages in publish order on its own: a group holding its first message does
 * not hold back another group. */
Test(bus_local, one_key_one_lane_each_group_in_order)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer fast = {.mode = TD_TEST_DONE_NOW}, slow = {.mode = TD_TEST_HOLD};
    static struct td_test_consumer rem = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "task-events", "fast", td_test_consumer_handler, &fast) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "slow", td_test_consumer_handler, &slow) == 0);
    cr_assert(td_bus_subscribe(bus, "reminders", "rem", td_test_consumer_handler, &rem) == 0);
    cr_assert(td_bus_start(bus) == 0);
    enum { KEYS = 12, PER_KEY = 10 };
    static struct td_test_pubres pr[KEYS * PER_KEY];
    for (int i = 0; i < PER_KEY; i++)
        for (int k = 0; k < KEYS; k++) {
            char key[16], val[32];
            snprintf(key, sizeof key, "user-%d", k);
            snprintf(val, sizeof val, "%d/%d", k, i);
            td_test_publish(bus, "task-events", key, val, NULL, &pr[i * KEYS + k]);
            if (i == 0)
                td_test_publish(bus, "reminders", key, val, NULL, NULL);
        }
    cr_assert(td_test_run_until(&loop, &fast.n, KEYS * PER_KEY, 3000), "fast group: %d", fast.n);
    td_test_run_for(&loop, 50);
    cr_expect_eq(fast.n, KEYS * PER_KEY, "the held group held the other one back");
    cr_expect_lt(slow.n, KEYS * PER_KEY);
    cr_expect_eq(slow.n, slow.nheld, "a second message entered a held lane");

    int32_t lane[KEYS];
    int next[KEYS] = {0};
    for (int j = 0; j < fast.n; j++) {
        int k, i;
        cr_assert_eq(sscanf(fast.rec[j].value, "%d/%d", &k, &i), 2);
        cr_expect_eq(i, next[k]++, "key %d out of order", k);
        cr_expect(fast.rec[j].partition >= 0 && fast.rec[j].partition < 16, "lane %d",
                  fast.rec[j].partition);
        if (i == 0)
            lane[k] = fast.rec[j].partition;
        cr_expect_eq(fast.rec[j].partition, lane[k], "key %d changed lanes", k);
    }
    for (int j = 0; j < rem.n; j++) {
        int k, i;
        cr_assert_eq(sscanf(rem.rec[j].value, "%d/%d", &k, &i), 2);
        cr_expect_eq(rem.rec[j].partition, lane[k], "key %d has another lane on another topic", k);
    }
    /* the slow group: release everything as it comes; each key still in order */
    double end = td_test_now_ms() + 5000;
    while (slow.n < KEYS * PER_KEY || slow.nheld) {
        cr_assert_lt(td_test_now_ms(), end, "slow group stuck at %d", slow.n);
        while (slow.nheld)
            td_test_release(&slow, 0, 0);
        uv_run(&loop, UV_RUN_ONCE);
    }
    memset(next, 0, sizeof next);
    for (int j = 0; j < slow.n; j++) {
        int k, i;
        cr_assert_eq(sscanf(slow.rec[j].value, "%d/%d", &k, &i), 2);
        cr_expect_eq(i, next[k]++, "slow group: key %d out of order", k);
        cr_expect_eq(slow.rec[j].partition, lane[k]);
    }
    cr_expect_eq(slow.overlap, 0);
    cr_assert(td_test_run_until(&loop, &pr[KEYS * PER_KEY - 1].calls, 1, 2000));
    cr_expect_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* A retry in one group: that group gets the message again after a growing backoff, the
 * others do not, and the publish waits for the retry to succeed. */
Test(bus_local, retry_in_one_group_holds_only_the_publish)
{
    struct td_bus *bus = open_bus(5);
    static const int script[] = {TD_BUS_RETRY, TD_BUS_WAIT, 0};
    static struct td_test_consumer ok = {.mode = TD_TEST_DONE_NOW};
    static struct td_test_consumer flaky = {.mode = TD_TEST_SCRIPT, .script = script};
    cr_assert(td_bus_subscribe(bus, "task-events", "ok", td_test_consumer_handler, &ok) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "flaky", td_test_consumer_handler, &flaky) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0}, q = {0};
    td_test_publish(bus, "task-events", "k", "first", NULL, &p);
    td_test_publish(bus, "task-events", "k", "second", NULL, &q);
    cr_assert(td_test_run_until(&loop, &ok.n, 2, 1000));
    cr_expect_eq(p.calls, 0, "confirmed before the flaky group succeeded");
    cr_assert(td_test_run_until(&loop, &q.calls, 1, 3000), "never confirmed");
    /* each message: a failure, a wait, then done */
    cr_assert_eq(flaky.n, 6, "flaky group: %d deliveries", flaky.n);
    for (int i = 0; i < 6; i++) {
        cr_expect_str_eq(flaky.rec[i].value, i < 3 ? "first" : "second",
                         "the key's next message overtook a retry");
        cr_expect_eq(flaky.rec[i].attempt, i % 3 + 1);
    }
    double gap1 = flaky.rec[1].at - flaky.rec[0].at, gap2 = flaky.rec[2].at - flaky.rec[1].at;
    cr_expect_geq(gap1, 95, "first retry after %.0f ms", gap1);
    cr_expect_geq(gap2, 195, "second retry after %.0f ms (no backoff growth)", gap2);
    cr_expect_geq(p.at, flaky.rec[2].at, "confirmed before the last attempt");
    cr_expect_geq(q.at, flaky.rec[5].at);
    cr_expect_eq(ok.n, 2, "the group that succeeded got the message again");
    cr_expect_eq(p.status, 0);
    cr_expect_eq(handled("flaky", "task-events", "retry"), 4);
    cr_expect_eq(handled("flaky", "task-events", "ok"), 2);
    cr_expect_eq(handled("ok", "task-events", "ok"), 2);
    cr_expect_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* Dead letters go to "<topic>.dlq" and reach the dead-letter subscription with their
 * error; the original counts as delivered only once that subscriber finished them. Two
 * groups on one topic share one dead-letter subscription. */
Test(bus_local, dead_letters_reach_the_dead_letter_subscription)
{
    struct td_bus *bus = open_bus(2);
    static struct td_test_consumer bad1 = {.mode = TD_TEST_REJECT}, bad2 = {.mode = TD_TEST_RETRY_ALWAYS};
    static struct td_test_consumer good = {.mode = TD_TEST_DONE_NOW}, rem = {.mode = TD_TEST_REJECT};
    static struct td_test_consumer dl = {.mode = TD_TEST_HOLD};
    cr_assert(td_bus_subscribe(bus, "task-events", "bad1", td_test_consumer_handler, &bad1) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "bad2", td_test_consumer_handler, &bad2) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "good", td_test_consumer_handler, &good) == 0);
    cr_assert(td_bus_subscribe(bus, "reminders", "rem", td_test_consumer_handler, &rem) == 0);
    cr_assert(td_bus_subscribe_dead_letters(bus, "dead", td_test_consumer_handler, &dl) == 0);
    cr_assert(td_bus_start(bus) == 0);

    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    struct td_test_pubres p = {0}, r = {0};
    td_test_publish(bus, "task-events", "u1", "{\"bad\":1}", tp, &p);
    /* one dead letter per failing group; they share a key, so they come one at a time */
    cr_assert(td_test_run_until(&loop, &dl.n, 1, 3000), "no dead letter");
    td_test_release(&dl, 0, 0);
    cr_assert(td_test_run_until(&loop, &dl.n, 2, 3000), "%d dead letters", dl.n);
    td_test_run_for(&loop, 100);
    cr_expect_eq(dl.n, 2, "%d dead letters for two failing groups", dl.n);
    cr_expect_eq(p.calls, 0, "confirmed with a dead letter still unstored");
    int saw_reject = 0, saw_retry = 0;
    for (int i = 0; i < dl.n; i++) {
        cr_expect_str_eq(dl.rec[i].topic, "task-events.dlq");
        cr_expect_str_eq(dl.rec[i].key, "u1");
        cr_expect_str_eq(dl.rec[i].value, "{\"bad\":1}");
        cr_expect_str_eq(dl.rec[i].tp, tp);
        saw_reject |= !strcmp(dl.rec[i].error, "not a valid event");
        saw_retry |= !strcmp(dl.rec[i].error, "database is down");
    }
    cr_expect(saw_reject && saw_retry, "errors: \"%s\", \"%s\"", dl.rec[0].error, dl.rec[1].error);
    cr_expect_eq(bad2.n, 2, "max_attempts 2: handled %d times", bad2.n);
    td_test_release(&dl, 0, 0);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 1000));
    cr_expect_eq(p.status, 0);
    cr_expect_eq(good.n, 1);

    td_test_publish(bus, "reminders", "u2", "{\"late\":1}", NULL, &r);
    cr_assert(td_test_run_until(&loop, &dl.n, 3, 2000));
    cr_expect_str_eq(dl.rec[2].topic, "reminders.dlq");
    td_test_release(&dl, 0, 0);
    cr_assert(td_test_run_until(&loop, &r.calls, 1, 1000));
    cr_expect_eq(handled("bad1", "task-events", "dead_letter"), 1);
    cr_expect_eq(handled("bad2", "task-events", "dead_letter"), 1);
    cr_expect_eq(handled("dead", "task-events.dlq", "ok"), 2);
    cr_expect_eq(td_bus_pending(bus), 0);
    close_all(bus);
}

/* With no dead-letter subscription the error log is the record, and the original still
 * counts as delivered (nothing would ever take it). */
Test(bus_local, dead_letter_nobody_stores_is_logged)
{
    int fds[2];
    cr_assert(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    struct td_log log = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = fds[1]};
    struct td_bus_opts o = {.driver = TD_BUS_LOCAL, .max_attempts = 3, .log = &log,
                            .metrics = metrics};
    struct td_bus *bus = NULL;
    cr_assert(td_bus_open(&loop, &o, &bus) == 0);
    static struct td_test_consumer bad = {.mode = TD_TEST_REJECT};
    cr_assert(td_bus_subscribe(bus, "task-events", "bad", td_test_consumer_handler, &bad) == 0);
    cr_assert(td_bus_start(bus) == 0);
    struct td_test_pubres p = {0};
    td_test_publish(bus, "task-events", "u7", "{\"lost\":true}", NULL, &p);
    cr_assert(td_test_run_until(&loop, &p.calls, 1, 2000));
    cr_expect_eq(p.status, 0);
    char buf[4096] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    cr_expect(strstr(buf, "dead letter on task-events.dlq") && strstr(buf, "u7") &&
              strstr(buf, "not a valid event") && strstr(buf, "lost"),
              "log: %s", buf);
    cr_expect_eq(handled("bad", "task-events", "dead_letter"), 1);
    close_all(bus);
    close(fds[0]);
    close(fds[1]);
}

/* A bus opened and closed without being started. */
Test(bus_local, close_without_start)
{
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer c = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "t", "g", td_test_consumer_handler, &c) == 0);
    char reason[64] = "";
    cr_assert_eq(td_bus_is_up(bus, reason, sizeof reason), 1, "local bus is always up");
    close_all(bus);
}

/* ---------- handlers that commit to PostgreSQL ---------- */

/* A group whose handler commits its effect with the pool and says done only then. */
struct committer {
    struct td_db *db;
    const char   *group;
    const char   *sql;   /* $1 group, $2 key, $3 value */
};

static void on_committed(int status, struct td_db_res *res, void *arg)
{
    td_bus_done(arg, status == 0 ? 0 : status == -EIO ? TD_BUS_RETRY : TD_BUS_WAIT,
                td_db_res_error(res));
}

static void commit_handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct committer *c = arg;
    const char *params[] = {c->group, msg->key, msg->value};
    int rc = td_db_exec_sql(c->db, c->sql, 3, params, on_committed, d);
    if (rc)
        td_bus_done(d, TD_BUS_WAIT, "pool refused");
}

/* Rows about one value, read when the publish is confirmed. */
struct confirm {
    int  calls;
    int  status;
    char value[32];
    long rows;
};

static void on_confirmed(int status, void *arg)
{
    struct confirm *c = arg;
    c->calls++;
    c->status = status;
    char q[200];
    snprintf(q, sizeof q, "select (select count(*) from effects where v = '%s') + "
                          "(select count(*) from dead where v = '%s')", c->value, c->value);
    char *v = td_test_pg_query(&pg, q);   /* blocking: another session, as a reader would */
    c->rows = v ? atol(v) : -1;
    free(v);
}

static struct td_db *open_pool(void)
{
    free(td_test_pg_query(&pg, "create table effects (grp text, k text, v text)"));
    free(td_test_pg_query(&pg, "create table dead (grp text, k text, v text)"));
    struct td_db_opts o = {.conninfo = pg.conninfo, .pool_size = 2, .log = &quiet};
    struct td_db *db = NULL;
    cr_assert(td_db_open(&loop, &o, &db) == 0);
    return db;
}

TestSuite(bus_local_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 60);

/* When the publish is confirmed, every group's effect is committed and visible to other
 * sessions, the slow group's too. */
Test(bus_local_pg, confirmed_only_after_every_group_committed)
{
    struct td_db *db = open_pool();
    struct td_bus *bus = open_bus(3);
    static struct committer fast = {
        .group = "fast", .sql = "insert into effects values ($1::text, $2::text, $3::text)"};
    static struct committer slow = {
        .group = "slow",
        .sql = "insert into effects select $1::text, $2::text, $3::text from pg_sleep(0.3)"};
    fast.db = slow.db = db;
    cr_assert(td_bus_subscribe(bus, "task-events", "fast", commit_handler, &fast) == 0);
    cr_assert(td_bus_subscribe(bus, "task-events", "slow", commit_handler, &slow) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct confirm c[5];
    for (int i = 0; i < 5; i++) {
        snprintf(c[i].value, sizeof c[i].value, "v%d", i);
        cr_assert(td_bus_publish(bus, "task-events", i % 2 ? "a" : "b", c[i].value,
                                 strlen(c[i].value), NULL, on_confirmed, &c[i]) == 0);
    }
    for (int i = 0; i < 5; i++)
        cr_assert(td_test_run_until(&loop, &c[i].calls, 1, 10000), "%s never confirmed", c[i].value);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(c[i].status, 0);
        cr_expect_eq(c[i].rows, 2, "%s confirmed with %ld of 2 effects committed", c[i].value,
                     c[i].rows);
    }
    close_all_with(bus, db);
}

/* A dead letter is stored (as core/svc.c stores them) before the original counts as
 * delivered. */
Test(bus_local_pg, dead_letter_stored_before_the_original_counts)
{
    struct td_db *db = open_pool();
    struct td_bus *bus = open_bus(3);
    static struct td_test_consumer bad = {.mode = TD_TEST_REJECT};
    static struct committer store = {
        .group = "dead-letters",
        .sql = "insert into dead select $1::text, $2::text, $3::text from pg_sleep(0.2)"};
    store.db = db;
    cr_assert(td_bus_subscribe(bus, "task-events", "bad", td_test_consumer_handler, &bad) == 0);
    cr_assert(td_bus_subscribe_dead_letters(bus, "dead-letters", commit_handler, &store) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct confirm c = {.value = "poison"};
    cr_assert(td_bus_publish(bus, "task-events", "u1", c.value, strlen(c.value), NULL,
                             on_confirmed, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.calls, 1, 10000));
    cr_expect_eq(c.status, 0);
    cr_expect_eq(c.rows, 1, "confirmed before the dead letter was stored");
    cr_expect_eq(bad.n, 1);
    close_all_with(bus, db);
}

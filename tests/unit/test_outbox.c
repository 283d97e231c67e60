/* core/outbox.c: the outbox relay against a real PostgreSQL (tests/support/pg_harness.h,
 * migrations applied) and a real bus on a real libuv loop. Rows are written with blocking
 * libpq from the test, as another process would; a subscriber on the local bus records
 * what the relay published. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>


#include "core/buf.h"
#include "core/bus.h"
#include "core/db.h"
#include "core/embed.h"
#include "core/metrics.h"
#include "core/migrate.h"
#include "core/outbox.h"
#include "tests/support/loop_harness.h"
#include "tests/support/kafka_harness.h"
#include "tests/support/pg_harness.h"

static struct td_test_pg pg;
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
    td_test_pg_start(&pg);
    char err[256] = "";
    int applied = 0;
    int rc = td_migrate_apply(pg.conninfo, td_migrations, td_migrations_count, &quiet, &applied,
                              err, sizeof err);
    cr_assert_eq(rc, 0, "migrations: %s", err);
    cr_assert(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    cr_assert(td_metrics_new(&metrics) == 0);
}

static void teardown(void)
{
    td_metrics_free(metrics);
    td_test_pg_destroy(&pg);
}




/* One blocking SQL statement; its first value as an integer. */
static long q_long(const char *sql)
{
    char *v = td_test_pg_query(&pg, sql);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

static void q(const char *sql)
{
    free(td_test_pg_query(&pg, sql));
}

/* A row, as a writer's transaction would leave it. */
static void insert_row(const char *topic, const char *key, int n)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
             "'%s', '%s', '{\"k\":\"%s\",\"n\":%d}'::jsonb)", topic, key, key, n);
    q(sql);
}

static long unpublished(void)
{
    return q_long("SELECT count(*) FROM outbox WHERE published_at IS NULL");
}

/* Runs the loop until no row is left unpublished. */
static int run_until_published(int ms)
{
    double end = td_test_now_ms() + ms;
    while (td_test_now_ms() < end) {
        if (unpublished() == 0)
            return 1;
        td_test_run_for(&loop, 20);
    }
    return unpublished() == 0;
}

/* ------------------------------------------------------------ a recording consumer */

enum { MAXREC = 512 };

struct rec {
    char   key[32];
    int    n;
    char   tp[64];
    double at;
};

struct consumer {
    int                     n;
    struct rec              rec[MAXREC];
    int                     hold;      /* keep messages in the handler */
    struct td_bus_delivery *held[MAXREC];
    int                     nheld;
};

static void handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct consumer *c = arg;
    cr_assert(c->n < MAXREC);
    struct rec *r = &c->rec[c->n++];
    snprintf(r->key, sizeof r->key, "%s", msg->key);
    char k[32] = "";
    r->n = -1;
    /* jsonb text: {"k": "k1", "n": 3} */
    cr_assert_eq(sscanf(msg->value, "{\"k\": \"%31[^\"]\", \"n\": %d}", k, &r->n), 2, "event %s",
                 msg->value);
    cr_assert_str_eq(k, msg->key);
    snprintf(r->tp, sizeof r->tp, "%s", msg->traceparent);
    r->at = td_test_now_ms();
    if (c->hold) {
        c->held[c->nheld++] = d;
        return;
    }
    td_bus_done(d, 0, NULL);
}

static void release_all(struct consumer *c)
{
    while (c->nheld > 0)
        td_bus_done(c->held[--c->nheld], 0, NULL);
}

static int count(const struct consumer *c, const char *key, int n)
{
    int hits = 0;
    for (int i = 0; i < c->n; i++)
        hits += strcmp(c->rec[i].key, key) == 0 && c->rec[i].n == n;
    return hits;
}

/* ------------------------------------------------------------ bus, pool and relays */

struct world {
    struct td_bus *bus;
    struct td_db  *pool;
    int            closed;
};

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void world_open(struct world *w, struct consumer *c)
{
    memset(w, 0, sizeof *w);
    struct td_bus_opts bo = {.driver = TD_BUS_LOCAL, .log = &quiet, .metrics = metrics};
    cr_assert(td_bus_open(&loop, &bo, &w->bus) == 0);
    if (c)
        cr_assert(td_bus_subscribe(w->bus, "task-events", "g", handler, c) == 0);
    cr_assert(td_bus_start(w->bus) == 0);
    struct td_db_opts dbo = {.conninfo = pg.conninfo, .pool_size = 1, .log = &quiet};
    cr_assert(td_db_open(&loop, &dbo, &w->pool) == 0);
}

static struct td_outbox *relay_open(struct world *w)
{
    struct td_outbox_opts o = {.conninfo = pg.conninfo, .bus = w->bus, .pool = w->pool,
                               .log = &quiet, .metrics = metrics};
    struct td_outbox *ob = NULL;
    cr_assert(td_outbox_open(&loop, &o, &ob) == 0);
    cr_assert(ob);
    return ob;
}

static int wait_leader(struct td_outbox *ob, int ms)
{
    double end = td_test_now_ms() + ms;
    while (!td_outbox_is_leader(ob) && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return td_outbox_is_leader(ob);
}

static void relay_close(struct td_outbox *ob)
{
    int closed = 0;
    td_outbox_close(ob, on_closed, &closed);
    cr_assert(td_test_run_until(&loop, &closed, 1, 5000), "the relay did not close");
}

/* In the process's order (core/svc.c): bus, relays, pool; then the loop must be empty. */
static void world_close(struct world *w, struct td_outbox **relays, int n)
{
    int closed = 0, want = 2 + n;
    td_bus_close(w->bus, on_closed, &closed);
    for (int i = 0; i < n; i++)
        if (relays[i])
            td_outbox_close(relays[i], on_closed, &closed);
        else
            want--;
    td_db_close(w->pool, on_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, want, "%d of %d close callbacks ran", closed, want);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

TestSuite(outbox, .init = setup, .fini = teardown, .timeout = 60);

/* (a) Rows are published in seq order per key, with their traceparent, and marked
 * published only once the bus confirmed them (on the local bus: once the handler is
 * done). */
Test(outbox, publishes_in_order_and_marks_rows)
{
    static struct consumer c;
    struct world w;
    world_open(&w, &c);
    const char *keys[] = {"k1", "k2", "k3"};
    for (int i = 0; i < 20; i++)
        for (int k = 0; k < 3; k++)
            insert_row("task-events", keys[k], i);
    q("INSERT INTO outbox (event_id, topic, key, event, headers) VALUES (gen_random_uuid(), "
      "'task-events', 'k1', '{\"k\":\"k1\",\"n\":20}'::jsonb, "
      "'{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}')");
    q("INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
      "'reminders', 'k9', '{\"k\":\"k9\",\"n\":0}'::jsonb)");   /* nobody subscribes */
    cr_assert_eq(unpublished(), 62);

    struct td_outbox *ob = relay_open(&w);
    cr_assert(wait_leader(ob, 5000), "the only relay never took the lease");
    cr_assert(td_test_run_until(&loop, &c.n, 61, 5000), "the subscriber got %d of 61", c.n);
    cr_assert(run_until_published(3000), "%ld row(s) not marked published", unpublished());
    td_test_run_for(&loop, 100);
    cr_assert_eq(c.n, 61, "%d deliveries for 61 rows", c.n);
    int next[3] = {0};
    for (int i = 0; i < c.n; i++) {
        int k = c.rec[i].key[1] - '1';
        cr_assert(k >= 0 && k < 3, "key %s", c.rec[i].key);
        cr_assert_eq(c.rec[i].n, next[k], "%s: event %d came when %d was due", c.rec[i].key,
                     c.rec[i].n, next[k]);
        next[k]++;
        cr_assert_str_eq(c.rec[i].tp, c.rec[i].n == 20
                                          ? "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                                          : "");
    }
    cr_assert_eq(next[0], 21);
    cr_assert_eq(q_long("SELECT count(*) FROM outbox WHERE publish_error IS NOT NULL"), 0);
    cr_assert_eq(td_test_metric(metrics, "td_outbox_published_total"), 62);
    cr_assert_eq(td_test_metric(metrics, "td_outbox_leader"), 1);

    /* a row whose handler has not finished stays unpublished */
    c.hold = 1;
    insert_row("task-events", "k2", 20);
    td_outbox_wake(ob);
    cr_assert(td_test_run_until(&loop, &c.n, 62, 2000));
    td_test_run_for(&loop, 300);
    cr_assert_eq(unpublished(), 1, "marked published while the handler still works on it");
    release_all(&c);
    cr_assert(run_until_published(2000), "not marked published after the handler finished");
    cr_assert_eq(count(&c, "k2", 20), 1);
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
}

/* The wake-up path: time from insert to delivery, measured several times so a sweep
 * landing by chance cannot make a broken wake-up pass. */
static double wake_latency(struct consumer *c, const char *key, int n, int notify, struct td_outbox *ob)
{
    int before = c->n;
    char sql[512];
    double t0 = td_test_now_ms();
    if (notify) {   /* another process: insert and NOTIFY in one transaction */
        snprintf(sql, sizeof sql,
                 "WITH i AS (INSERT INTO outbox (event_id, topic, key, event) VALUES "
                 "(gen_random_uuid(), 'task-events', '%s', '{\"k\":\"%s\",\"n\":%d}'::jsonb) "
                 "RETURNING seq) SELECT pg_notify('todod_outbox', '') FROM i", key, key, n);
        q(sql);
    } else {
        insert_row("task-events", key, n);
        td_outbox_wake(ob);
    }
    cr_assert(td_test_run_until(&loop, &c->n, before + 1, 3000), "the row never came");
    return td_test_now_ms() - t0;
}

/* (b) td_outbox_wake, and a NOTIFY todod_outbox from another connection, get a row out in
 * well under the 1 s sweep. */
Test(outbox, wake_and_notify_are_fast)
{
    static struct consumer c;
    struct world w;
    world_open(&w, &c);
    struct td_outbox *ob = relay_open(&w);
    cr_assert(wait_leader(ob, 5000));
    td_test_run_for(&loop, 200);
    for (int i = 0; i < 5; i++) {
        double ms = wake_latency(&c, "w", i, 0, ob);
        cr_assert_lt(ms, 200, "td_outbox_wake: row %d out after %.0f ms", i, ms);
        td_test_run_for(&loop, 90 + 37 * i);   /* land at different points of the sweep period */
    }
    for (int i = 0; i < 5; i++) {
        double ms = wake_latency(&c, "n", i, 1, ob);
        cr_assert_lt(ms, 200, "NOTIFY: row %d out after %.0f ms", i, ms);
        td_test_run_for(&loop, 90 + 37 * i);
    }
    cr_assert(run_until_published(2000));
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
}

/* A row committed while the relay's SELECT is already on its way, with td_outbox_wake
 * called for it before the answer is read: the wake-up must not be lost (the writer's
 * commit happened after the relay's snapshot, so only a new fetch finds the row). */
Test(outbox, wake_during_fetch_is_not_lost)
{
    static struct consumer c;
    struct world w;
    world_open(&w, &c);
    struct td_outbox *ob = relay_open(&w);
    cr_assert(wait_leader(ob, 5000));
    /* find the sweep's phase: a row inserted without a wake-up comes with the sweep */
    insert_row("task-events", "s", 0);
    cr_assert(td_test_run_until(&loop, &c.n, 1, 3000));
    td_test_run_for(&loop, 50);
    for (int round = 0; round < 2; round++) {
        int base = c.n;
        insert_row("task-events", "a", round);
        td_outbox_wake(ob);      /* the SELECT is sent now */
        usleep(300 * 1000);      /* ... and answered, the answer not read yet */
        insert_row("task-events", "b", round);
        double t0 = td_test_now_ms();
        td_outbox_wake(ob);      /* the writer of "b" committed: wake the relay */
        cr_assert(td_test_run_until(&loop, &c.n, base + 2, 3000), "\"b\" never came");
        double ms = td_test_now_ms() - t0;
        cr_assert_eq(count(&c, "a", round), 1);
        cr_assert_eq(count(&c, "b", round), 1);
        cr_assert_lt(ms, 200, "round %d: the row woken for during a fetch came after %.0f ms "
                              "(with the next sweep: the wake-up was lost)", round, ms);
        td_test_run_for(&loop, 100);
    }
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
}

/* (c) Two relays: exactly one holds the lease; a wake-up at the standby reaches the leader
 * (NOTIFY through the pool); closing the leader hands the lease over within ~2 s. */
Test(outbox, one_leader_and_takeover)
{
    static struct consumer c;
    struct world w;
    world_open(&w, &c);
    struct td_outbox *a = relay_open(&w);
    cr_assert(wait_leader(a, 5000));
    struct td_outbox *b = relay_open(&w);
    td_test_run_for(&loop, 2500);   /* the standby has asked for the lease at least twice */
    cr_assert_eq(td_outbox_is_leader(a) + td_outbox_is_leader(b), 1, "leaders: a=%d b=%d",
                 td_outbox_is_leader(a), td_outbox_is_leader(b));
    cr_assert(td_outbox_is_leader(a));
    cr_assert_eq(q_long("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"),
                 1);

    /* the writer's process is the standby: its wake-up goes by NOTIFY to the leader */
    double t0 = td_test_now_ms();
    insert_row("task-events", "x", 1);
    td_outbox_wake(b);
    cr_assert(td_test_run_until(&loop, &c.n, 1, 3000));
    double ms = td_test_now_ms() - t0;
    cr_assert_lt(ms, 300, "a wake-up at the standby took %.0f ms", ms);
    cr_assert(run_until_published(2000));

    /* the leader goes away: the standby takes over and publishes */
    relay_close(a);
    a = NULL;
    t0 = td_test_now_ms();
    double end = t0 + 5000;
    while (!td_outbox_is_leader(b) && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    double took = td_test_now_ms() - t0;
    cr_assert(td_outbox_is_leader(b), "the standby never took over");
    cr_assert_lt(took, 2500, "the standby took over after %.0f ms", took);
    insert_row("task-events", "x", 2);
    td_outbox_wake(b);
    cr_assert(td_test_run_until(&loop, &c.n, 2, 3000), "the new leader did not publish");
    cr_assert(run_until_published(2000));
    td_test_run_for(&loop, 200);
    cr_assert_eq(c.n, 2, "%d deliveries for 2 rows", c.n);
    cr_assert_eq(count(&c, "x", 1), 1);
    cr_assert_eq(count(&c, "x", 2), 1);
    struct td_outbox *relays[] = {a, b};
    world_close(&w, relays, 2);
}

/* (e) Closing with a batch in the bus's hands (a handler still working) and rows not yet
 * fetched: everything is freed, the loop closes, and the unfinished rows stay unpublished
 * for the next relay. */
Test(outbox, close_with_a_batch_in_flight)
{
    static struct consumer c = {.hold = 1};
    struct world w;
    world_open(&w, &c);
    for (int i = 0; i < 5; i++)
        insert_row("task-events", "k", i);
    struct td_outbox *ob = relay_open(&w);
    cr_assert(wait_leader(ob, 5000));
    cr_assert(td_test_run_until(&loop, &c.n, 1, 3000));
    td_test_run_for(&loop, 100);
    cr_assert_eq(c.n, 1, "one key: one message in the handler");
    insert_row("task-events", "k", 5);
    td_outbox_wake(ob);
    td_test_run_for(&loop, 50);
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
    cr_assert_eq(unpublished(), 6, "rows marked published though never confirmed");
}

/* A relay closed before it ever connected (PostgreSQL unreachable). */
Test(outbox, close_before_connected)
{
    struct world w;
    world_open(&w, NULL);
    struct td_outbox_opts o = {.conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
                               .bus = w.bus, .pool = w.pool, .log = &quiet};
    struct td_outbox *ob = NULL;
    cr_assert(td_outbox_open(&loop, &o, &ob) == 0);
    td_test_run_for(&loop, 300);
    cr_assert_eq(td_outbox_is_leader(ob), 0);
    td_outbox_wake(ob);   /* not the leader: a NOTIFY through the pool */
    td_test_run_for(&loop, 100);
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
}

/* (d) A row the bus refuses for good (here: larger than the Kafka producer's
 * message.max.bytes, which librdkafka refuses inside the publish call) is marked with
 * publish_error and does not hold up the rows behind it. */
Test(outbox, refused_row_does_not_block_the_rest)
{
    struct td_test_kafka kafka;
    const char *topics[] = {"task-events:1", "task-events.dlq:1", "reminders:1",
                            "task-updates:1", NULL};
    td_test_kafka_start(&kafka, topics);
    struct world w;
    memset(&w, 0, sizeof w);
    struct td_bus_opts bo = {.driver = TD_BUS_KAFKA, .brokers = kafka.bootstraps,
                             .partitions = 1, .log = &quiet, .metrics = metrics};
    cr_assert(td_bus_open(&loop, &bo, &w.bus) == 0);
    cr_assert(td_bus_start(w.bus) == 0);
    struct td_db_opts dbo = {.conninfo = pg.conninfo, .pool_size = 1, .log = &quiet};
    cr_assert(td_db_open(&loop, &dbo, &w.pool) == 0);

    q("INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
      "'task-events', 'big', jsonb_build_object('pad', repeat('x', 1200000)))");
    insert_row("task-events", "small", 1);
    struct td_outbox *ob = relay_open(&w);
    cr_assert(wait_leader(ob, 5000));
    double end = td_test_now_ms() + 6000;
    while (td_test_now_ms() < end && unpublished() > 0)
        td_test_run_for(&loop, 100);
    long stuck = unpublished();
    long refused = q_long("SELECT count(*) FROM outbox WHERE key = 'big' AND "
                          "publish_error IS NOT NULL");
    long small = q_long("SELECT count(*) FROM outbox WHERE key = 'small' AND "
                        "published_at IS NOT NULL AND publish_error IS NULL");
    struct td_outbox *relays[] = {ob};
    world_close(&w, relays, 1);
    td_test_kafka_stop(&kafka);
    cr_assert_eq(small, 1, "the row behind a refused one was never published");
    cr_assert_eq(refused, 1, "the refused row was not marked with publish_error");
    cr_assert_eq(stuck, 0);
}

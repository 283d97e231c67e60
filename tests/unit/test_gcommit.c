/* core/gcommit.c: group commit against a real PostgreSQL (tests/support/pg_harness.h) on
 * a real libuv loop. The test is the module's caller: its items are integers inserted
 * into a table whose CHECK refuses negatives, so one bad item fails a whole statement. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/gcommit.h"
#include "core/metrics.h"
#include "tests/support/loop_harness.h"
#include "tests/support/pg_harness.h"

static struct td_test_pg pg;
static uv_loop_t loop;
static uv_timer_t tick;       /* keeps UV_RUN_ONCE from sleeping; redelivers put-back items */
static uv_prepare_t polls;    /* counts the loop's trips into poll */
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static struct td_metrics *metrics;
static struct td_db *db;

#define INSERT_ROWS "INSERT INTO items (n) SELECT x::int FROM jsonb_array_elements_text($1::jsonb) " \
                    "WITH ORDINALITY AS a(x, o)"

/* ------------------------------------------------------------------ the caller */

enum { MAXI = 64, MAXB = 256 };
enum { OPEN, COMMITTED, ANSWERED_BAD };
enum { PUT_BACK, RETRY_EACH };   /* what the completion asks for when a statement fails */

struct item {
    int  n;
    int  state;
    int  backs;          /* times handed back */
    int  last_back;      /* its status */
    char sqlstate[6];    /* ANSWERED_BAD: the error the caller answered with */
};

static struct {
    struct td_gcommit *g;
    int                mode;
    int                resend;        /* a refused first attempt is sent again, safe form */
    int                redeliver;     /* items back as AGAIN are added again next tick */
    const char        *stmt;
    struct item        it[MAXI];
    int                sizes[MAXB], attempts[MAXB], nsent;
    int                polls_at_send[MAXB];
    int                inflight, max_inflight_seen;
    int                back_n[MAXB], back_status[MAXB], nback;
    struct item       *again[MAXI];
    int                nagain;
    int                polls;
} C;

static void on_result(int status, struct td_db_res *res, void *arg);

static int send_items(struct td_gcommit_batch *b, void *arg)
{
    cr_assert_eq(arg, &C);
    int n;
    void *const *items = td_gcommit_items(b, &n);
    cr_assert(C.nsent < MAXB);
    C.sizes[C.nsent] = n;
    C.attempts[C.nsent] = td_gcommit_attempt(b);
    C.polls_at_send[C.nsent++] = C.polls;
    struct td_buf j = {0};
    td_buf_puts(&j, "[");
    for (int i = 0; i < n; i++)
        td_buf_printf(&j, "%s%d", i ? "," : "", ((struct item *)items[i])->n);
    td_buf_puts(&j, "]");
    const char *params[] = {j.data};
    const char *stmt = td_gcommit_attempt(b) > 1 ? "gc_insert_safe" : C.stmt;
    int rc = td_db_exec(db, stmt, 1, params, on_result, b);
    td_buf_free(&j);
    if (rc == 0 && ++C.inflight > C.max_inflight_seen)
        C.max_inflight_seen = C.inflight;
    return rc;
}

static int returned(struct td_db_res *res, int n)
{
    for (int r = 0; r < td_db_res_rows(res); r++)
        if (atoi(td_db_res_value(res, r, 0)) == n)
            return 1;
    return 0;
}

static void on_result(int status, struct td_db_res *res, void *arg)
{
    struct td_gcommit_batch *b = arg;
    C.inflight--;
    int n;
    void *const *items = td_gcommit_items(b, &n);
    if (status == -EIO && C.resend && td_gcommit_attempt(b) == 1) {
        td_gcommit_resend(b);
        return;
    }
    if (status == 0) {
        for (int i = 0; i < n; i++) {
            struct item *it = items[i];
            it->state = returned(res, it->n) ? COMMITTED : ANSWERED_BAD;
        }
        td_gcommit_done(b, 0, NULL);
    } else if (status == -EIO && C.mode == RETRY_EACH) {
        for (int i = 0; i < n; i++) {
            struct item *it = items[i];
            if (n > 1) {
                td_gcommit_retry(b, i);
            } else {
                it->state = ANSWERED_BAD;
                snprintf(it->sqlstate, sizeof it->sqlstate, "%s", td_db_res_sqlstate(res));
            }
        }
        td_gcommit_done(b, 0, NULL);
    } else {
        td_gcommit_done(b, status == -EIO ? TD_GCOMMIT_REFUSED : status, td_db_res_error(res));
    }
}

static void on_back(void *item, int status, const char *why, void *arg)
{
    cr_assert_eq(arg, &C);
    cr_assert(why);
    struct item *it = item;
    it->backs++;
    it->last_back = status;
    cr_assert(C.nback < MAXB);
    C.back_n[C.nback] = it->n;
    C.back_status[C.nback++] = status;
    if (C.redeliver && status == TD_GCOMMIT_AGAIN)
        C.again[C.nagain++] = it;
}

/* Like the bus: what came back goes in again a little later, in the order it came back. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
    int n = C.nagain;
    C.nagain = 0;
    for (int i = 0; i < n; i++)
        cr_assert_eq(td_gcommit_add(C.g, C.again[i]), 0);
}

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
    C.polls++;
}

static void open_gcommit(int max_batch, int max_inflight, int max_queue)
{
    struct td_gcommit_opts o = {.name = "test", .max_batch = max_batch,
                                .max_inflight = max_inflight, .max_queue = max_queue,
                                .send = send_items, .back = on_back, .arg = &C, .log = &quiet,
                                .metrics = metrics, .size_metric = "td_test_batch_size"};
    cr_assert_eq(td_gcommit_new(&loop, &o, &C.g), 0);
}

/* Items numbered by their index; a test makes the bad ones negative (the CHECK refuses them). */
static void make_items(int from, int count)
{
    for (int i = from; i < from + count; i++)
        C.it[i] = (struct item){.n = i};
}

static void add_items(int from, int count)
{
    for (int i = from; i < from + count; i++)
        cr_assert_eq(td_gcommit_add(C.g, &C.it[i]), 0);
}

static int settled(int from, int count)
{
    for (int i = from; i < from + count; i++)
        if (C.it[i].state == OPEN && C.it[i].last_back != TD_GCOMMIT_REFUSED)
            return 0;
    return 1;
}

static int run_until_settled(int from, int count, int ms)
{
    double end = td_test_now_ms() + ms;
    while (!settled(from, count) && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return settled(from, count);
}

static int run_until_backs(int want, int ms)
{
    double end = td_test_now_ms() + ms;
    while (C.nback < want && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return C.nback >= want;
}

static long q_long(const char *sql)
{
    char *v = td_test_pg_query(&pg, sql);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

/* ------------------------------------------------------------------ fixture */

static void setup(void)
{
    memset(&C, 0, sizeof C);
    C.stmt = "gc_insert";
    td_test_pg_start(&pg);
    free(td_test_pg_query(&pg, "CREATE TABLE items (seq bigserial, n int PRIMARY KEY CHECK (n >= 0))"));
    cr_assert(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uv_prepare_init(&loop, &polls);
    uv_prepare_start(&polls, on_prepare);
    cr_assert(td_metrics_new(&metrics) == 0);
    static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
    cr_assert(td_metrics_describe(metrics, "td_test_batch_size", TD_METRIC_HISTOGRAM, "sizes",
                                  sizes, 7) == 0);
    struct td_db_opts o = {.conninfo = pg.conninfo, .pool_size = 2, .log = &quiet};
    cr_assert(td_db_open(&loop, &o, &db) == 0);
    cr_assert(td_db_prepare(db, "gc_insert", INSERT_ROWS " ORDER BY o RETURNING n", 1) == 0);
    /* The second form: what the CHECK would refuse is skipped instead. */
    cr_assert(td_db_prepare(db, "gc_insert_safe", INSERT_ROWS " WHERE x::int >= 0 ORDER BY o "
                                                  "RETURNING n", 1) == 0);
    cr_assert(td_db_prepare(db, "gc_slow", INSERT_ROWS " CROSS JOIN (SELECT pg_sleep(0.3)) s "
                                           "ORDER BY o RETURNING n", 1) == 0);
    double end = td_test_now_ms() + 10000;
    while (!td_db_is_up(db, NULL, 0) && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert(td_db_is_up(db, NULL, 0), "the database did not come up");
}

static void teardown(void)
{
    td_metrics_free(metrics);
    td_test_pg_destroy(&pg);
}

static void on_db_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Closes everything; the loop must be left empty and nothing leaked (g frees itself). */
static void finish(void)
{
    int closed = 0;
    td_gcommit_close(C.g);
    td_db_close(db, on_db_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&polls, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, 1);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_assert_no_leaks();
}

TestSuite(gcommit, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ tests */

static void add_ten(uv_timer_t *t)
{
    add_items(0, 10);
    *(int *)t->data = C.polls;
}

/* Work queued from a timer goes out in the same loop turn, before the loop sleeps in poll
 * again, and all of it in one statement. */
Test(gcommit, what_one_turn_queues_goes_in_one_statement_before_the_next_poll)
{
    open_gcommit(64, 1, 100);
    make_items(0, 10);
    uv_timer_t once;
    int polls_at_add = -1;
    uv_timer_init(&loop, &once);
    once.data = &polls_at_add;
    uv_timer_start(&once, add_ten, 20, 0);
    cr_assert(run_until_settled(0, 10, 5000));
    cr_assert_eq(C.nsent, 1, "%d statements", C.nsent);
    cr_expect_eq(C.sizes[0], 10);
    cr_expect_eq(C.polls_at_send[0], polls_at_add, "the loop polled before the batch went");
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 10);
    cr_expect_eq(td_test_metric(metrics, "td_test_batch_size_count"), 1);
    cr_expect_eq(td_test_metric(metrics, "td_test_batch_size_sum"), 10);
    cr_expect_eq(C.nback, 0);
    uv_close((uv_handle_t *)&once, NULL);
    finish();
}

Test(gcommit, batches_hold_at_most_max_batch_items_and_at_most_max_inflight_go_at_once)
{
    open_gcommit(4, 2, 100);
    make_items(0, 22);
    add_items(0, 22);
    cr_assert(run_until_settled(0, 22, 5000));
    int expect[] = {4, 4, 4, 4, 4, 2};
    cr_assert_eq(C.nsent, 6, "%d statements", C.nsent);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(C.sizes[i], expect[i], "statement %d had %d items", i, C.sizes[i]);
    cr_expect_eq(C.max_inflight_seen, 2);
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 22);
    cr_expect_eq(td_test_metric(metrics, "td_test_batch_size_count"), 6);
    finish();
}

Test(gcommit, a_full_queue_refuses_the_item_and_keeps_what_it_took)
{
    open_gcommit(64, 1, 5);
    make_items(0, 6);
    add_items(0, 5);
    cr_expect_eq(td_gcommit_add(C.g, &C.it[5]), -ENOBUFS);
    cr_assert(run_until_settled(0, 5, 5000));
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 5);
    cr_expect_eq(C.it[5].state, OPEN);
    cr_expect_eq(C.it[5].backs, 0, "an item refused by add is never the module's");
    finish();
}

/* A refused statement is not blamed on its items: the batch size halves (the items come
 * back to be sent again) until the bad item is alone; only then does it come back as
 * refused, and every good item commits, in order. */
Test(gcommit, a_refused_batch_is_halved_until_the_culprit_is_alone)
{
    open_gcommit(8, 1, 100);
    C.redeliver = 1;
    make_items(0, 8);
    C.it[5].n = -5;
    add_items(0, 8);
    cr_assert(run_until_settled(0, 8, 10000));
    int expect[] = {8, 4, 4, 2, 1, 2, 1, 1, 1};
    int nexpect = (int)(sizeof expect / sizeof expect[0]);
    cr_expect_eq(C.nsent, nexpect, "%d statements", C.nsent);
    for (int i = 0; i < nexpect && i < C.nsent; i++)
        cr_expect_eq(C.sizes[i], expect[i], "statement %d had %d items", i, C.sizes[i]);
    for (int i = 0; i < 8; i++) {
        if (i == 5)
            continue;
        cr_expect_eq(C.it[i].state, COMMITTED, "item %d", i);
        cr_expect_neq(C.it[i].last_back, TD_GCOMMIT_REFUSED, "good item %d was blamed", i);
    }
    cr_expect_eq(C.it[5].last_back, TD_GCOMMIT_REFUSED);
    int blamed = 0;
    for (int i = 0; i < C.nback; i++)
        blamed += C.back_status[i] == TD_GCOMMIT_REFUSED;
    cr_expect_eq(blamed, 1);
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 7);
    cr_expect_eq(q_long("SELECT count(*) FROM (SELECT n < lag(n) OVER (ORDER BY seq) AS back "
                        "FROM items) x WHERE back"), 0, "a later item committed first");
    finish();
}

Test(gcommit, successes_double_the_batch_size_back)
{
    open_gcommit(8, 1, 100);
    make_items(0, 17);
    C.it[0].n = -100;
    C.it[1].n = -101;
    add_items(0, 2);   /* refused: the size limit halves to 1 */
    cr_assert(run_until_backs(2, 5000));
    cr_expect_eq(C.back_status[0], TD_GCOMMIT_AGAIN);
    cr_expect_eq(C.back_status[1], TD_GCOMMIT_AGAIN);
    add_items(2, 15);
    cr_assert(run_until_settled(2, 15, 5000));
    int expect[] = {2, 1, 2, 4, 8};
    cr_assert_eq(C.nsent, 5, "%d statements", C.nsent);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(C.sizes[i], expect[i], "statement %d had %d items", i, C.sizes[i]);
    finish();
}

static void add_later(uv_timer_t *t)
{
    (void)t;
    add_items(4, 6);
}

/* With one statement in flight, a failure takes back what queued behind it too, after its
 * own items and in order: nothing queued later can commit before them. */
Test(gcommit, a_failed_batch_takes_the_queue_back_behind_its_own_items)
{
    open_gcommit(4, 1, 100);
    C.stmt = "gc_slow";
    make_items(0, 10);
    C.it[1].n = -1;
    add_items(0, 4);
    uv_timer_t later;
    uv_timer_init(&loop, &later);
    uv_timer_start(&later, add_later, 100, 0);   /* while the slow statement runs */
    cr_assert(run_until_backs(10, 5000));
    cr_assert_eq(C.nsent, 1, "only the first batch went");
    int order[] = {0, -1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < 10; i++) {
        cr_expect_eq(C.back_n[i], order[i], "handed back %d at %d", C.back_n[i], i);
        cr_expect_eq(C.back_status[i], TD_GCOMMIT_AGAIN);
    }
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 0);
    uv_close((uv_handle_t *)&later, NULL);
    finish();
}

/* The other answer to a failed statement: each item again, alone and at once (beyond
 * max_inflight), so only the bad one fails; the caller answers it with the error. */
Test(gcommit, retried_items_go_alone_so_only_the_bad_one_fails)
{
    open_gcommit(8, 2, 100);
    C.mode = RETRY_EACH;
    make_items(0, 16);
    C.it[3].n = -3;
    add_items(0, 8);
    cr_assert(run_until_settled(0, 8, 5000));
    cr_assert_eq(C.nsent, 9, "%d statements", C.nsent);
    cr_expect_eq(C.sizes[0], 8);
    for (int i = 1; i < 9; i++)
        cr_expect_eq(C.sizes[i], 1);
    cr_expect_eq(C.max_inflight_seen, 8, "the retries went together");
    for (int i = 0; i < 8; i++)
        cr_expect_eq(C.it[i].state, i == 3 ? ANSWERED_BAD : COMMITTED, "item %d", i);
    cr_expect_str_eq(C.it[3].sqlstate, "23514");
    cr_expect_eq(C.nback, 0);
    cr_expect_eq(td_test_metric(metrics, "td_test_batch_size_count"), 1,
                 "retries are not batches from the queue");
    add_items(8, 8);   /* the size limit did not shrink */
    cr_assert(run_until_settled(8, 8, 5000));
    cr_expect_eq(C.sizes[C.nsent - 1], 8);
    finish();
}

Test(gcommit, resend_sends_the_same_items_again_as_the_next_attempt)
{
    open_gcommit(8, 1, 100);
    C.resend = 1;
    make_items(0, 5);
    C.it[2].n = -2;
    add_items(0, 5);
    cr_assert(run_until_settled(0, 5, 5000));
    cr_assert_eq(C.nsent, 2);
    cr_expect_eq(C.sizes[0], 5);
    cr_expect_eq(C.sizes[1], 5);
    cr_expect_eq(C.attempts[0], 1);
    cr_expect_eq(C.attempts[1], 2);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(C.it[i].state, i == 2 ? ANSWERED_BAD : COMMITTED, "item %d", i);
    cr_expect_eq(td_test_metric(metrics, "td_test_batch_size_count"), 1);
    finish();
}

/* PostgreSQL down is nobody's fault: everything comes back, in order, with the database's
 * status, and the size limit stays. */
Test(gcommit, a_database_outage_hands_everything_back_unblamed)
{
    open_gcommit(4, 1, 100);
    make_items(0, 6);
    td_test_pg_stop_server(&pg);
    double end = td_test_now_ms() + 10000;
    while (td_db_is_up(db, NULL, 0) && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert(!td_db_is_up(db, NULL, 0));
    add_items(0, 6);
    cr_assert(run_until_backs(6, 5000));
    cr_expect_eq(C.nsent, 1);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(C.back_n[i], i);
        cr_expect(C.back_status[i] == -ECONNREFUSED || C.back_status[i] == -ECONNRESET,
                  "item %d came back with %d", i, C.back_status[i]);
    }
    finish();
}

/* Closing hands back what was never sent; a statement in flight still ends as usual, its
 * retries come back as closed, and the module frees itself after it. */
Test(gcommit, close_hands_back_the_unsent_and_waits_for_the_statement_in_flight)
{
    open_gcommit(2, 1, 100);
    C.mode = RETRY_EACH;
    C.stmt = "gc_slow";
    make_items(0, 4);
    C.it[1].n = -1;
    add_items(0, 2);
    double end = td_test_now_ms() + 5000;
    while (C.nsent < 1 && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(C.nsent, 1);
    add_items(2, 2);
    struct td_gcommit *g = C.g;
    td_gcommit_close(g);
    cr_assert_eq(C.nback, 2);
    cr_expect_eq(C.back_n[0], 2);
    cr_expect_eq(C.back_n[1], 3);
    cr_expect_eq(C.back_status[0], TD_GCOMMIT_CLOSED);
    cr_expect_eq(td_gcommit_add(g, &C.it[2]), -ESHUTDOWN);
    C.g = NULL;   /* it frees itself once the statement in flight is done */
    cr_assert(run_until_backs(4, 5000), "the refused batch's retries came back");
    cr_expect_eq(C.back_n[2], 0);
    cr_expect_eq(C.back_n[3], -1);
    cr_expect_eq(C.back_status[2], TD_GCOMMIT_CLOSED);
    cr_expect_eq(C.nsent, 1, "nothing was sent after the close");
    finish();   /* the loop is empty and nothing leaked: g is gone */
}

static int spins;

static void count_spin(uv_check_t *h)
{
    (void)h;
    spins++;
}

Test(gcommit, the_handle_never_keeps_the_loop_alive_nor_spins_while_batches_are_full)
{
    open_gcommit(2, 1, 100);
    C.stmt = "gc_slow";
    make_items(0, 6);
    add_items(0, 4);   /* two go, two wait for the slow statement */
    double end = td_test_now_ms() + 5000;
    while (C.nsent < 1 && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(C.nsent, 1);
    add_items(4, 2);
    uv_check_t spin;
    uv_check_init(&loop, &spin);
    uv_check_start(&spin, count_spin);
    td_test_run_for(&loop, 150);
    cr_expect_lt(spins, 100, "%d loop turns in 150 ms with nothing to do", spins);
    uv_close((uv_handle_t *)&spin, NULL);
    cr_assert(run_until_settled(0, 6, 5000));
    cr_expect_eq(q_long("SELECT count(*) FROM items"), 6);

    /* A loop with nothing but a group commit on it, with work queued, is not alive. */
    uv_loop_t bare;
    cr_assert(uv_loop_init(&bare) == 0);
    struct td_gcommit_opts o = {.max_batch = 1, .max_inflight = 1, .max_queue = 1,
                                .send = send_items, .back = on_back, .arg = &C};
    struct td_gcommit *g = NULL;
    cr_assert_eq(td_gcommit_new(&bare, &o, &g), 0);
    cr_expect_eq(uv_loop_alive(&bare), 0);
    cr_assert_eq(td_gcommit_add(g, &C.it[0]), 0);
    cr_expect_eq(uv_loop_alive(&bare), 0);
    td_gcommit_close(g);
    cr_assert(uv_run(&bare, UV_RUN_DEFAULT) == 0);
    cr_assert_eq(uv_loop_close(&bare), 0);
    finish();
}

Test(gcommit, bad_options_are_refused)
{
    struct td_gcommit_opts o = {.max_batch = 1, .max_inflight = 1, .max_queue = 1,
                                .send = send_items, .back = on_back};
    struct td_gcommit *g = (void *)1;
    struct td_gcommit_opts bad = o;
    bad.max_batch = 0;
    cr_expect_eq(td_gcommit_new(&loop, &bad, &g), -EINVAL);
    cr_expect_null(g);
    bad = o;
    bad.max_inflight = 0;
    cr_expect_eq(td_gcommit_new(&loop, &bad, &g), -EINVAL);
    bad = o;
    bad.max_queue = 0;
    cr_expect_eq(td_gcommit_new(&loop, &bad, &g), -EINVAL);
    bad = o;
    bad.send = NULL;
    cr_expect_eq(td_gcommit_new(&loop, &bad, &g), -EINVAL);
    bad = o;
    bad.back = NULL;
    cr_expect_eq(td_gcommit_new(&loop, &bad, &g), -EINVAL);
    open_gcommit(1, 1, 1);
    finish();
}

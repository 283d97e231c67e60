/* core/consume.c: one statement per event settles its delivery by the answer — committed:
 * handled (after the role's ok callback); SQLSTATE class 22: dead-lettered at once; another
 * SQL error: retried until the bus gives up. Real PostgreSQL, the local bus. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/bus.h"
#include "core/consume.h"
#include "core/db.h"
#include "core/metrics.h"
#include "tests/support/bus_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/pg_harness.h"

static uv_loop_t loop;
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static struct td_metrics *metrics;
static struct td_test_pg pg;
static struct td_db *db;
static struct td_bus *bus;
static struct td_consume set;
static int oks;   /* ok callbacks that saw their row */

static void setup(void)
{
    td_test_pg_start(&pg);
    free(td_test_pg_query(&pg, "create table effects (k text primary key, n int)"));
    cr_assert(uv_loop_init(&loop) == 0);
    cr_assert(td_metrics_new(&metrics) == 0);
    struct td_db_opts o = {.conninfo = pg.conninfo, .pool_size = 2, .log = &quiet};
    cr_assert(td_db_open(&loop, &o, &db) == 0);
    /* $2 must be a number: a value that is not is class 22 (the event's fault); the same
     * key twice is a unique violation (23505, worth a retry). */
    cr_assert(td_db_prepare(db, "effect", "insert into effects values ($1, $2::int) "
                                          "returning n", 2) == 0);
    struct td_bus_opts bo = {.driver = TD_BUS_LOCAL, .max_attempts = 2, .client_id = "test",
                             .log = &quiet, .metrics = metrics};
    cr_assert(td_bus_open(&loop, &bo, &bus) == 0);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void teardown(void)
{
    int closed = 0;
    td_bus_close(bus, on_closed, &closed);
    td_db_close(db, on_closed, &closed);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert_eq(closed, 2);
    td_consume_release(&set);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_metrics_free(metrics);
    td_test_pg_destroy(&pg);
    td_test_assert_no_leaks();
}

TestSuite(consume, .init = setup, .fini = teardown, .timeout = 60);

static void on_effect(struct td_db_res *res, void *arg)
{
    (void)arg;
    if (td_db_res_rows(res) == 1)
        oks++;
}

static void handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    (void)arg;
    const char *params[] = {msg->key, msg->value};
    td_consume_exec(&set, db, d, "effect", 2, params, on_effect, NULL);
}

Test(consume, answers_settle_their_deliveries)
{
    static struct td_test_consumer dead = {.mode = TD_TEST_DONE_NOW};
    cr_assert(td_bus_subscribe(bus, "task-events", "g", handler, NULL) == 0);
    cr_assert(td_bus_subscribe_dead_letters(bus, "dl", td_test_consumer_handler, &dead) == 0);
    cr_assert(td_bus_start(bus) == 0);
    static struct td_test_pubres good, bad, again;
    cr_assert(td_bus_publish(bus, "task-events", "a", "7", 1, NULL, td_test_on_published, &good) == 0);
    cr_assert(td_bus_publish(bus, "task-events", "b", "seven", 5, NULL, td_test_on_published, &bad) == 0);
    cr_assert(td_bus_publish(bus, "task-events", "a", "8", 1, NULL, td_test_on_published, &again) == 0);
    cr_assert(td_test_run_until(&loop, &good.calls, 1, 10000));
    cr_assert(td_test_run_until(&loop, &bad.calls, 1, 10000));
    cr_assert(td_test_run_until(&loop, &again.calls, 1, 15000));
    cr_expect_eq(oks, 1, "ok ran for the committed one only");
    char *n = td_test_pg_query(&pg, "select count(*) from effects");
    cr_expect_str_eq(n, "1");
    free(n);
    cr_expect_eq(td_test_handled(metrics, "g", "task-events", "ok"), 1);
    /* class 22 at once; the duplicate key after its retries */
    cr_expect_eq(td_test_handled(metrics, "g", "task-events", "dead_letter"), 2);
    cr_expect_eq(td_test_handled(metrics, "g", "task-events", "retry"), 1,
                 "only the unique violation is retried (once, of two attempts)");
    cr_assert(td_test_run_until(&loop, &dead.n, 2, 5000));
    cr_expect(strstr(dead.rec[0].error, "invalid input syntax") ||
              strstr(dead.rec[1].error, "invalid input syntax"), "%s | %s", dead.rec[0].error,
              dead.rec[1].error);
    cr_expect_null(set.calls, "nothing left in flight");
}

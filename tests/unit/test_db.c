/* core/db.c, the public calls: parameters and results, prepared statements, transactions,
 * closing. Against a real PostgreSQL (tests/support/pg_harness). The connection itself is
 * tested in test_db_conn.c, the queue and the pool in test_db_pool.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/db.h"
#include "tests/support/db_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/pg_harness.h"

static struct td_test_pg pg;
static uv_loop_t loop;

static void setup(void)
{
    td_test_pg_start(&pg);
    td_test_db_loop_init(&loop);
}

static void teardown(void)
{
    td_test_pg_destroy(&pg);
}

static void loop_setup(void)
{
    td_test_db_loop_init(&loop);
}

TestSuite(db, .init = setup, .fini = teardown, .timeout = 60);

Test(db, params_and_nulls)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 0, 0, NULL);
    struct td_test_call c;
    const char *p[] = { "41", NULL, "" };
    td_test_db_sql(db, &c, "select $1::int + 1 as answer, $2::text, $3::text = ''", 3, p);
    cr_expect_eq(c.status, 0);
    cr_expect_eq(c.rows, 1);
    cr_expect_eq(c.cols, 3);
    cr_expect_str_eq(c.col0, "answer");
    cr_expect_str_eq(c.v[0], "42");
    cr_expect_str_eq(c.v[1], "<null>");
    cr_expect_str_eq(c.v[2], "t");
    cr_expect_str_eq(c.sqlstate, "");

    /* bigger than the inline block, and the caller's buffer is reused at once */
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    const char *bp[] = { big };
    memset(&c, 0, sizeof c);
    cr_assert(td_db_exec_sql(db, "select length($1)", 1, bp, td_test_db_on_res, &c) == 0);
    memset(big, 'y', 10);
    big[10] = '\0';
    free(big);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    cr_expect_str_eq(c.v[0], "19999");

    /* far more than a socket buffer: libpq's flush has to wait for the socket */
    enum { HUGE = 4 << 20 };
    char *huge = malloc(HUGE + 1);
    memset(huge, 'z', HUGE);
    huge[HUGE] = '\0';
    const char *hp[] = { huge };
    td_test_db_sql(db, &c, "select length($1), md5($1) = md5(repeat('z', 4194304))", 1, hp);
    free(huge);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "4194304");
    cr_expect_str_eq(c.v[1], "t");

    td_test_db_sql(db, &c, "select 1 where false", 0, NULL);
    cr_expect_eq(c.status, 0);
    cr_expect_eq(c.rows, 0);
    cr_expect_str_eq(c.v[0], "<null>");

    cr_expect_eq(td_db_exec_sql(db, NULL, 0, NULL, td_test_db_on_res, &c), -EINVAL);
    cr_expect_eq(td_db_exec_sql(db, "select $1", 1, NULL, td_test_db_on_res, &c), -EINVAL);
    td_test_db_close(db);
}

Test(db, prepared_statements)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 0, NULL);
    /* one registered before any connection is up, one after */
    cr_assert(td_db_prepare(db, "add", "select $1::int + $2::int", 2) == 0);
    cr_assert(td_db_prepare(db, "add", "select 1", 0) == -EEXIST);
    cr_assert(td_test_db_wait_up(db, 1, 10000));
    cr_assert(td_db_prepare(db, "upper", "select upper($1)", 1) == 0);

    struct td_test_call c = { 0 };
    const char *p[] = { "40", "2" };
    cr_assert(td_db_exec(db, "add", 2, p, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "42");

    /* every connection has both: more in flight than one connection takes */
    enum { N = 100 };
    static struct td_test_call cs[N];
    const char *u[] = { "todo" };
    for (int i = 0; i < N; i++)
        cr_assert(td_db_exec(db, i % 2 ? "upper" : "add", i % 2 ? 1 : 2, i % 2 ? u : p,
                             td_test_db_on_res, &cs[i]) == 0);
    int all = 0;
    double end = td_test_now_ms() + 10000;
    while (all < N && td_test_now_ms() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        all = 0;
        for (int i = 0; i < N; i++)
            all += cs[i].done;
    }
    cr_assert_eq(all, N);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(cs[i].status, 0, "#%d: %s", i, cs[i].error);
        cr_expect_str_eq(cs[i].v[0], i % 2 ? "TODO" : "42");
    }

    memset(&c, 0, sizeof c);
    cr_assert(td_db_exec(db, "no_such_statement", 0, NULL, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, -EIO);
    cr_expect_str_eq(c.sqlstate, "26000");
    td_test_db_close(db);
}

Test(db, transactions)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 0, NULL);
    struct td_test_call c;
    td_test_db_sql(db, &c, "create table t (id int primary key)", 0, NULL);
    cr_assert_eq(c.status, 0, "%s", c.error);

    struct td_db_tx *tx = td_test_db_begin(db);
    const char *one[] = { "1" };
    td_test_db_txsql(tx, &c, "insert into t values ($1::int)", 1, one);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_eq(c.affected, 1);
    td_test_db_sql(db, &c, "select count(*) from t", 0, NULL);   /* the other connection */
    cr_expect_str_eq(c.v[0], "0", "uncommitted row visible");
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_commit(tx, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    td_test_db_sql(db, &c, "select count(*) from t where id = 1", 0, NULL);
    cr_expect_str_eq(c.v[0], "1", "committed row not visible");

    tx = td_test_db_begin(db);
    const char *two[] = { "2" };
    td_test_db_txsql(tx, &c, "insert into t values ($1::int)", 1, two);
    cr_expect_eq(c.status, 0);
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_rollback(tx, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    td_test_db_sql(db, &c, "select count(*) from t where id = 2", 0, NULL);
    cr_expect_str_eq(c.v[0], "0", "rolled back row visible");

    /* an error aborts the transaction; pipelined statements after it say so */
    tx = td_test_db_begin(db);
    struct td_test_call e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
    cr_assert(td_db_tx_exec_sql(tx, "insert into t values ($1::int)", 1, one, td_test_db_on_res, &e1) == 0);
    cr_assert(td_db_tx_exec_sql(tx, "insert into t values (3)", 0, NULL, td_test_db_on_res, &e2) == 0);
    cr_assert(td_db_tx_commit(tx, td_test_db_on_res, &e3) == 0);
    cr_assert(td_test_run_until(&loop, &e3.done, 1, 10000));
    cr_expect_eq(e1.status, -EIO);
    cr_expect_str_eq(e1.sqlstate, "23505");
    cr_expect_eq(e2.status, -EIO);
    cr_expect_str_eq(e2.sqlstate, "25P02");
    cr_expect_eq(e3.status, 0);   /* COMMIT of an aborted transaction is a rollback */
    td_test_db_sql(db, &c, "select count(*) from t", 0, NULL);
    cr_expect_str_eq(c.v[0], "1");
    td_test_db_close(db);
}

static struct td_db *reentrant_db;
static int after_close_rc = 1;

static void on_cancel_reenter(int status, struct td_db_res *res, void *arg)
{
    td_test_db_on_res(status, res, arg);
    after_close_rc = td_db_exec_sql(reentrant_db, "select 1", 0, NULL, td_test_db_on_res, arg);
}

Test(db, close_cancels_queued_work)
{
    struct td_db *db = reentrant_db = td_test_db_open(pg.conninfo, 1, 0, NULL);
    struct td_db_tx *tx = td_test_db_begin(db);
    struct td_test_call in_tx = { 0 }, q[3] = { 0 };
    cr_assert(td_db_tx_exec_sql(tx, "select pg_sleep(5)", 0, NULL, td_test_db_on_res, &in_tx) == 0);
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_cancel_reenter, &q[0]) == 0);
    cr_assert(td_db_exec_sql(db, "select 2", 0, NULL, td_test_db_on_res, &q[1]) == 0);
    struct td_test_txwait w = { 0 };
    cr_assert(td_db_tx_begin(db, td_test_db_on_tx, &w) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(q[0].done + q[1].done + w.done, 0, "queued work already ran");

    double t0 = td_test_now_ms();
    td_test_db_close(db);
    cr_expect_lt(td_test_now_ms() - t0, 2000, "close waited for the server");
    cr_expect_eq(in_tx.done, 1);
    cr_expect_eq(in_tx.status, -ECANCELED);
    cr_expect_eq(q[0].done, 1);
    cr_expect_eq(q[0].status, -ECANCELED);
    cr_expect_eq(q[1].status, -ECANCELED);
    cr_expect_eq(w.done, 1);
    cr_expect_eq(w.status, -ECANCELED);
    cr_expect_null(w.tx);
    cr_expect_eq(after_close_rc, -ECANCELED);
}

/* No server at all: nothing to start, so these use only the loop. */
TestSuite(db_down, .init = loop_setup, .timeout = 30);

Test(db_down, close_before_the_loop_runs)
{
    struct td_db *db = td_test_db_open("postgresql://localhost:1/x", 3, 0, NULL);
    cr_expect_eq(td_db_open(&loop, &(struct td_db_opts){ .conninfo = "host='unterminated" },
                            &(struct td_db *){ NULL }), -EINVAL);
    td_test_db_close(db);
}

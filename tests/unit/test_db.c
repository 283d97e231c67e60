/* core/db.c and core/db_conn.c against a real PostgreSQL (tests/support/pg_harness). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/db.h"
#include "core/metrics.h"
#include "tests/support/pg_harness.h"

static struct td_test_pg pg;
static uv_loop_t loop;
static uv_timer_t tick;   /* keeps UV_RUN_ONCE from sleeping forever while we wait */
static struct td_log quiet = { .level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2 };

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void loop_setup(void)
{
    cr_assert(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
}

static void setup(void)
{
    td_test_pg_start(&pg);
    loop_setup();
}

static void teardown(void)
{
    td_test_pg_destroy(&pg);
}

static double now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

/* Runs the loop until *flag >= want or ms pass; returns whether it got there. */
static int run_until(const int *flag, int want, int ms)
{
    double end = now_ms() + ms;
    while (*flag < want && now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return *flag >= want;
}

static int wait_up(struct td_db *db, int want, int ms)
{
    double end = now_ms() + ms;
    while (td_db_is_up(db, NULL, 0) != want && now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return td_db_is_up(db, NULL, 0) == want;
}

static struct td_db *open_db(const char *conninfo, int pool, int qtimeout, struct td_metrics *m)
{
    struct td_db_opts o = { .conninfo = conninfo, .pool_size = pool,
                            .queue_timeout_ms = qtimeout, .log = &quiet, .metrics = m };
    struct td_db *db = NULL;
    int rc = td_db_open(&loop, &o, &db);
    cr_assert(rc == 0, "td_db_open = %d", rc);
    cr_assert(db);
    return db;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Closes the pool and proves nothing is left on the loop (house rule 2). */
static void close_all(struct td_db *db)
{
    int closed = 0;
    td_db_close(db, on_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(&loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert(closed == 1, "closed callback ran %d times", closed);
    cr_assert(uv_loop_close(&loop) == 0);
}

struct call {
    int  done;
    int  status;
    int  rows, cols;
    long affected;
    char v[3][64];     /* first row, first three columns; "<null>" for SQL NULL */
    char sqlstate[6];
    char error[160];
    char col0[32];
};

static void on_res(int status, struct td_db_res *res, void *arg)
{
    struct call *c = arg;
    c->done++;
    c->status = status;
    c->rows = td_db_res_rows(res);
    c->cols = td_db_res_cols(res);
    c->affected = td_db_res_affected(res);
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", td_db_res_sqlstate(res));
    snprintf(c->error, sizeof c->error, "%s", td_db_res_error(res));
    const char *n = td_db_res_colname(res, 0);
    snprintf(c->col0, sizeof c->col0, "%s", n ? n : "");
    for (int i = 0; i < 3; i++) {
        const char *v = td_db_res_value(res, 0, i);
        snprintf(c->v[i], sizeof c->v[i], "%s", v ? v : "<null>");
    }
}

/* One statement, start to finish. */
static void sql(struct td_db *db, struct call *c, const char *q, int n, const char *const *p)
{
    memset(c, 0, sizeof *c);
    int rc = td_db_exec_sql(db, q, n, p, on_res, c);
    cr_assert(rc == 0, "exec %s = %d", q, rc);
    cr_assert(c->done == 0, "callback ran inside the call");
    cr_assert(run_until(&c->done, 1, 10000), "no answer to %s", q);
}

static void txsql(struct td_db_tx *tx, struct call *c, const char *q, int n,
                  const char *const *p)
{
    memset(c, 0, sizeof *c);
    cr_assert(td_db_tx_exec_sql(tx, q, n, p, on_res, c) == 0);
    cr_assert(run_until(&c->done, 1, 10000), "no answer to %s", q);
}

struct txwait {
    int              done;
    int              status;
    struct td_db_tx *tx;
};

static void on_tx(int status, struct td_db_tx *tx, void *arg)
{
    struct txwait *w = arg;
    w->done++;
    w->status = status;
    w->tx = tx;
}

static struct td_db_tx *begin(struct td_db *db)
{
    struct txwait w = { 0 };
    cr_assert(td_db_tx_begin(db, on_tx, &w) == 0);
    cr_assert(run_until(&w.done, 1, 10000), "BEGIN not answered");
    cr_assert(w.status == 0 && w.tx, "BEGIN = %d", w.status);
    return w.tx;
}

TestSuite(db, .init = setup, .fini = teardown, .timeout = 60);

Test(db, params_and_nulls)
{
    struct td_db *db = open_db(pg.conninfo, 0, 0, NULL);
    struct call c;
    const char *p[] = { "41", NULL, "" };
    sql(db, &c, "select $1::int + 1 as answer, $2::text, $3::text = ''", 3, p);
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
    cr_assert(td_db_exec_sql(db, "select length($1)", 1, bp, on_res, &c) == 0);
    memset(big, 'y', 10);
    big[10] = '\0';
    free(big);
    cr_assert(run_until(&c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    cr_expect_str_eq(c.v[0], "19999");

    /* far more than a socket buffer: libpq's flush has to wait for the socket */
    enum { HUGE = 4 << 20 };
    char *huge = malloc(HUGE + 1);
    memset(huge, 'z', HUGE);
    huge[HUGE] = '\0';
    const char *hp[] = { huge };
    sql(db, &c, "select length($1), md5($1) = md5(repeat('z', 4194304))", 1, hp);
    free(huge);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "4194304");
    cr_expect_str_eq(c.v[1], "t");

    sql(db, &c, "select 1 where false", 0, NULL);
    cr_expect_eq(c.status, 0);
    cr_expect_eq(c.rows, 0);
    cr_expect_str_eq(c.v[0], "<null>");

    cr_expect_eq(td_db_exec_sql(db, NULL, 0, NULL, on_res, &c), -EINVAL);
    cr_expect_eq(td_db_exec_sql(db, "select $1", 1, NULL, on_res, &c), -EINVAL);
    close_all(db);
}

Test(db, prepared_statements)
{
    struct td_db *db = open_db(pg.conninfo, 2, 0, NULL);
    /* one registered before any connection is up, one after */
    cr_assert(td_db_prepare(db, "add", "select $1::int + $2::int", 2) == 0);
    cr_assert(td_db_prepare(db, "add", "select 1", 0) == -EEXIST);
    cr_assert(wait_up(db, 1, 10000));
    cr_assert(td_db_prepare(db, "upper", "select upper($1)", 1) == 0);

    struct call c = { 0 };
    const char *p[] = { "40", "2" };
    cr_assert(td_db_exec(db, "add", 2, p, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 10000));
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "42");

    /* every connection has both: more in flight than one connection takes */
    enum { N = 100 };
    static struct call cs[N];
    const char *u[] = { "todo" };
    for (int i = 0; i < N; i++)
        cr_assert(td_db_exec(db, i % 2 ? "upper" : "add", i % 2 ? 1 : 2, i % 2 ? u : p,
                             on_res, &cs[i]) == 0);
    int all = 0;
    double end = now_ms() + 10000;
    while (all < N && now_ms() < end) {
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
    cr_assert(td_db_exec(db, "no_such_statement", 0, NULL, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 10000));
    cr_expect_eq(c.status, -EIO);
    cr_expect_str_eq(c.sqlstate, "26000");
    close_all(db);
}

struct many {
    int done;
    int wrong;
    int twice;
    int seen[1000];
};
static struct many many;

static void on_many(int status, struct td_db_res *res, void *arg)
{
    int i = (int)(intptr_t)arg;
    if (many.seen[i]++)
        many.twice++;
    const char *v = td_db_res_value(res, 0, 0);
    char want[16];
    snprintf(want, sizeof want, "%d", i * 2);
    if (status != 0 || !v || strcmp(v, want))
        many.wrong++;
    many.done++;
}

Test(db, many_through_a_pool_of_two)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = open_db(pg.conninfo, 2, 10000, m);
    cr_assert(wait_up(db, 1, 10000));
    enum { N = 1000 };   /* several times what two pipelines hold: most wait in the queue */
    for (int i = 0; i < N; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        const char *p[] = { num };
        cr_assert(td_db_exec_sql(db, "select $1::int * 2", 1, p, on_many,
                                 (void *)(intptr_t)i) == 0);
    }
    struct td_metric_series *q = td_metrics_series(m, "td_db_queue_depth", "");
    cr_assert(q);
    cr_expect_gt(td_metric_value(q), 0, "nothing queued");
    cr_assert(run_until(&many.done, N, 20000), "%d of %d answered", many.done, N);
    cr_expect_eq(many.wrong, 0);
    cr_expect_eq(many.twice, 0);
    cr_expect_eq(td_metric_value(q), 0);
    struct td_metric_series *ok = td_metrics_series(m, "td_db_queries_total", "result=\"ok\"");
    cr_expect_eq(td_metric_value(ok), N);
    cr_expect_eq(td_metric_value(td_metrics_series(m, "td_db_connections_up", "")), 2);
    close_all(db);
    td_metrics_free(m);
}

Test(db, transactions)
{
    struct td_db *db = open_db(pg.conninfo, 2, 0, NULL);
    struct call c;
    sql(db, &c, "create table t (id int primary key)", 0, NULL);
    cr_assert_eq(c.status, 0, "%s", c.error);

    struct td_db_tx *tx = begin(db);
    const char *one[] = { "1" };
    txsql(tx, &c, "insert into t values ($1::int)", 1, one);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_eq(c.affected, 1);
    sql(db, &c, "select count(*) from t", 0, NULL);   /* the other connection */
    cr_expect_str_eq(c.v[0], "0", "uncommitted row visible");
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_commit(tx, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    sql(db, &c, "select count(*) from t where id = 1", 0, NULL);
    cr_expect_str_eq(c.v[0], "1", "committed row not visible");

    tx = begin(db);
    const char *two[] = { "2" };
    txsql(tx, &c, "insert into t values ($1::int)", 1, two);
    cr_expect_eq(c.status, 0);
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_rollback(tx, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 10000));
    cr_expect_eq(c.status, 0);
    sql(db, &c, "select count(*) from t where id = 2", 0, NULL);
    cr_expect_str_eq(c.v[0], "0", "rolled back row visible");

    /* an error aborts the transaction; pipelined statements after it say so */
    tx = begin(db);
    struct call e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
    cr_assert(td_db_tx_exec_sql(tx, "insert into t values ($1::int)", 1, one, on_res, &e1) == 0);
    cr_assert(td_db_tx_exec_sql(tx, "insert into t values (3)", 0, NULL, on_res, &e2) == 0);
    cr_assert(td_db_tx_commit(tx, on_res, &e3) == 0);
    cr_assert(run_until(&e3.done, 1, 10000));
    cr_expect_eq(e1.status, -EIO);
    cr_expect_str_eq(e1.sqlstate, "23505");
    cr_expect_eq(e2.status, -EIO);
    cr_expect_str_eq(e2.sqlstate, "25P02");
    cr_expect_eq(e3.status, 0);   /* COMMIT of an aborted transaction is a rollback */
    sql(db, &c, "select count(*) from t", 0, NULL);
    cr_expect_str_eq(c.v[0], "1");
    close_all(db);
}

Test(db, sql_error_has_sqlstate)
{
    struct td_db *db = open_db(pg.conninfo, 1, 0, NULL);
    struct call e = { 0 }, d = { 0 };
    cr_assert(td_db_exec_sql(db, "select * from no_such_table", 0, NULL, on_res, &e) == 0);
    cr_assert(td_db_exec_sql(db, "select 7", 0, NULL, on_res, &d) == 0);   /* behind it */
    cr_assert(run_until(&d.done, 1, 10000));
    cr_expect_eq(e.done, 1);
    cr_expect_eq(e.status, -EIO);
    cr_expect_str_eq(e.sqlstate, "42P01");
    cr_expect(strstr(e.error, "no_such_table"), "error: %s", e.error);
    cr_expect_eq(d.status, 0, "an error broke the statement pipelined after it");
    cr_expect_str_eq(d.v[0], "7");
    close_all(db);
}

Test(db, server_restart)
{
    struct td_db *db = open_db(pg.conninfo, 2, 0, NULL);
    cr_assert(td_db_prepare(db, "two", "select 2", 0) == 0);
    struct call c;
    sql(db, &c, "select 1", 0, NULL);
    cr_assert_eq(c.status, 0);

    struct call slow = { 0 };
    cr_assert(td_db_exec_sql(db, "select pg_sleep(30)", 0, NULL, on_res, &slow) == 0);
    td_test_pg_stop_server(&pg);   /* fast shutdown: the sleeping backend is terminated */
    cr_assert(run_until(&slow.done, 1, 5000), "in-flight statement never failed");
    cr_expect(slow.status == -ECONNRESET, "in flight: %d", slow.status);
    cr_assert(wait_up(db, 0, 5000), "still up after the server stopped");
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(why[0], "no reason given");

    double t0 = now_ms();
    sql(db, &c, "select 1", 0, NULL);
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_str_eq(c.error, "no connection to PostgreSQL");
    cr_expect_lt(now_ms() - t0, 500, "refusal was not fast");
    struct txwait w = { 0 };
    cr_assert(td_db_tx_begin(db, on_tx, &w) == 0);
    cr_assert(run_until(&w.done, 1, 1000));
    cr_expect_eq(w.status, -ECONNREFUSED);
    cr_expect_null(w.tx);

    td_test_pg_start_server(&pg);
    cr_assert(wait_up(db, 1, 8000), "not back within 8 s of the restart");
    memset(&c, 0, sizeof c);
    cr_assert(td_db_exec(db, "two", 0, NULL, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 5000));
    cr_expect_eq(c.status, 0, "after restart: %d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "2");
    close_all(db);
}

Test(db, killed_backends_reconnect_and_break_tx)
{
    struct td_db *db = open_db(pg.conninfo, 2, 0, NULL);
    cr_assert(wait_up(db, 1, 10000));
    struct td_db_tx *tx = begin(db);
    char *n = td_test_pg_query(&pg, "select count(pg_terminate_backend(pid)) from "
                                    "pg_stat_activity where application_name = 'todod'");
    free(n);
    struct call c;
    txsql(tx, &c, "select 1", 0, NULL);
    cr_expect(c.status == -ECONNRESET, "statement on a broken tx: %d", c.status);
    txsql(tx, &c, "select 1", 0, NULL);
    cr_expect(c.status == -ECONNRESET, "second statement on a broken tx: %d", c.status);
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_rollback(tx, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 1000));
    cr_expect_eq(c.status, -ECONNRESET);

    /* a connection that has not yet seen its backend die fails its statement with
     * -ECONNRESET; within a few tries the pool is whole again */
    double end = now_ms() + 5000;
    do {
        wait_up(db, 1, 5000);
        sql(db, &c, "select current_setting('application_name')", 0, NULL);
    } while (c.status == -ECONNRESET && now_ms() < end);
    cr_expect_eq(c.status, 0, "%d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "todod");
    close_all(db);
}

Test(db, queue_timeout)
{
    struct td_db *db = open_db(pg.conninfo, 1, 200, NULL);
    struct td_db_tx *tx = begin(db);   /* the only connection is leased */
    struct call a = { 0 }, b = { 0 };
    double t0 = now_ms();
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_res, &a) == 0);
    cr_assert(run_until(&a.done, 1, 3000));
    double waited = now_ms() - t0;
    cr_expect_eq(a.status, -ETIMEDOUT);
    cr_expect_geq(waited, 150);
    cr_expect_lt(waited, 1500);
    cr_assert(td_db_exec_sql(db, "select 2", 0, NULL, on_res, &b) == 0);
    struct call r = { 0 };
    cr_assert(td_db_tx_rollback(tx, on_res, &r) == 0);   /* frees the connection */
    cr_assert(run_until(&b.done, 1, 3000));
    cr_expect_eq(b.status, 0, "queued statement after the lease ended: %d", b.status);
    cr_expect_str_eq(b.v[0], "2");
    cr_expect_eq(r.status, 0);
    close_all(db);
}

static struct td_db *reentrant_db;
static int after_close_rc = 1;

static void on_cancel_reenter(int status, struct td_db_res *res, void *arg)
{
    on_res(status, res, arg);
    after_close_rc = td_db_exec_sql(reentrant_db, "select 1", 0, NULL, on_res, arg);
}

Test(db, close_cancels_queued_work)
{
    struct td_db *db = reentrant_db = open_db(pg.conninfo, 1, 0, NULL);
    struct td_db_tx *tx = begin(db);
    struct call in_tx = { 0 }, q[3] = { 0 };
    cr_assert(td_db_tx_exec_sql(tx, "select pg_sleep(5)", 0, NULL, on_res, &in_tx) == 0);
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_cancel_reenter, &q[0]) == 0);
    cr_assert(td_db_exec_sql(db, "select 2", 0, NULL, on_res, &q[1]) == 0);
    struct txwait w = { 0 };
    cr_assert(td_db_tx_begin(db, on_tx, &w) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(q[0].done + q[1].done + w.done, 0, "queued work already ran");

    double t0 = now_ms();
    close_all(db);
    cr_expect_lt(now_ms() - t0, 2000, "close waited for the server");
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

Test(db_down, refused_when_nothing_listens)
{
    struct td_db *db = open_db("host=/nonexistent-todod-dir port=5999 dbname=x", 2, 5000, NULL);
    struct call c = { 0 };
    double t0 = now_ms();
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_res, &c) == 0);   /* start-up: queues */
    cr_assert(run_until(&c.done, 1, 3000));
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_lt(now_ms() - t0, 1000, "waited the queue timeout for a dead server");
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(strstr(why, "no connection"), "reason: %s", why);
    cr_expect_str_eq(c.error, "no connection to PostgreSQL");
    close_all(db);
}

Test(db_down, dns_name_resolved_off_loop)
{
    /* port 1: nothing listens; the name still has to be resolved first */
    struct td_db *db = open_db("postgresql://localhost:1/x?connect_timeout=2", 1, 5000, NULL);
    struct call c = { 0 };
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_res, &c) == 0);
    cr_assert(run_until(&c.done, 1, 5000));
    cr_expect_eq(c.status, -ECONNREFUSED);
    close_all(db);
}

Test(db_down, close_before_the_loop_runs)
{
    struct td_db *db = open_db("postgresql://localhost:1/x", 3, 0, NULL);
    cr_expect_eq(td_db_open(&loop, &(struct td_db_opts){ .conninfo = "host='unterminated" },
                            &(struct td_db *){ NULL }), -EINVAL);
    close_all(db);
}

Test(db_down, close_while_resolving)
{
    struct td_db *db = open_db("host=localhost port=1 dbname=x", 4, 0, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);   /* the connect timers fire: lookups are in the pool */
    struct call c = { 0 };
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, on_res, &c) == 0);
    close_all(db);
    cr_expect_eq(c.done, 1);
    cr_expect(c.status == -ECANCELED || c.status == -ECONNREFUSED, "status %d", c.status);
}

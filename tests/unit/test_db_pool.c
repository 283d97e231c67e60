/* core/db_pool.c: the pool's queue and its connections. Size respected and used, waiting
 * when every connection is busy or leased, first come first served, the queue timeout,
 * failing fast while PostgreSQL is down and recovering when it is back, registered
 * statements prepared again at their next use when their PREPARE failed. Against a real
 * PostgreSQL (tests/support/pg_harness). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
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

static double gauge(struct td_metrics *m, const char *name)
{
    return td_metric_value(td_metrics_series(m, name, ""));
}

static double queries(struct td_metrics *m, const char *result)
{
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    return td_metric_value(td_metrics_series(m, "td_db_queries_total", labels));
}

static int wait_connections(struct td_metrics *m, int want, int ms)
{
    double end = td_test_now_ms() + ms;
    while (gauge(m, "td_db_connections_up") != want && td_test_now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return gauge(m, "td_db_connections_up") == want;
}

static long our_backends(void)
{
    char *v = td_test_pg_query(&pg, "select count(*) from pg_stat_activity "
                                    "where application_name = 'todod'");
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

TestSuite(db_pool, .init = setup, .fini = teardown, .timeout = 60);

/* Exactly pool_size connections (4 by default), and a burst is spread over all of them. */
Test(db_pool, pool_size_is_respected)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = td_test_db_open(pg.conninfo, 3, 0, m);
    cr_assert(wait_connections(m, 3, 10000), "%.0f of 3 connections up",
              gauge(m, "td_db_connections_up"));
    enum { N = 30 };
    static struct td_test_call cs[N];
    for (int i = 0; i < N; i++)
        cr_assert(td_db_exec_sql(db, "select pg_backend_pid(), pg_sleep(0.02)", 0, NULL,
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
    char pids[N][64];
    int npids = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_eq(cs[i].status, 0, "%s", cs[i].error);
        int seen = 0;
        for (int j = 0; j < npids; j++)
            seen |= !strcmp(pids[j], cs[i].v[0]);
        if (!seen)
            snprintf(pids[npids++], sizeof pids[0], "%s", cs[i].v[0]);
    }
    cr_expect_eq(npids, 3, "the burst ran on %d backends", npids);
    cr_expect_eq(our_backends(), 3);
    td_test_db_close(db);
    td_metrics_free(m);

    td_test_db_loop_init(&loop);
    cr_assert(td_metrics_new(&m) == 0);
    db = td_test_db_open(pg.conninfo, 0, 0, m);
    cr_assert(wait_connections(m, 4, 10000), "default pool: %.0f connections",
              gauge(m, "td_db_connections_up"));
    cr_expect_eq(our_backends(), 4);
    td_test_db_close(db);
    td_metrics_free(m);
}

/* Statements wait while every connection is leased to a transaction, or has a full
 * pipeline, and go as soon as one is free. */
Test(db_pool, queues_while_every_connection_is_busy)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 10000, m);
    cr_assert(wait_connections(m, 2, 10000));
    struct td_db_tx *t1 = td_test_db_begin(db), *t2 = td_test_db_begin(db);
    struct td_test_call c = {0}, end1 = {0}, end2 = {0};
    cr_assert(td_db_exec_sql(db, "select 'queued'", 0, NULL, td_test_db_on_res, &c) == 0);
    td_test_run_for(&loop, 300);
    cr_expect_eq(c.done, 0, "ran while both connections were leased");
    cr_expect_eq(gauge(m, "td_db_queue_depth"), 1);
    cr_assert(td_db_tx_commit(t1, td_test_db_on_res, &end1) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 2000), "still queued after a lease ended");
    cr_expect_eq(c.status, 0);
    cr_expect_str_eq(c.v[0], "queued");
    cr_expect_eq(gauge(m, "td_db_queue_depth"), 0);
    cr_assert(td_db_tx_rollback(t2, td_test_db_on_res, &end2) == 0);
    cr_assert(td_test_run_until(&loop, &end2.done, 1, 2000));

    /* one connection takes 32 statements in flight; the rest wait their turn */
    enum { N = 40 };
    static struct td_test_call cs[N];
    struct td_test_call hold = {0};
    struct td_db_tx *t3 = td_test_db_begin(db);   /* one of two connections leased */
    for (int i = 0; i < N; i++)
        cr_assert(td_db_exec_sql(db, "select pg_sleep(0.01)", 0, NULL, td_test_db_on_res,
                                 &cs[i]) == 0);
    cr_expect_eq(gauge(m, "td_db_queue_depth"), N - 32, "queued: %.0f",
                 gauge(m, "td_db_queue_depth"));
    cr_assert(td_test_run_until(&loop, &cs[N - 1].done, 1, 10000));
    for (int i = 0; i < N; i++)
        cr_expect_eq(cs[i].status, 0);
    cr_assert(td_db_tx_commit(t3, td_test_db_on_res, &hold) == 0);
    cr_assert(td_test_run_until(&loop, &hold.done, 1, 2000));
    td_test_db_close(db);
    td_metrics_free(m);
}

/* First come, first served: statements and transactions leave the queue in the order
 * they joined it; a transaction that got the connection holds back everything after it. */
Test(db_pool, first_come_first_served)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 10000, NULL);
    struct td_db_tx *t0 = td_test_db_begin(db);
    struct td_test_call a = {0}, b = {0}, c = {0}, end0 = {0}, end1 = {0};
    struct td_test_txwait w = {0};
    cr_assert(td_db_exec_sql(db, "select 'a'", 0, NULL, td_test_db_on_res, &a) == 0);
    cr_assert(td_db_tx_begin(db, td_test_db_on_tx, &w) == 0);
    cr_assert(td_db_exec_sql(db, "select 'b'", 0, NULL, td_test_db_on_res, &b) == 0);
    cr_assert(td_db_exec_sql(db, "select 'c'", 0, NULL, td_test_db_on_res, &c) == 0);
    td_test_run_for(&loop, 100);
    cr_expect_eq(a.done + w.done + b.done + c.done, 0, "ran while the connection was leased");
    cr_assert(td_db_tx_commit(t0, td_test_db_on_res, &end0) == 0);
    cr_assert(td_test_run_until(&loop, &w.done, 1, 2000), "the second BEGIN never ran");
    cr_assert_eq(w.status, 0);
    td_test_run_for(&loop, 200);
    cr_expect_eq(a.done, 1);
    cr_expect_lt(end0.order, a.order);
    cr_expect_lt(a.order, w.order, "the BEGIN overtook the statement ahead of it");
    cr_expect_eq(b.done + c.done, 0, "statements overtook the transaction ahead of them");
    cr_assert(td_db_tx_commit(w.tx, td_test_db_on_res, &end1) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 2000));
    cr_expect_lt(end1.order, b.order);
    cr_expect_lt(b.order, c.order);
    cr_expect_str_eq(b.v[0], "b");
    cr_expect_str_eq(c.v[0], "c");
    td_test_db_close(db);
}

Test(db_pool, queue_timeout)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 200, NULL);
    struct td_db_tx *tx = td_test_db_begin(db);   /* the only connection is leased */
    struct td_test_call a = { 0 }, b = { 0 };
    double t0 = td_test_now_ms();
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &a) == 0);
    cr_assert(td_test_run_until(&loop, &a.done, 1, 3000));
    double waited = td_test_now_ms() - t0;
    cr_expect_eq(a.status, -ETIMEDOUT);
    cr_expect_geq(waited, 150);
    cr_expect_lt(waited, 1500);
    cr_assert(td_db_exec_sql(db, "select 2", 0, NULL, td_test_db_on_res, &b) == 0);
    struct td_test_call r = { 0 };
    cr_assert(td_db_tx_rollback(tx, td_test_db_on_res, &r) == 0);   /* frees the connection */
    cr_assert(td_test_run_until(&loop, &b.done, 1, 3000));
    cr_expect_eq(b.status, 0, "queued statement after the lease ended: %d", b.status);
    cr_expect_str_eq(b.v[0], "2");
    cr_expect_eq(r.status, 0);
    td_test_db_close(db);
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

Test(db_pool, many_through_a_pool_of_two)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 10000, m);
    cr_assert(td_test_db_wait_up(db, 1, 10000));
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
    cr_assert(td_test_run_until(&loop, &many.done, N, 20000), "%d of %d answered", many.done, N);
    cr_expect_eq(many.wrong, 0);
    cr_expect_eq(many.twice, 0);
    cr_expect_eq(td_metric_value(q), 0);
    struct td_metric_series *ok = td_metrics_series(m, "td_db_queries_total", "result=\"ok\"");
    cr_expect_eq(td_metric_value(ok), N);
    cr_expect_eq(td_metric_value(td_metrics_series(m, "td_db_connections_up", "")), 2);
    td_test_db_close(db);
    td_metrics_free(m);
}

/* PostgreSQL goes away: what waits in the queue fails at once with -ECONNREFUSED (not
 * after the queue timeout), new statements too, and all is well once it is back. */
Test(db_pool, database_down_fails_fast_then_recovers)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 10000, m);
    struct td_db_tx *tx = td_test_db_begin(db);
    struct td_test_call q[3] = {{0}}, in_tx = {0}, end = {0};
    for (int i = 0; i < 3; i++)
        cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &q[i]) == 0);
    cr_assert(td_db_tx_exec_sql(tx, "select pg_sleep(30)", 0, NULL, td_test_db_on_res, &in_tx) == 0);
    td_test_run_for(&loop, 50);
    double t0 = td_test_now_ms();
    td_test_pg_stop_server(&pg);
    cr_assert(td_test_run_until(&loop, &q[2].done, 1, 3000), "queued statements kept waiting");
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(q[i].status, -ECONNREFUSED, "queued #%d: %d", i, q[i].status);
        cr_expect_str_eq(q[i].error, "no connection to PostgreSQL");
        cr_expect_lt(q[i].at - t0, 3000);
    }
    cr_assert(td_test_run_until(&loop, &in_tx.done, 1, 3000));
    cr_expect_eq(in_tx.status, -ECONNRESET);
    cr_assert(td_db_tx_rollback(tx, td_test_db_on_res, &end) == 0);
    cr_assert(td_test_run_until(&loop, &end.done, 1, 1000));
    cr_expect_eq(end.status, -ECONNRESET);

    struct td_test_call c;
    t0 = td_test_now_ms();
    td_test_db_sql(db, &c, "select 1", 0, NULL);
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_lt(c.at - t0, 500, "refusal took %.0f ms", c.at - t0);
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(strstr(why, "no connection to PostgreSQL"), "reason: %s", why);
    cr_expect_eq(gauge(m, "td_db_connections_up"), 0);
    cr_expect_geq(queries(m, "unavailable"), 5);

    td_test_pg_start_server(&pg);
    cr_assert(td_test_db_wait_up(db, 1, 8000), "not back within 8 s of the restart");
    td_test_db_sql(db, &c, "select 'back'", 0, NULL);
    cr_expect_eq(c.status, 0, "%d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "back");
    cr_expect_eq(gauge(m, "td_db_connections_up"), 1);
    td_test_db_close(db);
    td_metrics_free(m);
}

/* Before the first connection is up, statements wait for it instead of being refused. */
Test(db_pool, start_up_queues_instead_of_refusing)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 0, NULL);
    struct td_test_call c = {0};
    cr_assert(td_db_exec_sql(db, "select 'early'", 0, NULL, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
    cr_expect_eq(c.status, 0, "%d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "early");
    td_test_db_close(db);
}

/* ---- registered statements that cannot be prepared yet, or ever ------------------- */

/* One registered statement, start to finish, on the pool or on a transaction. */
static void exec_stmt(struct td_db *db, struct td_db_tx *tx, struct td_test_call *c,
                      const char *name)
{
    memset(c, 0, sizeof *c);
    int rc = tx ? td_db_tx_exec(tx, name, 0, NULL, td_test_db_on_res, c)
                : td_db_exec(db, name, 0, NULL, td_test_db_on_res, c);
    cr_assert(rc == 0, "exec %s = %d", name, rc);
    cr_assert(td_test_run_until(&loop, &c->done, 1, 10000), "no answer to %s", name);
}

static void end_tx(struct td_db_tx *tx, int commit)
{
    struct td_test_call c = {0};
    cr_assert((commit ? td_db_tx_commit : td_db_tx_rollback)(tx, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 10000));
}

/* Lines of a file holding needle (the server's log, ours). */
static int lines_with(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s: %s", path, strerror(errno));
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* PostgreSQL logs each failed statement with its text: PREPAREs of a bad one, counted. */
static int server_log_lines(const char *needle)
{
    char path[sizeof pg.dir + 16];
    snprintf(path, sizeof path, "%s/pg.log", pg.dir);
    return lines_with(path, needle);
}

enum { NLATE = 3 };

/* A role registers its statements before anyone migrated: each connection's PREPARE fails
 * at connect. Uses fail with the reason (42P01), not "prepared statement does not exist";
 * once the table is there the statement works on every connection, through the pool and
 * in transactions, and stays prepared (a rollback does not undo a PREPARE). */
Test(db_pool, a_statement_works_on_every_connection_once_its_table_exists)
{
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db *db = td_test_db_open(pg.conninfo, NLATE, 10000, m);
    cr_assert(td_db_prepare(db, "late", "select count(*), pg_backend_pid() from late_t", 0) == 0);
    cr_assert(td_db_prepare(db, "late_tx", "select count(*) from late_t", 0) == 0);
    cr_assert(wait_connections(m, NLATE, 10000));

    /* transactions open together lease every connection */
    struct td_db_tx *tx[NLATE];
    struct td_test_call c;
    for (int i = 0; i < NLATE; i++)
        tx[i] = td_test_db_begin(db);
    for (int i = 0; i < NLATE; i++) {
        exec_stmt(db, tx[i], &c, "late");
        cr_expect_eq(c.status, -EIO, "connection %d: %d", i, c.status);
        cr_expect_str_eq(c.sqlstate, "42P01", "connection %d: %s", i, c.error);
        cr_expect(strstr(c.error, "late_t"), "connection %d: %s", i, c.error);
        end_tx(tx[i], 0);
    }
    exec_stmt(db, NULL, &c, "late");
    cr_expect_eq(c.status, -EIO);
    cr_expect_str_eq(c.sqlstate, "42P01", "%s", c.error);

    free(td_test_pg_query(&pg, "create table late_t (id int)"));

    /* a burst through the pool: every connection prepares it ahead of its first use */
    enum { N = 30 };
    static struct td_test_call cs[N];
    for (int i = 0; i < N; i++)
        cr_assert(td_db_exec(db, "late", 0, NULL, td_test_db_on_res, &cs[i]) == 0);
    int all = 0;
    double end = td_test_now_ms() + 10000;
    while (all < N && td_test_now_ms() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        all = 0;
        for (int i = 0; i < N; i++)
            all += cs[i].done;
    }
    cr_assert_eq(all, N);
    char pids[NLATE][64];
    int npids = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_eq(cs[i].status, 0, "#%d: %s %s", i, cs[i].sqlstate, cs[i].error);
        cr_expect_str_eq(cs[i].v[0], "0");
        int seen = 0;
        for (int j = 0; j < npids; j++)
            seen |= !strcmp(pids[j], cs[i].v[1]);
        if (!seen && npids < NLATE)
            snprintf(pids[npids++], sizeof pids[0], "%s", cs[i].v[1]);
    }
    cr_expect_eq(npids, NLATE, "the burst ran on %d connections", npids);

    /* in transactions: prepared inside one that rolls back, it is still there after */
    for (int i = 0; i < NLATE; i++)
        tx[i] = td_test_db_begin(db);
    for (int i = 0; i < NLATE; i++) {
        exec_stmt(db, tx[i], &c, "late_tx");
        cr_expect_eq(c.status, 0, "connection %d: %s %s", i, c.sqlstate, c.error);
        end_tx(tx[i], 0);
    }
    for (int i = 0; i < NLATE; i++)
        tx[i] = td_test_db_begin(db);
    for (int i = 0; i < NLATE; i++) {
        td_test_db_txsql(tx[i], &c, "select count(*), string_agg(name, ',' order by name) "
                                    "from pg_prepared_statements", 0, NULL);
        cr_expect_str_eq(c.v[1], "late,late_tx", "connection %d", i);
        exec_stmt(db, tx[i], &c, "late");
        cr_expect_eq(c.status, 0, "connection %d: %s %s", i, c.sqlstate, c.error);
        exec_stmt(db, tx[i], &c, "late_tx");
        cr_expect_eq(c.status, 0, "connection %d: %s %s", i, c.sqlstate, c.error);
        end_tx(tx[i], 1);
    }
    /* none was sent twice once it worked */
    cr_expect_eq(server_log_lines("already exists"), 0);
    td_test_db_close(db);
    td_metrics_free(m);
}

#define BAD_SQL "selec 1 /* td-bad-statement */"

/* A statement that can never be prepared: each use fails with the syntax error (not
 * 26000) after sending one PREPARE, never more, and nothing is sent between uses; the
 * failure is logged once, and the pool is fine otherwise. */
Test(db_pool, a_bad_statement_fails_clearly_with_one_prepare_per_use)
{
    char logpath[sizeof pg.dir + 16];
    snprintf(logpath, sizeof logpath, "%s/todod.log", pg.dir);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    cr_assert(logfd >= 0);
    struct td_log log = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = logfd};
    struct td_metrics *m = NULL;
    cr_assert(td_metrics_new(&m) == 0);
    struct td_db_opts o = {.conninfo = pg.conninfo, .pool_size = 2, .queue_timeout_ms = 10000,
                           .metrics = m, .log = &log};
    struct td_db *db = td_test_db_open_opts(&o);
    cr_assert(td_db_prepare(db, "bad", BAD_SQL, 0) == 0);
    cr_assert(td_db_prepare(db, "good", "select 'good'", 0) == 0);
    cr_assert(wait_connections(m, 2, 10000));
    /* the PREPAREs each connection sent when it came up */
    double end = td_test_now_ms() + 10000;
    while (server_log_lines("td-bad-statement") < 2 && td_test_now_ms() < end)
        td_test_run_for(&loop, 10);
    cr_assert_eq(server_log_lines("td-bad-statement"), 2);

    struct td_test_call c;
    enum { N = 10 };
    for (int i = 0; i < N; i++) {
        exec_stmt(db, NULL, &c, "bad");
        cr_expect_eq(c.status, -EIO, "use %d: %d", i, c.status);
        cr_expect_str_eq(c.sqlstate, "42601", "use %d: %s", i, c.error);
        cr_expect(strstr(c.error, "syntax error"), "use %d: %s", i, c.error);
    }
    cr_expect_eq(server_log_lines("td-bad-statement"), 2 + N, "PREPAREs for %d uses", N);

    /* at once: the uses on one connection rely on one PREPARE, and all say why */
    enum { M = 20 };
    static struct td_test_call cs[M];
    for (int i = 0; i < M; i++)
        cr_assert(td_db_exec(db, i % 2 ? "bad" : "good", 0, NULL, td_test_db_on_res, &cs[i]) == 0);
    cr_assert(td_test_run_until(&loop, &cs[M - 1].done, 1, 10000));
    td_test_run_for(&loop, 50);
    for (int i = 0; i < M; i++) {
        cr_expect_eq(cs[i].done, 1);
        if (i % 2) {
            cr_expect_eq(cs[i].status, -EIO, "#%d: %d", i, cs[i].status);
            cr_expect_str_eq(cs[i].sqlstate, "42601", "#%d: %s", i, cs[i].error);
        } else {
            cr_expect_eq(cs[i].status, 0, "#%d: %s", i, cs[i].error);
            cr_expect_str_eq(cs[i].v[0], "good");
        }
    }
    int sent = server_log_lines("td-bad-statement") - 2 - N;
    cr_expect(sent >= 1 && sent <= M / 2, "%d PREPAREs for %d uses", sent, M / 2);

    /* in a transaction: the same error, and the transaction is aborted as usual */
    struct td_db_tx *tx = td_test_db_begin(db);
    exec_stmt(db, tx, &c, "bad");
    cr_expect_eq(c.status, -EIO);
    cr_expect_str_eq(c.sqlstate, "42601", "%s", c.error);
    exec_stmt(db, tx, &c, "good");
    cr_expect_str_eq(c.sqlstate, "25P02", "%s", c.error);
    end_tx(tx, 0);

    /* no use, no PREPARE */
    int before = server_log_lines("td-bad-statement");
    td_test_run_for(&loop, 300);
    cr_expect_eq(server_log_lines("td-bad-statement"), before);
    exec_stmt(db, NULL, &c, "good");
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_eq(gauge(m, "td_db_connections_up"), 2, "a bad statement broke a connection");
    td_test_db_close(db);
    td_metrics_free(m);
    close(logfd);
    cr_expect_eq(lines_with(logpath, "cannot prepare statement bad"), 1,
                 "logged at every failure");
}

/* No server at all: nothing to start, so these use only the loop. */
TestSuite(db_pool_down, .init = loop_setup, .timeout = 30);

Test(db_pool_down, refused_when_nothing_listens)
{
    struct td_db *db = td_test_db_open("host=/nonexistent-todod-dir port=5999 dbname=x", 2, 5000, NULL);
    struct td_test_call c = { 0 };
    double t0 = td_test_now_ms();
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &c) == 0);   /* start-up: queues */
    cr_assert(td_test_run_until(&loop, &c.done, 1, 3000));
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_lt(td_test_now_ms() - t0, 1000, "waited the queue timeout for a dead server");
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(strstr(why, "no connection"), "reason: %s", why);
    cr_expect_str_eq(c.error, "no connection to PostgreSQL");
    td_test_db_close(db);
}

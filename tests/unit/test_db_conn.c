/* core/db_conn.c: one pooled libpq connection on the loop. Connecting (with our settings
 * under the caller's), breaking and reconnecting when the server goes and comes back,
 * statements cancelled by the server, pipeline order, session hooks, connect timeouts
 * and DNS off the loop. Against a real PostgreSQL (tests/support/pg_harness). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
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

/* pg.conninfo with more key=value pairs after it (later ones win in libpq). */
static char *conninfo_plus(const char *extra)
{
    size_t n = strlen(pg.conninfo) + strlen(extra) + 2;
    char *s = malloc(n);
    cr_assert(s);
    snprintf(s, n, "%s %s", pg.conninfo, extra);
    return s;
}

/* The backends our pools opened (fallback_application_name is "todod"). */
static long our_backends(void)
{
    char *v = td_test_pg_query(&pg, "select count(*) from pg_stat_activity "
                                    "where application_name = 'todod'");
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

/* Waits (blocking, the loop does not run) until a backend runs sql; 1 when one does. */
static int backend_running(const char *sql)
{
    char q[512];
    snprintf(q, sizeof q, "select count(*) from pg_stat_activity where query = '%s' "
                          "and state = 'active'", sql);
    for (int i = 0; i < 200; i++) {
        char *v = td_test_pg_query(&pg, q);
        int n = v ? atoi(v) : 0;
        free(v);
        if (n)
            return 1;
        usleep(10000);
    }
    return 0;
}

TestSuite(db_conn, .init = setup, .fini = teardown, .timeout = 60);

Test(db_conn, connects_with_our_settings_under_the_callers)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 0, NULL);
    char why[128] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0, "up before the loop ran");
    cr_expect_str_eq(why, "connecting to PostgreSQL");
    cr_assert(td_test_db_wait_up(db, 1, 10000), "never connected");
    struct td_test_call c;
    td_test_db_sql(db, &c, "select current_setting('application_name')", 0, NULL);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "todod");
    cr_expect_eq(our_backends(), 1);
    td_test_db_close(db);

    /* the caller's own setting wins over our fallback */
    td_test_db_loop_init(&loop);
    char *mine = conninfo_plus("application_name=mine");
    db = td_test_db_open(mine, 1, 0, NULL);
    td_test_db_sql(db, &c, "select current_setting('application_name')", 0, NULL);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "mine");
    td_test_db_close(db);
    free(mine);

    /* and so does their environment: ours is only a fallback */
    setenv("PGAPPNAME", "from-env", 1);
    td_test_db_loop_init(&loop);
    db = td_test_db_open(pg.conninfo, 1, 0, NULL);
    td_test_db_sql(db, &c, "select current_setting('application_name')", 0, NULL);
    unsetenv("PGAPPNAME");
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "from-env");
    td_test_db_close(db);
}

Test(db_conn, reconnects_after_the_server_restarts)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 0, NULL);
    cr_assert(td_db_prepare(db, "two", "select 2", 0) == 0);
    struct td_test_call c;
    td_test_db_sql(db, &c, "select 1", 0, NULL);
    cr_assert_eq(c.status, 0);

    struct td_test_call slow = { 0 };
    cr_assert(td_db_exec_sql(db, "select pg_sleep(30)", 0, NULL, td_test_db_on_res, &slow) == 0);
    td_test_pg_stop_server(&pg);   /* fast shutdown: the sleeping backend is terminated */
    cr_assert(td_test_run_until(&loop, &slow.done, 1, 5000), "in-flight statement never failed");
    cr_expect(slow.status == -ECONNRESET, "in flight: %d", slow.status);
    cr_assert(td_test_db_wait_up(db, 0, 5000), "still up after the server stopped");
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(why[0], "no reason given");

    double t0 = td_test_now_ms();
    td_test_db_sql(db, &c, "select 1", 0, NULL);
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_str_eq(c.error, "no connection to PostgreSQL");
    cr_expect_lt(td_test_now_ms() - t0, 500, "refusal was not fast");
    struct td_test_txwait w = { 0 };
    cr_assert(td_db_tx_begin(db, td_test_db_on_tx, &w) == 0);
    cr_assert(td_test_run_until(&loop, &w.done, 1, 1000));
    cr_expect_eq(w.status, -ECONNREFUSED);
    cr_expect_null(w.tx);

    td_test_pg_start_server(&pg);
    cr_assert(td_test_db_wait_up(db, 1, 8000), "not back within 8 s of the restart");
    memset(&c, 0, sizeof c);
    cr_assert(td_db_exec(db, "two", 0, NULL, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 5000));
    cr_expect_eq(c.status, 0, "after restart: %d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "2");
    td_test_db_close(db);
}

Test(db_conn, killed_backends_reconnect_and_break_tx)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 2, 0, NULL);
    cr_assert(td_test_db_wait_up(db, 1, 10000));
    struct td_db_tx *tx = td_test_db_begin(db);
    char *n = td_test_pg_query(&pg, "select count(pg_terminate_backend(pid)) from "
                                    "pg_stat_activity where application_name = 'todod'");
    free(n);
    struct td_test_call c;
    td_test_db_txsql(tx, &c, "select 1", 0, NULL);
    cr_expect(c.status == -ECONNRESET, "statement on a broken tx: %d", c.status);
    td_test_db_txsql(tx, &c, "select 1", 0, NULL);
    cr_expect(c.status == -ECONNRESET, "second statement on a broken tx: %d", c.status);
    memset(&c, 0, sizeof c);
    cr_assert(td_db_tx_rollback(tx, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 1000));
    cr_expect_eq(c.status, -ECONNRESET);

    /* a connection that has not yet seen its backend die fails its statement with
     * -ECONNRESET; within a few tries the pool is whole again */
    double end = td_test_now_ms() + 5000;
    do {
        td_test_db_wait_up(db, 1, 5000);
        td_test_db_sql(db, &c, "select current_setting('application_name')", 0, NULL);
    } while (c.status == -ECONNRESET && td_test_now_ms() < end);
    cr_expect_eq(c.status, 0, "%d %s", c.status, c.error);
    cr_expect_str_eq(c.v[0], "todod");
    td_test_db_close(db);
}

/* The server cancels a statement (statement_timeout): that one fails with its SQLSTATE,
 * the connection stays up, and the statement pipelined behind it runs. */
Test(db_conn, statement_timeout_fails_only_that_statement)
{
    char *ci = conninfo_plus("options='-c statement_timeout=300'");
    struct td_db *db = td_test_db_open(ci, 1, 0, NULL);
    cr_assert(td_test_db_wait_up(db, 1, 10000));
    struct td_test_call slow = {0}, next = {0};
    double t0 = td_test_now_ms();
    cr_assert(td_db_exec_sql(db, "select pg_sleep(5)", 0, NULL, td_test_db_on_res, &slow) == 0);
    cr_assert(td_db_exec_sql(db, "select 2", 0, NULL, td_test_db_on_res, &next) == 0);
    cr_assert(td_test_run_until(&loop, &next.done, 1, 5000), "the statement behind never ran");
    cr_expect_eq(slow.done, 1);
    cr_expect_eq(slow.status, -EIO, "timed-out statement: %d", slow.status);
    cr_expect_str_eq(slow.sqlstate, "57014");
    cr_expect_geq(slow.at - t0, 250, "cancelled after %.0f ms", slow.at - t0);
    cr_expect_lt(slow.at - t0, 3000, "cancelled after %.0f ms", slow.at - t0);
    cr_expect_eq(next.status, 0, "%d %s", next.status, next.error);
    cr_expect_str_eq(next.v[0], "2");
    cr_expect_lt(slow.order, next.order);
    cr_expect_eq(td_db_is_up(db, NULL, 0), 1, "a cancelled statement broke the connection");
    td_test_db_close(db);
    free(ci);
}

/* pg_cancel_backend from another session: the same, and no reconnect. */
Test(db_conn, cancel_from_another_session)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 0, NULL);
    cr_assert(td_test_db_wait_up(db, 1, 10000));
    struct td_test_call pid = {0};
    td_test_db_sql(db, &pid, "select pg_backend_pid()", 0, NULL);
    struct td_test_call slow = {0}, next = {0};
    cr_assert(td_db_exec_sql(db, "select pg_sleep(30)", 0, NULL, td_test_db_on_res, &slow) == 0);
    cr_assert(td_db_exec_sql(db, "select pg_backend_pid()", 0, NULL, td_test_db_on_res, &next) == 0);
    cr_assert(backend_running("select pg_sleep(30)"), "the statement never reached the server");
    char *ok = td_test_pg_query(&pg, "select pg_cancel_backend(pid) from pg_stat_activity "
                                     "where query = 'select pg_sleep(30)'");
    cr_assert(ok && !strcmp(ok, "t"), "cancel: %s", ok);
    free(ok);
    cr_assert(td_test_run_until(&loop, &next.done, 1, 5000));
    cr_expect_eq(slow.status, -EIO);
    cr_expect_str_eq(slow.sqlstate, "57014");
    cr_expect_eq(next.status, 0);
    cr_expect_str_eq(next.v[0], pid.v[0], "the connection was replaced");
    td_test_db_close(db);
}

/* One connection, far more statements than its pipeline holds, an error among them:
 * callbacks run in submission order, and the server applied them in that order. */
Test(db_conn, pipeline_keeps_submission_order)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 10000, NULL);
    struct td_test_call c;
    td_test_db_sql(db, &c, "create table seqlog (id serial primary key, n int not null)", 0, NULL);
    cr_assert_eq(c.status, 0, "%s", c.error);
    enum { N = 200, BAD = 77 };
    static struct td_test_call cs[N];
    for (int i = 0; i < N; i++) {
        char n[16];
        snprintf(n, sizeof n, i == BAD ? "x%d" : "%d", i);
        const char *p[] = {n};
        cr_assert(td_db_exec_sql(db, "insert into seqlog (n) values ($1) returning n", 1, p,
                                 td_test_db_on_res, &cs[i]) == 0);
    }
    cr_assert(td_test_run_until(&loop, &cs[N - 1].done, 1, 10000));
    for (int i = 0; i < N; i++) {
        cr_assert_eq(cs[i].done, 1, "#%d answered %d times", i, cs[i].done);
        if (i)
            cr_expect_lt(cs[i - 1].order, cs[i].order, "#%d answered before #%d", i, i - 1);
        if (i == BAD) {
            cr_expect_eq(cs[i].status, -EIO);
            cr_expect_str_eq(cs[i].sqlstate, "22P02");
        } else {
            char n[16];
            snprintf(n, sizeof n, "%d", i);
            cr_expect_eq(cs[i].status, 0, "#%d: %s", i, cs[i].error);
            cr_expect_str_eq(cs[i].v[0], n);
        }
    }
    td_test_db_sql(db, &c, "select count(*), bool_and(n = rn - 1 + (rn > 77)::int) from "
                           "(select n, row_number() over (order by id) as rn from seqlog) s",
                   0, NULL);
    cr_expect_eq(c.status, 0, "%s", c.error);
    cr_expect_str_eq(c.v[0], "199");
    cr_expect_str_eq(c.v[1], "t", "the server ran them out of order");
    td_test_db_close(db);
}

Test(db_conn, sql_error_has_sqlstate_and_spares_the_next)
{
    struct td_db *db = td_test_db_open(pg.conninfo, 1, 0, NULL);
    struct td_test_call e = { 0 }, d = { 0 };
    cr_assert(td_db_exec_sql(db, "select * from no_such_table", 0, NULL, td_test_db_on_res, &e) == 0);
    cr_assert(td_db_exec_sql(db, "select 7", 0, NULL, td_test_db_on_res, &d) == 0);   /* behind it */
    cr_assert(td_test_run_until(&loop, &d.done, 1, 10000));
    cr_expect_eq(e.done, 1);
    cr_expect_eq(e.status, -EIO);
    cr_expect_str_eq(e.sqlstate, "42P01");
    cr_expect(strstr(e.error, "no_such_table"), "error: %s", e.error);
    cr_expect_eq(d.status, 0, "an error broke the statement pipelined after it");
    cr_expect_str_eq(d.v[0], "7");
    td_test_db_close(db);
}

struct session {
    int  ups, downs;
    int  notes;
    char channel[32], payload[64];
};

static void on_session(int up, void *arg)
{
    struct session *s = arg;
    if (up)
        s->ups++;
    else
        s->downs++;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
    struct session *s = arg;
    s->notes++;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    snprintf(s->payload, sizeof s->payload, "%s", payload);
}

/* The hooks a session-keeping pool (LISTEN) relies on: up, NOTIFY, down, up again. */
Test(db_conn, session_hooks_and_notifications)
{
    static struct session s;
    struct td_db_opts o = {.conninfo = pg.conninfo, .pool_size = 1, .on_session = on_session,
                           .on_notify = on_notify, .hook_arg = &s};
    struct td_db *db = td_test_db_open_opts(&o);
    cr_assert(td_test_run_until(&loop, &s.ups, 1, 10000));
    struct td_test_call c;
    td_test_db_sql(db, &c, "listen todod_test", 0, NULL);
    cr_assert_eq(c.status, 0, "%s", c.error);
    free(td_test_pg_query(&pg, "select pg_notify('todod_test', 'hello')"));
    cr_assert(td_test_run_until(&loop, &s.notes, 1, 5000), "NOTIFY never arrived");
    cr_expect_str_eq(s.channel, "todod_test");
    cr_expect_str_eq(s.payload, "hello");
    cr_expect_eq(s.downs, 0);

    free(td_test_pg_query(&pg, "select pg_terminate_backend(pid) from pg_stat_activity "
                               "where application_name = 'todod'"));
    /* the break is seen when the socket reports it, or at the next statement */
    double end = td_test_now_ms() + 5000;
    while (!s.downs && td_test_now_ms() < end) {
        td_test_db_sql(db, &c, "select 1", 0, NULL);
        td_test_run_for(&loop, 20);
    }
    cr_assert_eq(s.downs, 1, "on_session(0) ran %d times", s.downs);
    cr_assert(td_test_run_until(&loop, &s.ups, 2, 8000), "never reconnected");
    /* a new session: LISTEN is gone with the old one, which is why the hook exists */
    free(td_test_pg_query(&pg, "select pg_notify('todod_test', 'lost')"));
    td_test_run_for(&loop, 200);
    cr_expect_eq(s.notes, 1, "a notification reached a session that never listened");
    td_test_db_close(db);
}

/* No server at all: nothing to start, so these use only the loop. */
TestSuite(db_conn_down, .init = loop_setup, .timeout = 30);

Test(db_conn_down, dns_name_resolved_off_loop)
{
    /* port 1: nothing listens; the name still has to be resolved first */
    struct td_db *db = td_test_db_open("postgresql://localhost:1/x?connect_timeout=2", 1, 5000, NULL);
    struct td_test_call c = { 0 };
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 5000));
    cr_expect_eq(c.status, -ECONNREFUSED);
    td_test_db_close(db);
}

Test(db_conn_down, close_while_resolving)
{
    struct td_db *db = td_test_db_open("host=localhost port=1 dbname=x", 4, 0, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);   /* the connect timers fire: lookups are in the pool */
    struct td_test_call c = { 0 };
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &c) == 0);
    td_test_db_close(db);
    cr_expect_eq(c.done, 1);
    cr_expect(c.status == -ECANCELED || c.status == -ECONNREFUSED, "status %d", c.status);
}

/* A server that accepts the TCP connection and never answers: the attempt times out
 * (connect_timeout, which libpq honours only when connecting blocking). */
Test(db_conn_down, connect_times_out_when_the_server_never_answers)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    char ci[128];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x connect_timeout=2", ntohs(a.sin_port));
    struct td_db *db = td_test_db_open(ci, 1, 10000, NULL);
    struct td_test_call c = {0};
    double t0 = td_test_now_ms();
    cr_assert(td_db_exec_sql(db, "select 1", 0, NULL, td_test_db_on_res, &c) == 0);
    cr_assert(td_test_run_until(&loop, &c.done, 1, 6000), "never gave up connecting");
    double took = c.at - t0;
    cr_expect_eq(c.status, -ECONNREFUSED);
    cr_expect_geq(took, 1900, "gave up after %.0f ms", took);
    cr_expect_lt(took, 4000, "gave up after %.0f ms", took);
    char why[200] = "";
    cr_expect_eq(td_db_is_up(db, why, sizeof why), 0);
    cr_expect(strstr(why, "timed out"), "reason: %s", why);
    td_test_db_close(db);
    close(fd);
}

/* Driving a core/db pool from unit tests (see db_harness.h). */
#include "tests/support/db_harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/loop_harness.h"

struct td_log td_test_db_quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};

static uv_loop_t *loop;
static uv_timer_t tick;
static int answers;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

void td_test_db_loop_init(uv_loop_t *l)
{
    cr_assert(uv_loop_init(l) == 0);
    loop = l;
    answers = 0;
    uv_timer_init(l, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
}

struct td_db *td_test_db_open_opts(struct td_db_opts *o)
{
    if (!o->log)
        o->log = &td_test_db_quiet;
    struct td_db *db = NULL;
    int rc = td_db_open(loop, o, &db);
    cr_assert(rc == 0, "td_db_open = %d", rc);
    cr_assert(db);
    return db;
}

struct td_db *td_test_db_open(const char *conninfo, int pool, int qtimeout, struct td_metrics *m)
{
    struct td_db_opts o = {.conninfo = conninfo, .pool_size = pool, .queue_timeout_ms = qtimeout,
                           .metrics = m};
    return td_test_db_open_opts(&o);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

void td_test_db_close(struct td_db *db)
{
    int closed = 0;
    td_db_close(db, on_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    cr_assert(uv_run(loop, UV_RUN_DEFAULT) == 0, "handles left on the loop");
    cr_assert(closed == 1, "closed callback ran %d times", closed);
    cr_assert(uv_loop_close(loop) == 0);
    td_test_assert_no_leaks();
}

int td_test_db_wait_up(struct td_db *db, int want, int ms)
{
    double end = td_test_now_ms() + ms;
    while (td_db_is_up(db, NULL, 0) != want && td_test_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    return td_db_is_up(db, NULL, 0) == want;
}

void td_test_db_on_res(int status, struct td_db_res *res, void *arg)
{
    struct td_test_call *c = arg;
    c->done++;
    c->status = status;
    c->order = ++answers;
    c->at = td_test_now_ms();
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

void td_test_db_sql(struct td_db *db, struct td_test_call *c, const char *q, int n,
                    const char *const *p)
{
    memset(c, 0, sizeof *c);
    int rc = td_db_exec_sql(db, q, n, p, td_test_db_on_res, c);
    cr_assert(rc == 0, "exec %s = %d", q, rc);
    cr_assert(c->done == 0, "callback ran inside the call");
    cr_assert(td_test_run_until(loop, &c->done, 1, 10000), "no answer to %s", q);
}

void td_test_db_txsql(struct td_db_tx *tx, struct td_test_call *c, const char *q, int n,
                      const char *const *p)
{
    memset(c, 0, sizeof *c);
    cr_assert(td_db_tx_exec_sql(tx, q, n, p, td_test_db_on_res, c) == 0);
    cr_assert(td_test_run_until(loop, &c->done, 1, 10000), "no answer to %s", q);
}

void td_test_db_on_tx(int status, struct td_db_tx *tx, void *arg)
{
    struct td_test_txwait *w = arg;
    w->done++;
    w->status = status;
    w->tx = tx;
    w->order = ++answers;
}

struct td_db_tx *td_test_db_begin(struct td_db *db)
{
    struct td_test_txwait w = {0};
    cr_assert(td_db_tx_begin(db, td_test_db_on_tx, &w) == 0);
    cr_assert(td_test_run_until(loop, &w.done, 1, 10000), "BEGIN not answered");
    cr_assert(w.status == 0 && w.tx, "BEGIN = %d", w.status);
    return w.tx;
}

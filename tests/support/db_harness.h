/* Driving a core/db pool from unit tests: a loop that never sleeps for ever, statements
 * run to their answer with the answer copied out, transactions begun and waited for, and
 * a close that proves nothing is left behind. */
#ifndef TD_TEST_DB_HARNESS_H
#define TD_TEST_DB_HARNESS_H
#include <uv.h>

#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"

extern struct td_log td_test_db_quiet;   /* errors only, to stderr */

/* uv_loop_init(loop) plus a 10 ms timer, so UV_RUN_ONCE never blocks for ever; the
 * helpers below run this loop. Call from each test's .init. */
void td_test_db_loop_init(uv_loop_t *loop);
/* A pool on that loop; asserts it opened. */
struct td_db *td_test_db_open(const char *conninfo, int pool_size, int queue_timeout_ms,
                              struct td_metrics *metrics);
/* Same, with every option the caller's (opts->log defaults to td_test_db_quiet). */
struct td_db *td_test_db_open_opts(struct td_db_opts *opts);
/* Closes the pool and the timer; asserts the closed callback ran once, that no handle is
 * left on the loop, and that LeakSanitizer finds nothing. */
void td_test_db_close(struct td_db *db);
/* Runs the loop until td_db_is_up(db) == want or ms pass; 1 when it got there. */
int  td_test_db_wait_up(struct td_db *db, int want, int ms);

/* One statement's answer, copied out of the callback. */
struct td_test_call {
    int    done;        /* times the callback ran */
    int    status;
    int    rows, cols;
    long   affected;
    char   v[3][64];    /* first row, first three columns; "<null>" for SQL NULL */
    char   sqlstate[6];
    char   error[160];
    char   col0[32];
    int    order;       /* 1 for the first answer since td_test_db_loop_init, 2 next... */
    double at;          /* td_test_now_ms() when it was answered */
};
/* td_db_cb for a struct td_test_call. */
void td_test_db_on_res(int status, struct td_db_res *res, void *arg);
/* One statement, start to finish (asserts it was accepted and answered within 10 s, and
 * that the callback did not run inside the call). */
void td_test_db_sql(struct td_db *db, struct td_test_call *c, const char *sql, int n,
                    const char *const *params);
void td_test_db_txsql(struct td_db_tx *tx, struct td_test_call *c, const char *sql, int n,
                      const char *const *params);

struct td_test_txwait {
    int              done;
    int              status;
    struct td_db_tx *tx;
    int              order;   /* shares td_test_call's count */
};
void td_test_db_on_tx(int status, struct td_db_tx *tx, void *arg);
/* BEGIN, waited for; asserts it succeeded. */
struct td_db_tx *td_test_db_begin(struct td_db *db);

#endif

/* Asynchronous PostgreSQL on the uv loop: a small pool of non-blocking libpq
 * connections watched with uv_poll, prepared statements, transactions, reconnect with
 * backoff. No libpq type leaves core/db*.c (house rule 4).
 *
 * Errors given to callbacks (status argument):
 *   0              success; res holds the rows
 *   -EIO           the server rejected the statement; res holds sqlstate and message
 *   -ECONNREFUSED  no connection is up (PostgreSQL down or restarting): answer 503
 *   -ECONNRESET    the connection broke while the statement was in flight, or the server
 *                  answered with SQLSTATE class 08 or 57P (shutting down): answer 503
 *   -ETIMEDOUT     the wait for a free connection took longer than queue_timeout_ms
 *   -ECANCELED     the pool is closing
 *
 * Callbacks: a call returning 0 runs its callback exactly once, always later from the
 * loop, never inside the call itself; a call returning nonzero (-EINVAL, -ENOMEM,
 * -ECANCELED once closing) never runs it. res is never NULL; without a server answer it
 * has no rows and td_db_res_error says why. Statement callbacks may be NULL.
 *
 * Queueing: statements wait in one FIFO queue for a connection that is up, not leased
 * to a transaction and has fewer than 32 statements in flight (connections use libpq
 * pipeline mode). While no connection is up, statements fail at once (on the next tick)
 * with -ECONNREFUSED, except at start-up until every connection has tried once.
 *
 * Transactions: the tx callback runs once BEGIN is answered (tx is NULL when status is
 * not 0). Statements on a tx are pipelined on its connection in call order. An SQL error
 * aborts the transaction as usual: later statements get -EIO (25P02) and COMMIT acts as
 * ROLLBACK. If the connection breaks, every pending and later statement of the tx, and
 * its COMMIT or ROLLBACK, complete with -ECONNRESET (the server has rolled it back). The
 * caller always ends a tx with exactly one td_db_tx_commit or td_db_tx_rollback; that
 * call frees it whatever it returns, and the lease ends when it is sent.
 *
 * Closing: td_db_close fails queued and in-flight work with -ECANCELED (those callbacks
 * run inside td_db_close). Until closed_cb runs, calls on db or on an open tx return
 * -ECANCELED (commit/rollback still free the tx); the pool frees transactions nobody
 * ended. After closed_cb neither db nor any tx may be touched.
 */
#ifndef TD_DB_H
#define TD_DB_H
#include <stddef.h>
#include <uv.h>
#include "core/log.h"
#include "core/metrics.h"

struct td_db;
struct td_db_tx;    /* one connection leased for a transaction */
struct td_db_res;   /* one statement's result; valid only during the callback */

struct td_db_opts {
    const char        *conninfo;         /* libpq conninfo or URL; copied */
    int                pool_size;        /* connections, default 4 */
    int                queue_timeout_ms; /* wait for a free connection, default 5000 */
    struct td_log     *log;              /* not owned */
    struct td_metrics *metrics;          /* not owned; may be NULL */
    /* Session hooks, for a pool of one connection that keeps session state (LISTEN,
     * advisory locks): on_session(1) each time a connection comes up, on_session(0) when
     * it breaks; on_notify for each NOTIFY received. Both may be NULL. */
    void (*on_session)(int up, void *arg);
    void (*on_notify)(const char *channel, const char *payload, void *arg);
    void              *hook_arg;
};

typedef void (*td_db_cb)(int status, struct td_db_res *res, void *arg);
typedef void (*td_db_tx_cb)(int status, struct td_db_tx *tx, void *arg);
typedef void (*td_db_closed_cb)(void *arg);

/* Starts connecting in the background and returns at once; statements queue until a
 * connection is up (or fail with -ECONNREFUSED while none can be made). */
int  td_db_open(uv_loop_t *loop, const struct td_db_opts *opts, struct td_db **out);
/* Closes every connection and handle; cb runs once all are closed, then db is freed.
 * Statements still queued complete with -ECANCELED. */
void td_db_close(struct td_db *db, td_db_closed_cb cb, void *arg);

/* Registers a named prepared statement; each connection prepares all registered
 * statements when it connects. One registered later, or one whose PREPARE failed there
 * (its table did not exist yet, say), is prepared at its next use on that connection,
 * pipelined ahead of it: no round trip more, at most one PREPARE per use. A use whose
 * PREPARE failed answers -EIO with that PREPARE's SQLSTATE and message. */
int  td_db_prepare(struct td_db *db, const char *name, const char *sql, int nparams);

/* One statement on any free connection, in its own implicit transaction.
 * params are text-format values; NULL means SQL NULL. Copied before return. */
int  td_db_exec(struct td_db *db, const char *stmt_name, int nparams,
                const char *const *params, td_db_cb cb, void *arg);
int  td_db_exec_sql(struct td_db *db, const char *sql, int nparams,
                    const char *const *params, td_db_cb cb, void *arg);

/* Transactions: BEGIN on a leased connection; every statement goes to that
 * connection; commit or rollback returns it to the pool. */
int  td_db_tx_begin(struct td_db *db, td_db_tx_cb cb, void *arg);
int  td_db_tx_exec(struct td_db_tx *tx, const char *stmt_name, int nparams,
                   const char *const *params, td_db_cb cb, void *arg);
int  td_db_tx_exec_sql(struct td_db_tx *tx, const char *sql, int nparams,
                       const char *const *params, td_db_cb cb, void *arg);
int  td_db_tx_commit(struct td_db_tx *tx, td_db_cb cb, void *arg);
int  td_db_tx_rollback(struct td_db_tx *tx, td_db_cb cb, void *arg);

/* Result access (valid only inside the callback). Values are text; NULL for SQL NULL. */
int         td_db_res_rows(const struct td_db_res *res);
int         td_db_res_cols(const struct td_db_res *res);
const char *td_db_res_value(const struct td_db_res *res, int row, int col);
size_t      td_db_res_len(const struct td_db_res *res, int row, int col);
const char *td_db_res_colname(const struct td_db_res *res, int col);
long        td_db_res_affected(const struct td_db_res *res);  /* UPDATE/DELETE/INSERT count */
const char *td_db_res_sqlstate(const struct td_db_res *res);  /* "" when none */
const char *td_db_res_error(const struct td_db_res *res);     /* "" when none */

/* 1 when at least one connection is established and idle-or-busy, 0 otherwise;
 * reason gets a short human text when 0. */
int  td_db_is_up(const struct td_db *db, char *reason, size_t reasonlen);

#endif

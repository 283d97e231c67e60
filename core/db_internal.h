/* Shared by core/db.c (the public calls), core/db_pool.c (queue, completion) and
 * core/db_conn.c (one libpq connection on the loop). Nothing else includes it. */
#ifndef TD_DB_INTERNAL_H
#define TD_DB_INTERNAL_H
#include <libpq-fe.h>
#include <stdint.h>
#include "core/db.h"

enum {
    DB_REQ_INLINE = 384,     /* most statements' params fit without a second malloc */
    DB_FREELIST_MAX = 256,
    DB_PIPE_DEPTH = 32,      /* statements in flight per pooled connection */
    DB_BACKOFF_MIN_MS = 100,
    DB_BACKOFF_MAX_MS = 5000,
    DB_CONNECT_TIMEOUT_MS = 10000,   /* when the conninfo sets no connect_timeout */
};

enum db_req_kind { DB_PREPARED, DB_SQL, DB_BEGIN, DB_COMMIT, DB_ROLLBACK, DB_PREPARE };

/* One statement from submission to callback. Owned by whichever list holds it: the pool
 * queue, a connection's sent list, the deferred list, or the freelist. */
struct db_req {
    struct db_req     *next;
    enum db_req_kind   kind;
    int                status;     /* why it failed, while on the deferred list */
    td_db_cb           cb;
    td_db_tx_cb        txcb;       /* DB_BEGIN only */
    void              *arg;
    struct td_db_tx   *tx;         /* DB_BEGIN: the transaction being opened */
    uint64_t           queued_ms;  /* uv_now at submission, for the queue timeout */
    uint64_t           hr0;        /* uv_hrtime at submission, for the histogram */
    PGresult          *res;        /* result collected so far (first error wins) */
    struct db_conn    *conn;       /* DB_PREPARE: the connection it prepares on */
    size_t             stmt;       /* DB_PREPARE, or a DB_PREPARED relying on one sent ahead
                                    * of it on its connection: index in db->stmts + 1 */
    int                asked;      /* DB_PREPARE outside a transaction: later uses rely on it */
    char              *prep_err;   /* DB_PREPARED: why the PREPARE it relied on failed,
                                    * "SQLSTATE\0message"; malloc'd, NULL when none */
    int                nparams;
    const char        *text;       /* statement name or SQL; points into mem or static */
    const char        *sql;        /* DB_PREPARE: the SQL; text is the name */
    const char *const *params;     /* points into mem */
    char              *mem;        /* inl.c or a malloc'd block when inl is too small */
    union { char c[DB_REQ_INLINE]; void *align; } inl;
};

struct db_reqq {
    struct db_req *head, *tail;
    size_t         n;
};

enum db_conn_state { DB_C_DOWN, DB_C_RESOLVING, DB_C_CONNECTING, DB_C_READY, DB_C_CLOSED };

struct db_conn {
    struct td_db       *db;
    int                 idx;
    enum db_conn_state  state;
    PGconn             *pg;
    uv_poll_t          *poll;      /* heap: replaced when libpq switches sockets */
    int                 fd;
    int                 events;    /* what poll watches now */
    int                 want_write;
    struct db_reqq      sent;      /* sent, result not yet complete, in order */
    int                 syncs;     /* pipeline sync results still to come */
    struct td_db_tx    *tx;        /* leased to this transaction, or NULL */
    size_t              nready;    /* registered statements prepared in this session */
    uv_timer_t          timer;     /* reconnect backoff, or the connect deadline */
    unsigned            backoff_ms;
    int                 attempts;  /* failed attempts since last up */
    int                 lost;      /* was up and broke: log when it comes back */
    uv_getaddrinfo_t    gai;
    int                 gai_active;
};

struct td_db_tx {
    struct td_db    *db;
    struct db_conn  *conn;        /* NULL once the connection broke */
    int              status;      /* why conn went away */
    struct td_db_tx *prev, *next; /* db->txs: freed at close if the caller never ends them */
};

/* Where a registered statement stands on one connection, in its current session. */
enum db_stmt_state {
    DB_ST_NONE,    /* not prepared: the next use sends PREPARE ahead of itself */
    DB_ST_ASKED,   /* a PREPARE outside any transaction is in flight: uses rely on it */
    DB_ST_ON,      /* prepared: uses go alone (the hot path) */
};

struct db_stmt {
    char          *name;
    char          *sql;
    int            nparams;
    unsigned char *on;        /* enum db_stmt_state per connection (index c->idx) */
    int            failing;   /* its last PREPARE failed: logged once, until one succeeds */
};

struct td_db {
    uv_loop_t         *loop;
    struct td_log     *log;
    char              *conninfo;
    char              *resolve_host;  /* a DNS name libpq would resolve blocking, or NULL */
    int                queue_timeout_ms;
    unsigned           connect_timeout_ms;
    int                pool_size;
    struct db_conn    *conns;
    int                nup;
    int                starting;      /* no connection has come up yet: queue, don't refuse */
    int                closing;
    unsigned           open_handles;  /* handles and requests whose close is still pending */
    td_db_closed_cb    closed_cb;
    void              *closed_arg;
    struct db_reqq     queue;         /* waiting for a free connection */
    struct db_reqq     deferred;      /* failed before reaching a server; delivered next tick */
    struct db_req     *freelist;
    size_t             nfree;
    uv_timer_t         qtimer;
    uv_idle_t          idle;
    struct db_stmt    *stmts;
    size_t             nstmts, capstmts;
    struct td_db_tx   *txs;
    uint64_t           rng;
    char               last_err[160];
    void             (*on_session)(int up, void *arg);
    void             (*on_notify)(const char *channel, const char *payload, void *arg);
    void              *hook_arg;
    struct td_metric_series *m_up, *m_queue, *m_ok, *m_err, *m_unavail, *m_dur;
};

struct td_db_res {
    PGresult   *pg;        /* NULL when the statement never got a server answer */
    const char *why;       /* message for that case */
    const char *prep_err;  /* its statement failed to prepare: that error, not 26000 */
};

/* core/db_pool.c */
void db_reqq_push(struct db_reqq *q, struct db_req *r);
struct db_req *db_reqq_pop(struct db_reqq *q);
struct db_req *db_req_get(struct td_db *db);              /* NULL: out of memory */
void db_req_put(struct td_db *db, struct db_req *r);      /* clears its result too */
void db_tx_free(struct td_db *db, struct td_db_tx *tx);
int  db_submit(struct td_db *db, struct db_req *r);       /* to the pool, FIFO */
void db_finish(struct td_db *db, struct db_req *r, int status);   /* runs the callback */
void db_complete(struct td_db *db, struct db_req *r);     /* status from r->res */
void db_defer(struct td_db *db, struct db_req *r, int status);    /* db_finish next tick */
void db_pump(struct td_db *db);                           /* queue -> free connections */
void db_queue_changed(struct td_db *db);
void db_prepare_all(struct td_db *db, struct db_conn *c);     /* a new session */
void db_prepare_ahead(struct db_conn *c, struct db_req *r);    /* before r is sent on c */
void db_conn_up(struct td_db *db, struct db_conn *c);
void db_conn_down(struct td_db *db, struct db_conn *c);
void db_conn_failed(struct td_db *db, struct db_conn *c);   /* a connect attempt failed */
void db_set_error(struct td_db *db, const char *msg);

/* core/db.c */
void db_release(struct td_db *db);          /* one handle or request fewer; may free db */
void db_handle_closed(uv_handle_t *h);      /* close cb for handles whose data is the db */

/* core/db_conn.c */
void db_conn_on_timer(uv_timer_t *t);
void db_conn_schedule(struct db_conn *c, unsigned delay_ms);
void db_conn_send(struct db_conn *c, struct db_req *r);   /* failure defers r */
void db_conn_reset(struct db_conn *c, const char *why);   /* drop it, reconnect later */
void db_conn_shutdown(struct db_conn *c, struct db_reqq *failed);

#endif

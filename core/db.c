/* The public calls: open and close, statements, transactions, results, health.
 * A callback never runs inside the call that submitted its statement; a nonzero return
 * means it will not run at all. The machinery is core/db_pool.c and core/db_conn.c. */
#include "core/db_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name or SQL and every parameter go into one block (inline when small), so the
 * caller's buffers may be reused as soon as we return. */
static int req_fill(struct db_req *r, const char *text, int n, const char *const *params)
{
    size_t tlen = strlen(text) + 1;
    size_t need = (size_t)n * sizeof(char *) + tlen;
    for (int i = 0; i < n; i++)
        if (params[i])
            need += strlen(params[i]) + 1;
    if (need > sizeof r->inl.c && !(r->mem = malloc(need))) {
        r->mem = r->inl.c;
        return -ENOMEM;
    }
    const char **pv = (const char **)(void *)r->mem;
    char *p = r->mem + (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            pv[i] = NULL;
            continue;
        }
        size_t len = strlen(params[i]) + 1;
        memcpy(p, params[i], len);
        pv[i] = p;
        p += len;
    }
    memcpy(p, text, tlen);
    r->text = p;
    r->params = pv;
    r->nparams = n;
    return 0;
}

/* ---- open and close ---------------------------------------------------------------- */

/* libpq would resolve a host name with a blocking getaddrinfo on our loop, and honours
 * connect_timeout only when connecting blocking: note both so db_conn.c can do them
 * itself. Lists of hosts are left to libpq. */
static int read_conninfo(struct td_db *db, const PQconninfoOption *opts)
{
    const char *host = NULL, *hostaddr = NULL, *timeout = NULL;
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr"))
            hostaddr = o->val;
        else if (!strcmp(o->keyword, "connect_timeout"))
            timeout = o->val;
    }
    if (!timeout || !*timeout)
        timeout = getenv("PGCONNECT_TIMEOUT");
    int secs = timeout ? atoi(timeout) : 0;
    db->connect_timeout_ms = secs > 0 ? (unsigned)(secs < 2 ? 2 : secs) * 1000u
                                      : DB_CONNECT_TIMEOUT_MS;   /* libpq's minimum is 2 */
    if (!host || !*host)
        host = getenv("PGHOST");
    if (!hostaddr || !*hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    if (!host || !*host || (hostaddr && *hostaddr) || host[0] == '/' || host[0] == '@'
        || strchr(host, ','))
        return 0;
    unsigned char bin[16];
    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1)
        return 0;
    db->resolve_host = strdup(host);
    return db->resolve_host ? 0 : -ENOMEM;
}

static void describe_metrics(struct td_db *db, struct td_metrics *m)
{
    if (!m)
        return;
    if (td_metrics_describe(m, "td_db_connections_up", TD_METRIC_GAUGE,
                            "PostgreSQL connections established", NULL, 0)
        || td_metrics_describe(m, "td_db_queue_depth", TD_METRIC_GAUGE,
                               "Statements waiting for a free connection", NULL, 0)
        || td_metrics_describe(m, "td_db_queries_total", TD_METRIC_COUNTER,
                               "Statements finished, by outcome", NULL, 0)
        || td_metrics_describe(m, "td_db_query_duration_seconds", TD_METRIC_HISTOGRAM,
                               "Submission to result, queueing included", NULL, 0))
        return;
    /* plain gauges, not gauge_fn: the registry outlives the pool and would call into it */
    db->m_up = td_metrics_series(m, "td_db_connections_up", "");
    db->m_queue = td_metrics_series(m, "td_db_queue_depth", "");
    db->m_dur = td_metrics_series(m, "td_db_query_duration_seconds", "");
    db->m_ok = td_metrics_series(m, "td_db_queries_total", "result=\"ok\"");
    db->m_err = td_metrics_series(m, "td_db_queries_total", "result=\"error\"");
    db->m_unavail = td_metrics_series(m, "td_db_queries_total", "result=\"unavailable\"");
    if (!db->m_ok || !db->m_err || !db->m_unavail)
        db->m_ok = NULL;   /* count() checks only this one */
    if (db->m_up)
        td_metric_set(db->m_up, 0);
}

int td_db_open(uv_loop_t *loop, const struct td_db_opts *opts, struct td_db **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!loop || !opts || !opts->conninfo || opts->pool_size < 0 || opts->pool_size > 1024
        || opts->queue_timeout_ms < 0)
        return -EINVAL;
    char *perr = NULL;
    PQconninfoOption *ci = PQconninfoParse(opts->conninfo, &perr);
    if (!ci) {
        int rc = perr ? -EINVAL : -ENOMEM;
        PQfreemem(perr);
        return rc;
    }
    struct td_db *db = calloc(1, sizeof *db);
    int rc = -ENOMEM;
    if (db) {
        db->pool_size = opts->pool_size ? opts->pool_size : 4;
        db->conns = calloc((size_t)db->pool_size, sizeof *db->conns);
        db->conninfo = strdup(opts->conninfo);
        rc = read_conninfo(db, ci);
    }
    PQconninfoFree(ci);
    if (rc || !db->conns || !db->conninfo) {
        if (db) {
            free(db->conns);
            free(db->conninfo);
            free(db->resolve_host);
        }
        free(db);
        return -ENOMEM;
    }
    db->loop = loop;
    db->log = opts->log;
    db->on_session = opts->on_session;
    db->on_notify = opts->on_notify;
    db->hook_arg = opts->hook_arg;
    db->queue_timeout_ms = opts->queue_timeout_ms ? opts->queue_timeout_ms : 5000;
    db->starting = 1;
    db->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)db ^ 0x9e3779b97f4a7c15ull;
    describe_metrics(db, opts->metrics);
    uv_timer_init(loop, &db->qtimer);
    db->qtimer.data = db;
    uv_idle_init(loop, &db->idle);
    db->idle.data = db;
    db->open_handles = 2;
    for (int i = 0; i < db->pool_size; i++) {
        struct db_conn *c = &db->conns[i];
        c->db = db;
        c->idx = i;
        c->fd = -1;
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        db->open_handles++;
        db_conn_schedule(c, 0);   /* connect from the loop, not inside open */
    }
    *out = db;
    return 0;
}

static void db_free(struct td_db *db)
{
    td_db_closed_cb cb = db->closed_cb;
    void *arg = db->closed_arg;
    struct db_req *r;
    while ((r = db->freelist)) {
        db->freelist = r->next;
        free(r);
    }
    while (db->txs)
        db_tx_free(db, db->txs);
    for (size_t i = 0; i < db->nstmts; i++) {
        free(db->stmts[i].name);
        free(db->stmts[i].sql);
        free(db->stmts[i].on);
    }
    free(db->stmts);
    free(db->conns);
    free(db->conninfo);
    free(db->resolve_host);
    free(db);
    if (cb)
        cb(arg);
}

void db_release(struct td_db *db)
{
    if (--db->open_handles == 0 && db->closing)
        db_free(db);
}

void db_handle_closed(uv_handle_t *h)
{
    db_release(h->data);
}

void td_db_close(struct td_db *db, td_db_closed_cb cb, void *arg)
{
    if (!db || db->closing)
        return;
    db->closing = 1;
    db->closed_cb = cb;
    db->closed_arg = arg;
    /* take everything apart first, then run callbacks: they may call us back, and then
     * find a pool that answers -ECANCELED to everything */
    struct db_reqq failed = { 0 }, deferred = db->deferred;
    memset(&db->deferred, 0, sizeof db->deferred);
    for (int i = 0; i < db->pool_size; i++)
        db_conn_shutdown(&db->conns[i], &failed);
    struct db_req *r;
    while ((r = db_reqq_pop(&db->queue)))
        db_reqq_push(&failed, r);
    db->nup = 0;
    if (db->m_up)
        td_metric_set(db->m_up, 0);
    db_queue_changed(db);
    uv_close((uv_handle_t *)&db->qtimer, db_handle_closed);
    uv_close((uv_handle_t *)&db->idle, db_handle_closed);
    while ((r = db_reqq_pop(&deferred)))
        db_finish(db, r, r->status);
    while ((r = db_reqq_pop(&failed))) {
        if (r->kind == DB_PREPARE)
            db_req_put(db, r);
        else
            db_finish(db, r, -ECANCELED);
    }
}

/* ---- statements -------------------------------------------------------------------- */

int td_db_prepare(struct td_db *db, const char *name, const char *sql, int nparams)
{
    if (!db || !name || !*name || !sql || nparams < 0 || nparams > 65535)
        return -EINVAL;
    if (db->closing)
        return -ECANCELED;
    for (size_t i = 0; i < db->nstmts; i++)
        if (!strcmp(db->stmts[i].name, name))
            return -EEXIST;
    if (db->nstmts == db->capstmts) {
        size_t cap = db->capstmts ? db->capstmts * 2 : 16;
        struct db_stmt *s = realloc(db->stmts, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        db->stmts = s;
        db->capstmts = cap;
    }
    struct db_stmt *s = &db->stmts[db->nstmts];
    s->name = strdup(name);
    s->sql = strdup(sql);
    s->nparams = nparams;
    s->on = calloc((size_t)db->pool_size, 1);   /* DB_ST_NONE everywhere */
    s->failing = 0;
    if (!s->name || !s->sql || !s->on) {
        free(s->name);
        free(s->sql);
        free(s->on);
        return -ENOMEM;
    }
    /* connections up now prepare it at its first use there; later ones at connect */
    db->nstmts++;
    return 0;
}

static struct db_req *stmt_req(struct td_db *db, enum db_req_kind kind, const char *text,
                               int n, const char *const *params, td_db_cb cb, void *arg,
                               int *rc)
{
    *rc = -EINVAL;
    if (!text || n < 0 || n > 65535 || (n && !params))
        return NULL;
    *rc = -ECANCELED;
    if (db->closing)
        return NULL;
    *rc = -ENOMEM;
    struct db_req *r = db_req_get(db);
    if (!r)
        return NULL;
    if (req_fill(r, text, n, params)) {
        db_req_put(db, r);
        return NULL;
    }
    r->kind = kind;
    r->cb = cb;
    r->arg = arg;
    *rc = 0;
    return r;
}

int td_db_exec(struct td_db *db, const char *stmt_name, int nparams,
               const char *const *params, td_db_cb cb, void *arg)
{
    int rc;
    if (!db)
        return -EINVAL;
    struct db_req *r = stmt_req(db, DB_PREPARED, stmt_name, nparams, params, cb, arg, &rc);
    return r ? db_submit(db, r) : rc;
}

int td_db_exec_sql(struct td_db *db, const char *sql, int nparams,
                   const char *const *params, td_db_cb cb, void *arg)
{
    int rc;
    if (!db)
        return -EINVAL;
    struct db_req *r = stmt_req(db, DB_SQL, sql, nparams, params, cb, arg, &rc);
    return r ? db_submit(db, r) : rc;
}

/* ---- transactions ------------------------------------------------------------------ */

int td_db_tx_begin(struct td_db *db, td_db_tx_cb cb, void *arg)
{
    if (!db || !cb)
        return -EINVAL;
    if (db->closing)
        return -ECANCELED;
    struct td_db_tx *tx = calloc(1, sizeof *tx);
    struct db_req *r = tx ? db_req_get(db) : NULL;
    if (!r) {
        free(tx);
        return -ENOMEM;
    }
    tx->db = db;
    tx->next = db->txs;
    if (db->txs)
        db->txs->prev = tx;
    db->txs = tx;
    r->kind = DB_BEGIN;
    r->text = "BEGIN";
    r->tx = tx;
    r->txcb = cb;
    r->arg = arg;
    return db_submit(db, r);
}

static int tx_stmt(struct td_db_tx *tx, enum db_req_kind kind, const char *text, int n,
                   const char *const *params, td_db_cb cb, void *arg)
{
    int rc;
    if (!tx)
        return -EINVAL;
    struct db_req *r = stmt_req(tx->db, kind, text, n, params, cb, arg, &rc);
    if (!r)
        return rc;
    /* pipelined straight onto the leased connection: the server keeps the order */
    if (tx->conn)
        db_conn_send(tx->conn, r);
    else
        db_defer(tx->db, r, tx->status);
    return 0;
}

int td_db_tx_exec(struct td_db_tx *tx, const char *stmt_name, int nparams,
                  const char *const *params, td_db_cb cb, void *arg)
{
    return tx_stmt(tx, DB_PREPARED, stmt_name, nparams, params, cb, arg);
}

int td_db_tx_exec_sql(struct td_db_tx *tx, const char *sql, int nparams,
                      const char *const *params, td_db_cb cb, void *arg)
{
    return tx_stmt(tx, DB_SQL, sql, nparams, params, cb, arg);
}

/* The lease ends when COMMIT/ROLLBACK is sent, not answered: pool work pipelined behind
 * it runs after it on the server anyway. */
static int tx_end(struct td_db_tx *tx, enum db_req_kind kind, td_db_cb cb, void *arg)
{
    if (!tx)
        return -EINVAL;
    struct td_db *db = tx->db;
    struct db_conn *c = tx->conn;
    int status = tx->status;
    if (c)
        c->tx = NULL;
    db_tx_free(db, tx);
    if (db->closing)
        return -ECANCELED;
    struct db_req *r = db_req_get(db);
    if (!r) {
        if (c)   /* cannot end it politely: dropping the connection makes the server roll back */
            db_conn_reset(c, "out of memory");
        return -ENOMEM;
    }
    r->kind = kind;
    r->text = kind == DB_COMMIT ? "COMMIT" : "ROLLBACK";
    r->cb = cb;
    r->arg = arg;
    if (!c) {
        db_defer(db, r, status);
        return 0;
    }
    db_conn_send(c, r);
    db_pump(db);
    return 0;
}

int td_db_tx_commit(struct td_db_tx *tx, td_db_cb cb, void *arg)
{
    return tx_end(tx, DB_COMMIT, cb, arg);
}

int td_db_tx_rollback(struct td_db_tx *tx, td_db_cb cb, void *arg)
{
    return tx_end(tx, DB_ROLLBACK, cb, arg);
}

/* ---- results and health ------------------------------------------------------------ */

int td_db_res_rows(const struct td_db_res *res)
{
    return res && res->pg ? PQntuples(res->pg) : 0;
}

int td_db_res_cols(const struct td_db_res *res)
{
    return res && res->pg ? PQnfields(res->pg) : 0;
}

const char *td_db_res_value(const struct td_db_res *res, int row, int col)
{
    if (!res || !res->pg || row < 0 || col < 0 || row >= PQntuples(res->pg)
        || col >= PQnfields(res->pg) || PQgetisnull(res->pg, row, col))
        return NULL;
    return PQgetvalue(res->pg, row, col);
}

size_t td_db_res_len(const struct td_db_res *res, int row, int col)
{
    if (!res || !res->pg || row < 0 || col < 0 || row >= PQntuples(res->pg)
        || col >= PQnfields(res->pg))
        return 0;
    return (size_t)PQgetlength(res->pg, row, col);
}

const char *td_db_res_colname(const struct td_db_res *res, int col)
{
    if (!res || !res->pg || col < 0 || col >= PQnfields(res->pg))
        return NULL;
    return PQfname(res->pg, col);
}

long td_db_res_affected(const struct td_db_res *res)
{
    return res && res->pg ? strtol(PQcmdTuples(res->pg), NULL, 10) : 0;
}

const char *td_db_res_sqlstate(const struct td_db_res *res)
{
    if (res && res->prep_err)
        return res->prep_err;
    const char *s = res && res->pg ? PQresultErrorField(res->pg, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *td_db_res_error(const struct td_db_res *res)
{
    if (!res)
        return "";
    if (res->prep_err)
        return res->prep_err + 6;
    if (res->pg) {
        const char *m = PQresultErrorField(res->pg, PG_DIAG_MESSAGE_PRIMARY);
        return m ? m : "";
    }
    return res->why ? res->why : "";
}

int td_db_is_up(const struct td_db *db, char *reason, size_t reasonlen)
{
    if (!db)
        return 0;
    if (db->nup > 0 && !db->closing)
        return 1;
    if (reason && reasonlen) {
        if (db->closing)
            snprintf(reason, reasonlen, "database pool closing");
        else if (db->starting)
            snprintf(reason, reasonlen, "connecting to PostgreSQL");
        else
            snprintf(reason, reasonlen, "no connection to PostgreSQL: %s",
                     db->last_err[0] ? db->last_err : "unknown error");
    }
    return 0;
}

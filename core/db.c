/* The pool: statements queue (FIFO) until a connection has room, transactions lease a
 * connection, failures that never reach a server are delivered on the next loop tick.
 * A callback never runs inside the call that submitted its statement. One connection's
 * life (connect, pipeline, reconnect) is core/db_conn.c. */
#include "core/db_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct td_db_res {
    PGresult   *pg;    /* NULL when the statement never got a server answer */
    const char *why;   /* message for that case */
};

/* ---- requests ---------------------------------------------------------------------- */

void db_reqq_push(struct db_reqq *q, struct db_req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

struct db_req *db_reqq_pop(struct db_reqq *q)
{
    struct db_req *r = q->head;
    if (!r)
        return NULL;
    q->head = r->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    r->next = NULL;
    return r;
}

static struct db_req *req_get(struct td_db *db)
{
    struct db_req *r = db->freelist;
    if (r) {
        db->freelist = r->next;
        db->nfree--;
    } else if (!(r = malloc(sizeof *r))) {
        return NULL;
    }
    memset(r, 0, offsetof(struct db_req, inl));
    r->mem = r->inl.c;
    r->queued_ms = uv_now(db->loop);
    r->hr0 = db->m_dur ? uv_hrtime() : 0;
    return r;
}

static void req_put(struct td_db *db, struct db_req *r)
{
    if (r->res)
        PQclear(r->res);
    if (r->mem != r->inl.c)
        free(r->mem);
    if (db->nfree < DB_FREELIST_MAX) {
        r->next = db->freelist;
        db->freelist = r;
        db->nfree++;
    } else {
        free(r);
    }
}

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

static void tx_free(struct td_db *db, struct td_db_tx *tx)
{
    if (tx->prev)
        tx->prev->next = tx->next;
    else
        db->txs = tx->next;
    if (tx->next)
        tx->next->prev = tx->prev;
    free(tx);
}

/* ---- completion -------------------------------------------------------------------- */

static const char *why_text(int status)
{
    switch (status) {
    case -ECONNREFUSED: return "no connection to PostgreSQL";
    case -ECONNRESET:   return "connection to PostgreSQL lost";
    case -ETIMEDOUT:    return "timed out waiting for a database connection";
    case -ECANCELED:    return "database pool closing";
    case -ENOMEM:       return "out of memory";
    default:            return "";
    }
}

static void count(struct td_db *db, struct db_req *r, int status)
{
    if (!db->m_ok)
        return;
    td_metric_add(status == 0 ? db->m_ok : status == -EIO ? db->m_err : db->m_unavail, 1);
    if (r->hr0)
        td_metric_observe(db->m_dur, (double)(uv_hrtime() - r->hr0) / 1e9);
}

static void finish(struct td_db *db, struct db_req *r, int status)
{
    if (r->kind == DB_PREPARE) {
        if (status == -EIO) {   /* bad SQL; a lost connection prepares again anyway */
            const char *m = PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY);
            td_log_error(db->log, "db: cannot prepare statement %s: %s", r->text, m ? m : "?");
        }
        req_put(db, r);
        return;
    }
    count(db, r, status);
    if (r->kind == DB_BEGIN) {
        struct td_db_tx *tx = r->tx;
        td_db_tx_cb cb = r->txcb;
        void *arg = r->arg;
        struct db_conn *c = tx->conn;
        req_put(db, r);
        if (status) {
            if (c)
                c->tx = NULL;
            tx_free(db, tx);
            tx = NULL;
        }
        cb(status, tx, arg);
        if (status && c)
            db_pump(db);
        return;
    }
    struct td_db_res res = { r->res, why_text(status) };
    if (r->cb)
        r->cb(status, &res, r->arg);
    req_put(db, r);
}

void db_complete(struct td_db *db, struct db_req *r)
{
    int status = 0;
    ExecStatusType st = PQresultStatus(r->res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        /* the server telling us it is going away is an outage (503), not a bad query */
        const char *ss = PQresultErrorField(r->res, PG_DIAG_SQLSTATE);
        int gone = ss && (!strncmp(ss, "08", 2) || !strncmp(ss, "57P", 3));
        status = gone ? -ECONNRESET : -EIO;
    }
    finish(db, r, status);
}

static void on_idle(uv_idle_t *h)
{
    struct td_db *db = h->data;
    /* only what was there when we started: callbacks may defer more for the next tick,
     * or close the pool, which delivers the rest itself */
    size_t n = db->deferred.n;
    struct db_req *r;
    while (n-- && (r = db_reqq_pop(&db->deferred)))
        finish(db, r, r->status);
    if (!db->closing && !db->deferred.head)
        uv_idle_stop(h);
}

void db_defer(struct td_db *db, struct db_req *r, int status)
{
    if (r->kind == DB_PREPARE) {
        req_put(db, r);
        return;
    }
    if (r->res) {
        PQclear(r->res);
        r->res = NULL;
    }
    r->status = status;
    db_reqq_push(&db->deferred, r);
    if (!uv_is_active((uv_handle_t *)&db->idle))
        uv_idle_start(&db->idle, on_idle);
}

/* ---- the queue --------------------------------------------------------------------- */

static void queue_changed(struct td_db *db)
{
    if (db->m_queue)
        td_metric_set(db->m_queue, (double)db->queue.n);
}

static void on_qtimer(uv_timer_t *t);

/* One timer for the whole queue, aimed at its head: with one timeout for everyone the
 * head always expires first. */
static void qtimer_arm(struct td_db *db)
{
    struct db_req *h = db->queue.head;
    if (!h)
        return;
    uint64_t due = h->queued_ms + (uint64_t)db->queue_timeout_ms;
    uint64_t now = uv_now(db->loop);
    uv_timer_start(&db->qtimer, on_qtimer, due > now ? due - now : 0, 0);
}

static void on_qtimer(uv_timer_t *t)
{
    struct td_db *db = t->data;
    uint64_t now = uv_now(db->loop);
    struct db_req *h;
    while ((h = db->queue.head) && h->queued_ms + (uint64_t)db->queue_timeout_ms <= now)
        db_defer(db, db_reqq_pop(&db->queue), -ETIMEDOUT);
    queue_changed(db);
    qtimer_arm(db);
}

static void fail_queue(struct td_db *db, int status)
{
    struct db_req *r;
    while ((r = db_reqq_pop(&db->queue)))
        db_defer(db, r, status);
    queue_changed(db);
    uv_timer_stop(&db->qtimer);
}

/* Least busy connection that is up, not leased and below the pipeline depth; an idle
 * one ends the search, so light load stays on few connections. */
static struct db_conn *pick(struct td_db *db)
{
    struct db_conn *best = NULL;
    for (int i = 0; i < db->pool_size; i++) {
        struct db_conn *c = &db->conns[i];
        if (c->state != DB_C_READY || c->tx || c->sent.n >= DB_PIPE_DEPTH)
            continue;
        if (!best || c->sent.n < best->sent.n)
            best = c;
        if (!c->sent.n)
            break;
    }
    return best;
}

void db_pump(struct td_db *db)
{
    if (db->closing || !db->queue.head)
        return;
    struct db_conn *c;
    while (db->queue.head && (c = pick(db))) {
        struct db_req *r = db_reqq_pop(&db->queue);
        if (r->kind == DB_BEGIN) {
            c->tx = r->tx;
            r->tx->conn = c;
        }
        db_conn_send(c, r);
    }
    queue_changed(db);
}

static int submit(struct td_db *db, struct db_req *r)
{
    if (!db->nup && !db->starting) {
        db_defer(db, r, -ECONNREFUSED);   /* fail fast: the caller answers 503 now */
        return 0;
    }
    db_reqq_push(&db->queue, r);
    db_pump(db);
    if (db->queue.head && !uv_is_active((uv_handle_t *)&db->qtimer))
        qtimer_arm(db);
    queue_changed(db);
    return 0;
}

/* ---- connections coming and going ---------------------------------------------------- */

void db_set_error(struct td_db *db, const char *msg)
{
    /* libpq's messages run over several lines; the first says what happened */
    size_t n = strcspn(msg, "\n");
    if (n >= sizeof db->last_err)
        n = sizeof db->last_err - 1;
    memcpy(db->last_err, msg, n);
    db->last_err[n] = '\0';
}

/* Not inside a caller's transaction: if that one is aborted, Parse fails with it. */
static void prepare_pending(struct td_db *db, struct db_conn *c)
{
    while (c->state == DB_C_READY && !c->tx && c->nprepared < db->nstmts) {
        struct db_stmt *s = &db->stmts[c->nprepared];
        struct db_req *r = req_get(db);
        if (!r) {
            db_conn_reset(c, "out of memory");   /* it retries all of them on reconnect */
            return;
        }
        r->kind = DB_PREPARE;
        r->text = s->name;
        r->sql = s->sql;
        r->nparams = s->nparams;
        c->nprepared++;
        db_conn_send(c, r);
    }
}

void db_conn_up(struct td_db *db, struct db_conn *c)
{
    db->nup++;
    if (db->m_up)
        td_metric_set(db->m_up, db->nup);
    if (c->lost)
        td_log_info(db->log, "db: connection %d to PostgreSQL is back", c->idx);
    c->lost = 0;
    db->starting = 0;
    /* pipelined ahead of any work, so every statement sent here finds them */
    prepare_pending(db, c);
    db_pump(db);
}

void db_conn_down(struct td_db *db, struct db_conn *c)
{
    (void)c;
    db->nup--;
    if (db->m_up)
        td_metric_set(db->m_up, db->nup);
    if (!db->nup && !db->starting)
        fail_queue(db, -ECONNREFUSED);
}

void db_conn_failed(struct td_db *db, struct db_conn *c)
{
    (void)c;
    if (!db->starting)
        return;
    /* start-up grace ends once every connection has tried: nobody waits 5 s for a
     * server that is not there */
    for (int i = 0; i < db->pool_size; i++)
        if (db->conns[i].attempts == 0)
            return;
    db->starting = 0;
    td_log_warn(db->log, "db: cannot connect to PostgreSQL: %s", db->last_err);
    fail_queue(db, -ECONNREFUSED);
}

/* ---- open and close ---------------------------------------------------------------- */

/* A host name libpq would resolve with a blocking getaddrinfo on our loop, or NULL.
 * Lists of hosts are left to libpq. */
static char *dns_host(const PQconninfoOption *opts)
{
    const char *host = NULL, *hostaddr = NULL;
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr"))
            hostaddr = o->val;
    }
    if (!host || !*host)
        host = getenv("PGHOST");
    if (!hostaddr || !*hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    if (!host || !*host || (hostaddr && *hostaddr) || host[0] == '/' || host[0] == '@'
        || strchr(host, ','))
        return NULL;
    unsigned char bin[16];
    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1)
        return NULL;
    return strdup(host);
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
    if (db) {
        db->pool_size = opts->pool_size ? opts->pool_size : 4;
        db->conns = calloc((size_t)db->pool_size, sizeof *db->conns);
        db->conninfo = strdup(opts->conninfo);
        db->resolve_host = dns_host(ci);
    }
    PQconninfoFree(ci);
    if (!db || !db->conns || !db->conninfo) {
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
        tx_free(db, db->txs);
    for (size_t i = 0; i < db->nstmts; i++) {
        free(db->stmts[i].name);
        free(db->stmts[i].sql);
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
    queue_changed(db);
    uv_close((uv_handle_t *)&db->qtimer, db_handle_closed);
    uv_close((uv_handle_t *)&db->idle, db_handle_closed);
    while ((r = db_reqq_pop(&deferred)))
        finish(db, r, r->status);
    while ((r = db_reqq_pop(&failed))) {
        if (r->kind == DB_PREPARE)
            req_put(db, r);
        else
            finish(db, r, -ECANCELED);
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
    if (!s->name || !s->sql) {
        free(s->name);
        free(s->sql);
        return -ENOMEM;
    }
    db->nstmts++;
    /* connections already up learn it now; later ones at connect */
    for (int i = 0; i < db->pool_size; i++)
        prepare_pending(db, &db->conns[i]);
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
    struct db_req *r = req_get(db);
    if (!r)
        return NULL;
    if (req_fill(r, text, n, params)) {
        req_put(db, r);
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
    return r ? submit(db, r) : rc;
}

int td_db_exec_sql(struct td_db *db, const char *sql, int nparams,
                   const char *const *params, td_db_cb cb, void *arg)
{
    int rc;
    if (!db)
        return -EINVAL;
    struct db_req *r = stmt_req(db, DB_SQL, sql, nparams, params, cb, arg, &rc);
    return r ? submit(db, r) : rc;
}

/* ---- transactions ------------------------------------------------------------------ */

int td_db_tx_begin(struct td_db *db, td_db_tx_cb cb, void *arg)
{
    if (!db || !cb)
        return -EINVAL;
    if (db->closing)
        return -ECANCELED;
    struct td_db_tx *tx = calloc(1, sizeof *tx);
    struct db_req *r = tx ? req_get(db) : NULL;
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
    return submit(db, r);
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
    tx_free(db, tx);
    if (db->closing)
        return -ECANCELED;
    struct db_req *r = req_get(db);
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
    prepare_pending(db, c);   /* statements registered while it was leased */
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
    const char *s = res && res->pg ? PQresultErrorField(res->pg, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *td_db_res_error(const struct td_db_res *res)
{
    if (!res)
        return "";
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

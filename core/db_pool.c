/* The pool's machinery: requests and their freelist, the FIFO queue and its one timer,
 * failures delivered on the next tick, what a finished statement means, and connections
 * coming and going. The public calls are core/db.c; one connection is core/db_conn.c. */
#include "core/db_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

struct db_req *db_req_get(struct td_db *db)
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

void db_req_put(struct td_db *db, struct db_req *r)
{
    if (r->res)
        PQclear(r->res);
    free(r->prep_err);
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

void db_tx_free(struct td_db *db, struct td_db_tx *tx)
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

static void prepare_done(struct td_db *db, struct db_req *p, int status);

void db_finish(struct td_db *db, struct db_req *r, int status)
{
    if (r->kind == DB_PREPARE) {
        prepare_done(db, r, status);
        db_req_put(db, r);
        return;
    }
    count(db, r, status);
    if (r->kind == DB_BEGIN) {
        struct td_db_tx *tx = r->tx;
        td_db_tx_cb cb = r->txcb;
        void *arg = r->arg;
        struct db_conn *c = tx->conn;
        db_req_put(db, r);
        if (status) {
            if (c)
                c->tx = NULL;
            db_tx_free(db, tx);
            tx = NULL;
        }
        cb(status, tx, arg);
        if (status && c)
            db_pump(db);
        return;
    }
    struct td_db_res res = { r->res, why_text(status), status == -EIO ? r->prep_err : NULL };
    if (r->cb)
        r->cb(status, &res, r->arg);
    db_req_put(db, r);
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
    if (r->prep_err && status != -EIO) {   /* it ran after all, or the server is going */
        free(r->prep_err);
        r->prep_err = NULL;
    }
    db_finish(db, r, status);
}

static void on_idle(uv_idle_t *h)
{
    struct td_db *db = h->data;
    /* only what was there when we started: callbacks may defer more for the next tick,
     * or close the pool, which delivers the rest itself */
    size_t n = db->deferred.n;
    struct db_req *r;
    while (n-- && (r = db_reqq_pop(&db->deferred)))
        db_finish(db, r, r->status);
    if (!db->closing && !db->deferred.head)
        uv_idle_stop(h);
}

void db_defer(struct td_db *db, struct db_req *r, int status)
{
    if (r->kind == DB_PREPARE) {
        db_req_put(db, r);
        return;
    }
    if (r->res) {
        PQclear(r->res);
        r->res = NULL;
    }
    free(r->prep_err);
    r->prep_err = NULL;
    r->status = status;
    db_reqq_push(&db->deferred, r);
    if (!uv_is_active((uv_handle_t *)&db->idle))
        uv_idle_start(&db->idle, on_idle);
}

/* ---- the queue --------------------------------------------------------------------- */

void db_queue_changed(struct td_db *db)
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
    db_queue_changed(db);
    qtimer_arm(db);
}

static void fail_queue(struct td_db *db, int status)
{
    struct db_req *r;
    while ((r = db_reqq_pop(&db->queue)))
        db_defer(db, r, status);
    db_queue_changed(db);
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
    db_queue_changed(db);
}

int db_submit(struct td_db *db, struct db_req *r)
{
    if (!db->nup && !db->starting) {
        db_defer(db, r, -ECONNREFUSED);   /* fail fast: the caller answers 503 now */
        return 0;
    }
    db_reqq_push(&db->queue, r);
    db_pump(db);
    if (db->queue.head && !uv_is_active((uv_handle_t *)&db->qtimer))
        qtimer_arm(db);
    db_queue_changed(db);
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

/* ---- registered statements on each connection ------------------------------------ */

/* A PREPARE of statement i, pipelined on c. One sent outside a transaction is what later
 * uses on c rely on (DB_ST_ASKED); inside one, its fate is the transaction's, so only the
 * execute right behind it relies on it. */
static int send_prepare(struct td_db *db, struct db_conn *c, size_t i)
{
    struct db_stmt *s = &db->stmts[i];
    struct db_req *p = db_req_get(db);
    if (!p)
        return -ENOMEM;
    p->kind = DB_PREPARE;
    p->text = s->name;
    p->sql = s->sql;
    p->nparams = s->nparams;
    p->conn = c;
    p->stmt = i + 1;
    p->asked = !c->tx;
    if (p->asked)
        s->on[c->idx] = DB_ST_ASKED;
    db_conn_send(c, p);
    return 0;
}

/* A new session has none of them: all are sent at once, pipelined ahead of any work, so
 * the statements sent behind them find them. */
void db_prepare_all(struct td_db *db, struct db_conn *c)
{
    c->nready = 0;
    for (size_t i = 0; i < db->nstmts; i++)
        db->stmts[i].on[c->idx] = DB_ST_NONE;
    for (size_t i = 0; i < db->nstmts && c->state == DB_C_READY; i++)
        if (send_prepare(db, c, i)) {
            db_conn_reset(c, "out of memory");   /* it prepares them all on reconnect */
            return;
        }
}

/* Off the hot path: only while some registered statement is not prepared on c (one
 * registered after c connected, or one whose PREPARE failed, say because its table did
 * not exist yet). A use of a statement not prepared there sends its PREPARE right ahead
 * of itself, in the same pipeline: no round trip more, and at most one PREPARE per use.
 * Out of memory, r goes alone and the server says 26000. */
void db_prepare_ahead(struct db_conn *c, struct db_req *r)
{
    struct td_db *db = c->db;
    size_t i = 0;
    while (i < db->nstmts && strcmp(db->stmts[i].name, r->text))
        i++;
    if (i == db->nstmts || db->stmts[i].on[c->idx] == DB_ST_ON)
        return;   /* not ours (the server answers 26000), or already there */
    if (db->stmts[i].on[c->idx] == DB_ST_ASKED || send_prepare(db, c, i) == 0)
        r->stmt = i + 1;
}

/* "SQLSTATE\0message" of a failed result, for the executes that relied on it. */
static char *error_copy(const PGresult *res)
{
    const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!m)
        m = "cannot prepare the statement";
    size_t n = strlen(m) + 1;
    char *e = calloc(1, 6 + n);
    if (!e)
        return NULL;
    if (ss)
        memcpy(e, ss, strnlen(ss, 5));
    memcpy(e + 6, m, n);
    return e;
}

/* A PREPARE answered. Success: its statement is prepared on that connection for the rest
 * of the session (PREPARE is not undone by a rollback; 42P05 means an earlier PREPARE got
 * there first). Failure: the statement's next use prepares it again, and the executes
 * already sent relying on this one, which the server answers 26000, report its error
 * instead. A statement that stays bad is logged once, not at every use. */
static void prepare_done(struct td_db *db, struct db_req *p, int status)
{
    struct db_conn *c = p->conn;
    struct db_stmt *s = &db->stmts[p->stmt - 1];
    unsigned char *on = &s->on[c->idx];
    const char *ss = status ? PQresultErrorField(p->res, PG_DIAG_SQLSTATE) : NULL;
    if (status == 0 || (ss && !strcmp(ss, "42P05"))) {
        if (*on != DB_ST_ON) {
            *on = DB_ST_ON;
            c->nready++;
        }
        if (s->failing) {
            s->failing = 0;
            td_log_info(db->log, "db: statement %s is prepared now", s->name);
        }
        return;
    }
    if (p->asked && *on == DB_ST_ASKED)
        *on = DB_ST_NONE;
    for (struct db_req *r = c->sent.head; r; r = r->next) {
        if (r->stmt != p->stmt)
            continue;
        if (r->kind == DB_PREPARE)
            break;   /* those behind that one rely on it */
        if (!r->prep_err)
            r->prep_err = error_copy(p->res);   /* out of memory: it says 26000 */
    }
    /* an aborted transaction or a connection going away says nothing about the SQL */
    if (status == -EIO && !(ss && !strcmp(ss, "25P02")) && !s->failing) {
        const char *m = PQresultErrorField(p->res, PG_DIAG_MESSAGE_PRIMARY);
        s->failing = 1;
        td_log_error(db->log, "db: cannot prepare statement %s: %s (tried again at its "
                     "next use)", s->name, m ? m : "?");
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
    db_prepare_all(db, c);
    db_pump(db);
    if (db->on_session)
        db->on_session(1, db->hook_arg);
}

void db_conn_down(struct td_db *db, struct db_conn *c)
{
    (void)c;
    db->nup--;
    if (db->m_up)
        td_metric_set(db->m_up, db->nup);
    if (!db->nup && !db->starting)
        fail_queue(db, -ECONNREFUSED);
    if (db->on_session)
        db->on_session(0, db->hook_arg);
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

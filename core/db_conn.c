/* One pooled libpq connection on the loop: connect (resolving DNS off the loop), send in
 * pipeline mode (a registered statement not prepared here yet gets its PREPARE ahead of
 * it), read results, break, back off, reconnect. The pool, the queue and what a finished
 * statement means live in core/db_pool.c. */
#include "core/db_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_poll(uv_poll_t *h, int status, int events);
static void conn_break(struct db_conn *c, const char *why);

/* The default processor prints to stderr; notices are not errors and we log no queries. */
static void no_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void poll_closed(uv_handle_t *h)
{
    struct td_db *db = h->data;
    free(h);
    db_release(db);
}

static void poll_drop(struct db_conn *c)
{
    if (!c->poll)
        return;
    c->poll->data = c->db;
    uv_close((uv_handle_t *)c->poll, poll_closed);
    c->poll = NULL;
    c->fd = -1;
    c->events = 0;
}

/* libpq may close its socket and open another during PQconnectPoll (next address, SSL
 * fallback), and a new socket can reuse the old number: callers stop the poll before
 * handing control to libpq, and we rebuild the handle whenever the fd differs. */
static int poll_watch(struct db_conn *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return -EBADF;
    if (c->poll && fd != c->fd)
        poll_drop(c);
    if (!c->poll) {
        uv_poll_t *p = malloc(sizeof *p);
        if (!p)
            return -ENOMEM;
        int rc = uv_poll_init_socket(c->db->loop, p, fd);
        if (rc) {
            free(p);
            return rc;
        }
        p->data = c;
        c->poll = p;
        c->fd = fd;
        c->events = 0;
        c->db->open_handles++;
    }
    if (events != c->events) {
        int rc = uv_poll_start(c->poll, events, on_poll);
        if (rc)
            return rc;
        c->events = events;
    }
    return 0;
}

static unsigned next_delay(struct db_conn *c)
{
    struct td_db *db = c->db;
    unsigned base = c->backoff_ms ? c->backoff_ms : DB_BACKOFF_MIN_MS;
    c->backoff_ms = base * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : base * 2;
    /* jitter keeps a pool (and a fleet) from reconnecting in lockstep after a restart */
    db->rng ^= db->rng << 13;
    db->rng ^= db->rng >> 7;
    db->rng ^= db->rng << 17;
    return base - base / 4 + (unsigned)(db->rng % (base / 4 + 1));
}

static void attempt_failed(struct db_conn *c, const char *why)
{
    db_set_error(c->db, why);
    poll_drop(c);
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->state = DB_C_DOWN;
    c->attempts++;
    db_conn_failed(c->db, c);
    db_conn_schedule(c, next_delay(c));
}

static void connect_to(struct db_conn *c, const char *hostaddr)
{
    struct td_db *db = c->db;
    /* Ours first, then the caller's conninfo (expanded from dbname), so theirs win;
     * hostaddr last because we resolved their host for them. */
    const char *keys[] = { "fallback_application_name", "keepalives", "keepalives_idle",
                           "keepalives_interval", "keepalives_count", "dbname",
                           hostaddr ? "hostaddr" : NULL, NULL };
    const char *vals[] = { "todod", "1", "30", "10", "3", db->conninfo, hostaddr, NULL };
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        attempt_failed(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        attempt_failed(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, no_notices, NULL);
    c->state = DB_C_CONNECTING;
    uv_timer_start(&c->timer, db_conn_on_timer, db->connect_timeout_ms, 0);
    /* PQconnectStart's contract: behave as if PQconnectPoll last said WRITING */
    if (poll_watch(c, UV_WRITABLE))
        attempt_failed(c, "cannot watch the PostgreSQL socket");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct db_conn *c = req->data;
    struct td_db *db = c->db;
    char ip[64] = "";
    c->gai_active = 0;
    if (status == 0 && ai && ai->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)(void *)ai->ai_addr, ip, sizeof ip);
    else if (status == 0 && ai && ai->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)(void *)ai->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(ai);
    if (c->state != DB_C_RESOLVING) {   /* the pool closed meanwhile */
        db_release(db);
        return;
    }
    db_release(db);   /* cannot be the last: the pool is not closing */
    if (!ip[0]) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve %s: %s", db->resolve_host,
                 status ? uv_strerror(status) : "no address");
        attempt_failed(c, why);
        return;
    }
    connect_to(c, ip);
}

static void conn_start(struct db_conn *c)
{
    struct td_db *db = c->db;
    if (!db->resolve_host) {
        connect_to(c, NULL);
        return;
    }
    /* getaddrinfo blocks, and libpq would call it on the loop: do it in the thread pool */
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    c->gai.data = c;
    c->state = DB_C_RESOLVING;
    if (uv_getaddrinfo(db->loop, &c->gai, on_resolved, db->resolve_host, NULL, &hints)) {
        attempt_failed(c, "cannot start DNS resolution");
        return;
    }
    c->gai_active = 1;
    db->open_handles++;
}

void db_conn_on_timer(uv_timer_t *t)
{
    struct db_conn *c = t->data;
    if (c->state == DB_C_CONNECTING)
        attempt_failed(c, "timed out connecting to PostgreSQL");
    else if (c->state == DB_C_DOWN)
        conn_start(c);
}

void db_conn_schedule(struct db_conn *c, unsigned delay_ms)
{
    uv_timer_start(&c->timer, db_conn_on_timer, delay_ms, 0);
}

static void conn_ready(struct db_conn *c)
{
    uv_timer_stop(&c->timer);
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        attempt_failed(c, PQerrorMessage(c->pg));
        return;
    }
    if (poll_watch(c, UV_READABLE)) {
        attempt_failed(c, "cannot watch the PostgreSQL socket");
        return;
    }
    c->state = DB_C_READY;
    c->backoff_ms = 0;
    c->attempts = 0;
    c->nready = 0;
    c->syncs = 0;
    c->want_write = 0;
    db_conn_up(c->db, c);
}

static void connect_step(struct db_conn *c)
{
    uv_poll_stop(c->poll);
    c->events = 0;
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st == PGRES_POLLING_FAILED) {
        attempt_failed(c, PQerrorMessage(c->pg));
        return;
    }
    if (st == PGRES_POLLING_OK) {
        conn_ready(c);
        return;
    }
    if (poll_watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE))
        attempt_failed(c, "cannot watch the PostgreSQL socket");
}

/* Everything in flight fails with -ECONNRESET on the next tick; a leased transaction is
 * orphaned (its owner still ends it); the pool learns one connection fewer. */
static void conn_break(struct db_conn *c, const char *why)
{
    struct td_db *db = c->db;
    db_set_error(db, why);
    poll_drop(c);
    PQfinish(c->pg);
    c->pg = NULL;
    c->state = DB_C_DOWN;
    c->want_write = 0;
    c->syncs = 0;
    struct db_req *r;
    while ((r = db_reqq_pop(&c->sent)))
        db_defer(db, r, -ECONNRESET);
    if (c->tx) {
        c->tx->conn = NULL;
        c->tx->status = -ECONNRESET;
        c->tx = NULL;
    }
    c->lost = 1;
    td_log_warn(db->log, "db: connection %d to PostgreSQL lost: %s", c->idx, db->last_err);
    db_conn_down(db, c);
    db_conn_schedule(c, next_delay(c));
}

void db_conn_reset(struct db_conn *c, const char *why)
{
    if (c->state == DB_C_READY)
        conn_break(c, why);
}

static void conn_flush(struct db_conn *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0) {
        conn_break(c, PQerrorMessage(c->pg));
        return;
    }
    c->want_write = rc == 1;
    if (poll_watch(c, UV_READABLE | (c->want_write ? UV_WRITABLE : 0)))
        conn_break(c, "cannot watch the PostgreSQL socket");
}

/* Each statement is followed by its own sync point, so it runs in its own implicit
 * transaction (or in the open one) and an error cannot abort the statements behind it. */
void db_conn_send(struct db_conn *c, struct db_req *r)
{
    /* one compare on the hot path: every registered statement is prepared here */
    if (r->kind == DB_PREPARED && c->nready < c->db->nstmts) {
        db_prepare_ahead(c, r);
        if (c->state != DB_C_READY) {   /* sending the PREPARE broke the connection */
            db_defer(c->db, r, -ECONNRESET);
            return;
        }
    }
    PGconn *pg = c->pg;
    int ok;
    switch (r->kind) {
    case DB_PREPARED:
        ok = PQsendQueryPrepared(pg, r->text, r->nparams, r->params, NULL, NULL, 0);
        break;
    case DB_PREPARE:
        ok = PQsendPrepare(pg, r->text, r->sql, r->nparams, NULL);
        break;
    default:
        ok = PQsendQueryParams(pg, r->text, r->nparams, NULL, r->params, NULL, NULL, 0);
        break;
    }
    db_reqq_push(&c->sent, r);
    if (!ok || !PQpipelineSync(pg)) {
        conn_break(c, PQerrorMessage(pg));
        return;
    }
    conn_flush(c);
}

static int is_error(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
}

/* In pipeline mode a statement's results end with NULL, then its sync point reports
 * PGRES_PIPELINE_SYNC; NULL with nothing collected means nothing more is ready. Callbacks
 * run from here and may send, end a transaction, or close the pool, so the connection is
 * re-checked after each one. */
static void read_results(struct db_conn *c)
{
    struct td_db *db = c->db;
    PGconn *pg = c->pg;
    while (c->state == DB_C_READY && !PQisBusy(pg)) {
        PGresult *res = PQgetResult(pg);
        struct db_req *r = c->sent.head;
        if (!res) {
            if (!r || !r->res)
                break;
            if (is_error(r->res) && PQstatus(pg) == CONNECTION_BAD) {
                conn_break(c, PQresultErrorMessage(r->res));   /* libpq's own error: no SQLSTATE */
                return;
            }
            db_reqq_pop(&c->sent);
            c->syncs++;
            db_complete(db, r);
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            if (c->syncs > 0)
                c->syncs--;
            PQclear(res);
        } else if (!r) {
            PQclear(res);
        } else if (!r->res) {
            r->res = res;
        } else if (is_error(res) && !is_error(r->res)) {
            PQclear(r->res);
            r->res = res;
        } else {
            PQclear(res);
        }
    }
    if (c->state != DB_C_READY)
        return;
    if (PQstatus(pg) == CONNECTION_BAD)
        conn_break(c, PQerrorMessage(pg));
    else
        db_pump(db);
}

/* LISTEN's notifications arrive between results; the hook may not touch c itself. */
static void deliver_notifies(struct db_conn *c)
{
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg))) {
        if (c->db->on_notify)
            c->db->on_notify(n->relname, n->extra, c->db->hook_arg);
        PQfreemem(n);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct db_conn *c = h->data;
    if (c->state == DB_C_CONNECTING) {
        connect_step(c);
        return;
    }
    if (c->state != DB_C_READY)
        return;
    if (status < 0) {
        conn_break(c, uv_strerror(status));
        return;
    }
    /* a read error or EOF (server shut down, backend killed) shows up here */
    if ((events & UV_READABLE) && !PQconsumeInput(c->pg)) {
        conn_break(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->want_write) {
        conn_flush(c);
        if (c->state != DB_C_READY)
            return;
    }
    read_results(c);
    if (c->state == DB_C_READY)
        deliver_notifies(c);
}

void db_conn_shutdown(struct db_conn *c, struct db_reqq *failed)
{
    struct td_db *db = c->db;
    struct db_req *r;
    while ((r = db_reqq_pop(&c->sent)))
        db_reqq_push(failed, r);
    if (c->tx) {
        c->tx->conn = NULL;
        c->tx->status = -ECANCELED;
        c->tx = NULL;
    }
    poll_drop(c);
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);   /* on_resolved still runs and counts it down */
    c->state = DB_C_CLOSED;
    c->timer.data = db;
    uv_close((uv_handle_t *)&c->timer, db_handle_closed);
}

/* The outbox relay (see outbox.h). One batch at a time: fetch the oldest unpublished rows,
 * hand them all to the bus (which keeps their order per key), wait for every
 * confirmation, mark them published, fetch again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/outbox.h"

enum {
    RELAY_BATCH = 1000,
    RELAY_SWEEP_MS = 1000,         /* the safety net for a missed wake-up; a standby asks
                                    * for the lease this often too */
    RELAY_BACKOFF_MS = 200,        /* after a failed query or a full producer queue */
    RELAY_PURGE_MS = 60000,
    /* Between sweeps a fetch starts this far below the highest row already published:
     * rows of transactions that committed late with a lower seq are found at once if
     * within it, at the next sweep (from the start) if not. Starting from the start every
     * time would walk every published row the index still holds until vacuum (measured:
     * 37 ms for an empty fetch after 20 000 writes). */
    RELAY_STRAGGLER_MARGIN = 1000,
};

#define RELAY_LOCK_KEY "7236252510093651572"   /* pg advisory lock id: "todod-outbox" */

struct relay_row {
    char   *seq, *topic, *key, *event, *traceparent;
    size_t  len;
    double  created;   /* epoch seconds, for the commit-to-publish histogram */
    int     status;    /* 1 waiting, 0 delivered, < 0 refused */
    struct td_outbox *ob;
};

struct td_outbox {
    uv_loop_t        *loop;
    struct td_db     *db;      /* ours: one connection holding the lease */
    struct td_db     *pool;
    struct td_bus    *bus;
    struct td_log    *log;
    uv_timer_t        timer;   /* sweep, lease retry, backoff */
    int               connected, leader, closing;
    int               busy;    /* a fetch, a batch or a mark is in flight */
    int               held;    /* this batch left rows behind (the bus could not take them) */
    long long         cursor;  /* every row up to here has been published (or refused) */
    int               sweep_due;   /* the next fetch starts from the first row */
    uint64_t          hold_until;   /* no fetch before this loop time */
    int               again;   /* woken while busy */
    int               notify_busy, notify_again;
    struct relay_row *rows;
    int               nrows, waiting;
    uint64_t          last_purge;
    void            (*closed_cb)(void *);
    void             *closed_arg;
    int               open_parts;   /* db and timer */
    struct td_metric_series *m_published, *m_refused, *m_latency, *m_leader, *m_batches;
};

static void fetch(struct td_outbox *ob);
static void part_closed(struct td_outbox *ob);
static void on_timer(uv_timer_t *t);

static void free_rows(struct td_outbox *ob)
{
    for (int i = 0; i < ob->nrows; i++) {
        free(ob->rows[i].seq);
        free(ob->rows[i].topic);
        free(ob->rows[i].key);
        free(ob->rows[i].event);
        free(ob->rows[i].traceparent);
    }
    free(ob->rows);
    ob->rows = NULL;
    ob->nrows = 0;
}

static void set_leader(struct td_outbox *ob, int leader)
{
    if (leader != ob->leader)
        td_log_info(ob->log, "relay: %s", leader ? "holding the outbox lease; publishing"
                                                 : "not the leader; standing by");
    ob->leader = leader;
    if (ob->m_leader)
        td_metric_set(ob->m_leader, leader);
}

/* The batch is finished: done. Start the next one when there may be more. */
static void batch_over(struct td_outbox *ob, int more)
{
    free_rows(ob);
    ob->busy = 0;
    if (ob->closing || !ob->leader)
        return;
    if (more || ob->again)
        fetch(ob);
}

static void on_marked(int status, struct td_db_res *res, void *arg)
{
    struct td_outbox *ob = arg;
    if (ob->closing)
        return;
    int full = ob->nrows == RELAY_BATCH;
    if (status)
        td_log_warn(ob->log, "relay: marking rows published failed (they will go out again): %s",
                    td_db_res_error(res));
    if (!status) {   /* the published prefix of the batch moves the cursor */
        for (int i = 0; i < ob->nrows && ob->rows[i].status <= 0; i++) {
            long long seq = strtoll(ob->rows[i].seq, NULL, 10);
            ob->cursor = seq > ob->cursor ? seq : ob->cursor;
        }
    }
    if (ob->held) {   /* some rows did not go: try again after a pause, not at once */
        ob->held = 0;
        ob->hold_until = uv_now(ob->loop) + RELAY_BACKOFF_MS;
    }
    batch_over(ob, full && !status);
}

static void mark(struct td_outbox *ob)
{
    struct td_buf ok = {0}, bad = {0};
    int err = td_buf_puts(&ok, "{") | td_buf_puts(&bad, "{");
    int nok = 0, nbad = 0;
    for (int i = 0; i < ob->nrows; i++) {
        struct relay_row *r = &ob->rows[i];
        if (r->status > 0)
            continue;   /* never handed over (full queue): the next batch has it */
        struct td_buf *b = r->status == 0 ? &ok : &bad;
        if ((r->status == 0 ? nok++ : nbad++))
            err |= td_buf_puts(b, ",");
        err |= td_buf_puts(b, r->seq);
    }
    err |= td_buf_puts(&ok, "}") | td_buf_puts(&bad, "}");
    int rc = err;
    if (!err) {
        const char *params[] = {ok.data, bad.data};
        rc = td_db_exec_sql(ob->db,
            "UPDATE outbox SET published_at = clock_timestamp(), "
            "publish_error = CASE WHEN seq = ANY($2::bigint[]) THEN 'refused by the bus' END "
            "WHERE seq = ANY($1::bigint[]) OR seq = ANY($2::bigint[])",
            2, params, on_marked, ob);
    }
    td_buf_free(&ok);
    td_buf_free(&bad);
    if (rc)
        batch_over(ob, 0);
}

static void on_row_published(int status, void *arg)
{
    struct relay_row *r = arg;
    struct td_outbox *ob = r->ob;
    if (ob->closing)
        return;
    /* Only a message too large can never go; anything else (a fatal producer error, a
     * topic we may not write) leaves the row unpublished, to be retried after a pause. */
    r->status = status == 0 || status == -EMSGSIZE ? status : 1;
    if (status != 0 && status != -EMSGSIZE)
        ob->held = 1;
    if (status == 0) {
        if (ob->m_published)
            td_metric_add(ob->m_published, 1);
        if (ob->m_latency) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            double lat = (double)now.tv_sec + now.tv_nsec / 1e9 - r->created;
            td_metric_observe(ob->m_latency, lat < 0 ? 0 : lat);
        }
    } else {
        td_log_error(ob->log, "relay: the bus refused outbox row %s (%s): %s%s", r->seq, r->topic,
                     strerror(-status), status == -EMSGSIZE ? "" : "; it stays in the outbox");
        if (ob->m_refused && status == -EMSGSIZE)
            td_metric_add(ob->m_refused, 1);
    }
    if (--ob->waiting == 0)
        mark(ob);
}

static void on_fetched(int status, struct td_db_res *res, void *arg)
{
    struct td_outbox *ob = arg;
    if (ob->closing)
        return;
    if (status) {
        td_log_warn(ob->log, "relay: reading the outbox failed: %s", td_db_res_error(res));
        ob->busy = 0;
        return;   /* the sweep timer tries again */
    }
    int n = td_db_res_rows(res);
    if (n == 0) {
        batch_over(ob, 0);
        return;
    }
    ob->rows = calloc((size_t)n, sizeof *ob->rows);
    if (!ob->rows) {
        ob->busy = 0;
        return;
    }
    ob->nrows = n;
    for (int i = 0; i < n; i++) {
        struct relay_row *r = &ob->rows[i];
        r->seq = strdup(td_db_res_value(res, i, 0));
        r->topic = strdup(td_db_res_value(res, i, 1));
        r->key = strdup(td_db_res_value(res, i, 2));
        r->len = td_db_res_len(res, i, 3);
        r->event = strndup(td_db_res_value(res, i, 3), r->len);   /* text: no NUL inside */
        const char *tp = td_db_res_value(res, i, 4);
        r->traceparent = tp ? strdup(tp) : NULL;
        r->created = strtod(td_db_res_value(res, i, 5), NULL);
        r->status = 1;
        r->ob = ob;
    }
    ob->waiting = 1;   /* held until every row is handed over */
    for (int i = 0; i < n; i++) {
        struct relay_row *r = &ob->rows[i];
        int rc = -ENOMEM;
        if (r->seq && r->topic && r->key && r->event)
            rc = td_bus_publish(ob->bus, r->topic, r->key, r->event, r->len, r->traceparent,
                                on_row_published, r);
        if (rc == -EMSGSIZE) {   /* never deliverable: marked, not retried */
            td_log_error(ob->log, "relay: the bus refused outbox row %s (%s): %s", r->seq,
                         r->topic, strerror(-rc));
            r->status = rc;
            continue;
        }
        if (rc) {   /* full queue, a broken producer, no memory: this row and the rest wait */
            ob->held = 1;
            break;
        }
        ob->waiting++;
    }
    if (ob->m_batches)
        td_metric_add(ob->m_batches, 1);
    if (--ob->waiting == 0)
        mark(ob);
}

static void fetch(struct td_outbox *ob)
{
    if (ob->busy) {
        ob->again = 1;
        return;
    }
    if (!ob->leader || ob->closing)
        return;
    if (uv_now(ob->loop) < ob->hold_until) {   /* the sweep comes back after the pause */
        uv_timer_start(&ob->timer, on_timer, ob->hold_until - uv_now(ob->loop), RELAY_SWEEP_MS);
        return;
    }
    ob->busy = 1;
    ob->again = 0;
    long long from = ob->sweep_due ? 0 : ob->cursor - RELAY_STRAGGLER_MARGIN;
    ob->sweep_due = 0;
    char from_s[24], limit_s[16];
    snprintf(from_s, sizeof from_s, "%lld", from > 0 ? from : 0);
    snprintf(limit_s, sizeof limit_s, "%d", RELAY_BATCH);
    const char *params[] = {limit_s, from_s};
    int rc = td_db_exec_sql(ob->db,
        "SELECT seq, topic, key, event::text, headers->>'traceparent', "
        "extract(epoch FROM created_at) FROM outbox WHERE published_at IS NULL "
        "AND seq > $2::bigint ORDER BY seq LIMIT $1", 2, params, on_fetched, ob);
    if (rc)
        ob->busy = 0;
}

/* ---- the lease ---- */

static void on_lock(int status, struct td_db_res *res, void *arg)
{
    struct td_outbox *ob = arg;
    if (ob->closing || status)
        return;
    const char *v = td_db_res_value(res, 0, 0);
    set_leader(ob, v && *v == 't');
    ob->sweep_due = 1;   /* a new leader knows nothing: from the first row */
    if (ob->leader)
        fetch(ob);
}

static void try_lease(struct td_outbox *ob)
{
    td_db_exec_sql(ob->db, "SELECT pg_try_advisory_lock(" RELAY_LOCK_KEY ")", 0, NULL, on_lock,
                   ob);
}

static void on_session(int up, void *arg)
{
    struct td_outbox *ob = arg;
    ob->connected = up;
    if (!up) {
        set_leader(ob, 0);   /* the lock went with the connection */
        return;
    }
    /* Marking rows published need not wait for its own fsync: a mark lost in a crash only
     * republishes those rows, which consumers skip. One fsync fewer per batch. */
    td_db_exec_sql(ob->db, "SET synchronous_commit = off", 0, NULL, NULL, NULL);
    td_db_exec_sql(ob->db, "LISTEN todod_outbox", 0, NULL, NULL, NULL);
    try_lease(ob);
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
    (void)channel;
    (void)payload;
    struct td_outbox *ob = arg;
    if (ob->leader)
        fetch(ob);
}

static void purge(struct td_outbox *ob)
{
    /* published rows are transport, not history (audit keeps that): keep an hour */
    td_db_exec_sql(ob->db,
        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE published_at < "
        "now() - interval '1 hour' ORDER BY seq LIMIT 10000)", 0, NULL, NULL, NULL);
}

static void on_timer(uv_timer_t *t)
{
    struct td_outbox *ob = t->data;
    if (!ob->connected || ob->closing)
        return;
    if (!ob->leader) {
        try_lease(ob);
        return;
    }
    ob->sweep_due = 1;   /* now, or as soon as the batch in flight is done */
    if (!ob->busy)
        fetch(ob);
    else
        ob->again = 1;
    if (uv_now(ob->loop) - ob->last_purge >= RELAY_PURGE_MS) {
        ob->last_purge = uv_now(ob->loop);
        purge(ob);
    }
}

/* ---- wake-ups from writers ---- */

static void on_notify_sent(int status, struct td_db_res *res, void *arg)
{
    (void)status;
    (void)res;
    struct td_outbox *ob = arg;
    ob->notify_busy = 0;
    if (ob->closing) {
        part_closed(ob);
        return;
    }
    if (ob->notify_again) {
        ob->notify_again = 0;
        td_outbox_wake(ob);
    }
}

void td_outbox_wake(struct td_outbox *ob)
{
    if (!ob || ob->closing)
        return;
    if (ob->leader) {
        fetch(ob);
        return;
    }
    if (ob->notify_busy) {
        ob->notify_again = 1;
        return;
    }
    if (td_db_exec_sql(ob->pool, "NOTIFY todod_outbox", 0, NULL, on_notify_sent, ob) == 0)
        ob->notify_busy = 1;
}

int td_outbox_is_leader(const struct td_outbox *ob)
{
    return ob && ob->leader;
}

static void describe(struct td_outbox *ob, struct td_metrics *m)
{
    static const double lat[] = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                 5, 10};
    if (!m)
        return;
    td_metrics_describe(m, "td_outbox_published_total", TD_METRIC_COUNTER,
                        "Outbox rows the relay published.", NULL, 0);
    td_metrics_describe(m, "td_outbox_refused_total", TD_METRIC_COUNTER,
                        "Outbox rows the bus refused for good (marked with publish_error).", NULL, 0);
    td_metrics_describe(m, "td_outbox_publish_latency_seconds", TD_METRIC_HISTOGRAM,
                        "From the outbox row's commit to the bus's confirmation.", lat,
                        sizeof lat / sizeof lat[0]);
    td_metrics_describe(m, "td_outbox_leader", TD_METRIC_GAUGE,
                        "1 while this process holds the relay lease.", NULL, 0);
    td_metrics_describe(m, "td_outbox_batches_total", TD_METRIC_COUNTER,
                        "Batches the relay read from the outbox.", NULL, 0);
    ob->m_published = td_metrics_series(m, "td_outbox_published_total", "");
    ob->m_refused = td_metrics_series(m, "td_outbox_refused_total", "");
    ob->m_latency = td_metrics_series(m, "td_outbox_publish_latency_seconds", "");
    ob->m_leader = td_metrics_series(m, "td_outbox_leader", "");
    ob->m_batches = td_metrics_series(m, "td_outbox_batches_total", "");
}

int td_outbox_open(uv_loop_t *loop, const struct td_outbox_opts *opts, struct td_outbox **out)
{
    struct td_outbox *ob = calloc(1, sizeof *ob);
    if (!ob)
        return -ENOMEM;
    ob->loop = loop;
    ob->bus = opts->bus;
    ob->pool = opts->pool;
    ob->log = opts->log;
    describe(ob, opts->metrics);
    struct td_db_opts dbo = {.conninfo = opts->conninfo, .pool_size = 1, .log = opts->log,
                             .on_session = on_session, .on_notify = on_notify, .hook_arg = ob};
    int rc = td_db_open(loop, &dbo, &ob->db);
    if (rc) {
        free(ob);
        return rc;
    }
    uv_timer_init(loop, &ob->timer);
    ob->timer.data = ob;
    ob->last_purge = uv_now(loop);
    uv_timer_start(&ob->timer, on_timer, RELAY_SWEEP_MS, RELAY_SWEEP_MS);
    ob->open_parts = 2;
    *out = ob;
    return 0;
}

static void part_closed(struct td_outbox *ob)
{
    if (--ob->open_parts)
        return;
    void (*cb)(void *) = ob->closed_cb;
    void *arg = ob->closed_arg;
    free_rows(ob);
    free(ob);
    if (cb)
        cb(arg);
}

static void db_closed(void *arg)
{
    part_closed(arg);
}

static void timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void td_outbox_close(struct td_outbox *ob, void (*cb)(void *arg), void *arg)
{
    ob->closing = 1;
    ob->closed_cb = cb;
    ob->closed_arg = arg;
    if (ob->notify_busy)
        ob->open_parts++;   /* its callback still comes, from the pool */
    uv_close((uv_handle_t *)&ob->timer, timer_closed);
    td_db_close(ob->db, db_closed, ob);   /* unmarked rows go out again after a restart */
}

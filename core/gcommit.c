/* core/gcommit.c: group commit (see gcommit.h). The queue is a ring of max_queue item
 * pointers; each batch is one allocation holding its items and their retry marks. */
#include "core/gcommit.h"

#include <stdlib.h>
#include <string.h>

struct td_gcommit_batch {
    struct td_gcommit *g;
    int                n;
    int                attempt;
    int                alone;    /* a retried item: outside max_inflight, never retried again */
    int                nretry;
    unsigned char     *again;    /* marks of td_gcommit_retry, after items */
    void              *items[];
};

struct td_gcommit {
    uv_idle_t                idle;
    td_gcommit_send_fn       send;
    td_gcommit_back_fn       back;
    void                    *arg;
    struct td_log           *log;
    struct td_metrics       *metrics;
    struct td_metric_series *m_size;
    char                    *name, *size_metric;
    int                      max_batch, max_inflight, max_queue;
    void                   **queue;   /* ring */
    int                      head, count;
    int                      limit;      /* batch size now: halved by refusals */
    int                      inflight;   /* batches from the queue */
    int                      alone;      /* retried items in flight */
    int                      busy;       /* inside a call that may reach back(): do not free */
    int                      flushing;
    int                      idle_on, handle_open, closing;
};

static void queue_push(struct td_gcommit *g, void *item)
{
    g->queue[(g->head + g->count++) % g->max_queue] = item;
}

static void *queue_pop(struct td_gcommit *g)
{
    void *item = g->queue[g->head];
    g->head = (g->head + 1) % g->max_queue;
    g->count--;
    return item;
}

static void maybe_free(struct td_gcommit *g)
{
    if (!g->closing || g->handle_open || g->inflight || g->alone || g->busy)
        return;
    free(g->queue);
    free(g->name);
    free(g->size_metric);
    free(g);
}

static void on_idle(uv_idle_t *h);

static void set_idle(struct td_gcommit *g, int on)
{
    if (on && !g->idle_on && !g->closing)
        uv_idle_start(&g->idle, on_idle);
    else if (!on && g->idle_on)
        uv_idle_stop(&g->idle);
    else
        return;
    g->idle_on = on;
}

static struct td_gcommit_batch *batch_new(struct td_gcommit *g, int n)
{
    struct td_gcommit_batch *b = calloc(1, sizeof *b + (size_t)n * (sizeof(void *) + 1));
    if (!b)
        return NULL;
    b->g = g;
    b->n = n;
    b->again = (unsigned char *)(b->items + n);
    return b;
}

/* A failed batch: its items go back, then everything queued behind it, in order. Only
 * what is queued now goes: items back() queues again stay queued. */
static void fail(struct td_gcommit_batch *b, int status, const char *why)
{
    struct td_gcommit *g = b->g;
    int mine = status, rest = status;
    if (status == TD_GCOMMIT_REFUSED) {
        rest = TD_GCOMMIT_AGAIN;
        if (b->n > 1) {
            mine = TD_GCOMMIT_AGAIN;   /* the culprit is not known yet */
            if (g->limit > b->n / 2)
                g->limit = b->n / 2;
            if (g->log)
                td_log_warn(g->log, "%s: a batch of %d was refused (%s); trying batches of %d",
                            g->name, b->n, why ? why : "", g->limit);
        }
    }
    for (int i = 0; i < b->n; i++)
        g->back(b->items[i], mine, why, g->arg);
    for (int n = g->count; n > 0 && g->count > 0; n--)
        g->back(queue_pop(g), rest, why, g->arg);
}

static int start(struct td_gcommit_batch *b);

static void send_alone(struct td_gcommit *g, void *item)
{
    struct td_gcommit_batch *b = g->closing ? NULL : batch_new(g, 1);
    if (!b) {
        g->back(item, g->closing ? TD_GCOMMIT_CLOSED : -ENOMEM,
                g->closing ? "shutting down" : strerror(ENOMEM), g->arg);
        return;
    }
    b->alone = 1;
    b->items[0] = item;
    g->alone++;
    start(b);
}

static void batch_end(struct td_gcommit_batch *b, int status, const char *why)
{
    struct td_gcommit *g = b->g;
    if (b->alone)
        g->alone--;
    else
        g->inflight--;
    if (status != 0) {
        fail(b, status, why);
    } else if (!b->nretry) {
        if (g->limit < g->max_batch)
            g->limit = g->limit * 2 < g->max_batch ? g->limit * 2 : g->max_batch;
    } else {
        for (int i = 0; i < b->n; i++) {
            if (!b->again[i])
                continue;
            if (b->n == 1)   /* it failed alone already: it is the culprit */
                g->back(b->items[i], TD_GCOMMIT_REFUSED,
                        "the statement failed with this item alone", g->arg);
            else
                send_alone(g, b->items[i]);
        }
    }
    free(b);
}

/* Returns the send's error after ending the batch with it. */
static int start(struct td_gcommit_batch *b)
{
    b->attempt++;
    int rc = b->g->send(b, b->g->arg);
    if (rc)
        batch_end(b, rc, strerror(-rc));
    return rc;
}

static void observe(struct td_gcommit *g, int n)
{
    if (!g->m_size && g->metrics && g->size_metric)
        g->m_size = td_metrics_series(g->metrics, g->size_metric, "");
    if (g->m_size)
        td_metric_observe(g->m_size, n);
}

static void flush(struct td_gcommit *g)
{
    if (g->flushing)
        return;
    g->flushing = 1;
    while (g->count && g->inflight < g->max_inflight && !g->closing) {
        int n = g->count < g->limit ? g->count : g->limit;
        struct td_gcommit_batch *b = batch_new(g, n);
        if (!b)
            break;   /* the idle handle tries again next turn */
        for (int i = 0; i < n; i++)
            b->items[i] = queue_pop(g);
        g->inflight++;
        observe(g, n);
        if (start(b))
            break;   /* the queue went back with it; what back() queued again waits a turn */
    }
    g->flushing = 0;
    set_idle(g, g->count && g->inflight < g->max_inflight);
}

/* Runs once per loop turn while something may go: everything queued since goes together.
 * An idle handle, not a check handle: items queued from a timer would otherwise wait in
 * poll for the next I/O. */
static void on_idle(uv_idle_t *h)
{
    flush(h->data);
}

static void on_closed(uv_handle_t *h)
{
    struct td_gcommit *g = h->data;
    g->handle_open = 0;
    maybe_free(g);
}

static char *dup_or_null(const char *s, int *err)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *err = -ENOMEM;
    return d;
}

int td_gcommit_new(uv_loop_t *loop, const struct td_gcommit_opts *o, struct td_gcommit **out)
{
    *out = NULL;
    if (!o->send || !o->back || o->max_batch < 1 || o->max_inflight < 1 || o->max_queue < 1)
        return -EINVAL;
    struct td_gcommit *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    int err = 0;
    g->name = dup_or_null(o->name ? o->name : "gcommit", &err);
    g->size_metric = dup_or_null(o->size_metric, &err);
    g->queue = calloc((size_t)o->max_queue, sizeof *g->queue);
    if (err || !g->queue) {
        free(g->name);
        free(g->size_metric);
        free(g->queue);
        free(g);
        return -ENOMEM;
    }
    g->send = o->send;
    g->back = o->back;
    g->arg = o->arg;
    g->log = o->log;
    g->metrics = o->metrics;
    g->max_batch = g->limit = o->max_batch;
    g->max_inflight = o->max_inflight;
    g->max_queue = o->max_queue;
    uv_idle_init(loop, &g->idle);
    g->idle.data = g;
    g->handle_open = 1;
    uv_unref((uv_handle_t *)&g->idle);   /* never what keeps the loop alive */
    *out = g;
    return 0;
}

int td_gcommit_add(struct td_gcommit *g, void *item)
{
    if (g->closing)
        return -ESHUTDOWN;
    if (g->count == g->max_queue)
        return -ENOBUFS;
    queue_push(g, item);
    if (g->inflight < g->max_inflight)
        set_idle(g, 1);
    return 0;
}

void td_gcommit_close(struct td_gcommit *g)
{
    if (!g || g->closing)
        return;
    g->closing = 1;
    g->busy++;
    while (g->count > 0)
        g->back(queue_pop(g), TD_GCOMMIT_CLOSED, "shutting down", g->arg);
    g->busy--;
    g->idle_on = 0;
    uv_close((uv_handle_t *)&g->idle, on_closed);
}

void *const *td_gcommit_items(const struct td_gcommit_batch *b, int *n)
{
    *n = b->n;
    return b->items;
}

int td_gcommit_attempt(const struct td_gcommit_batch *b)
{
    return b->attempt;
}

void td_gcommit_retry(struct td_gcommit_batch *b, int i)
{
    if (i < 0 || i >= b->n || b->again[i])
        return;
    b->again[i] = 1;
    b->nretry++;
}

void td_gcommit_resend(struct td_gcommit_batch *b)
{
    struct td_gcommit *g = b->g;
    g->busy++;
    if (start(b))
        flush(g);
    g->busy--;
    maybe_free(g);
}

void td_gcommit_done(struct td_gcommit_batch *b, int status, const char *why)
{
    struct td_gcommit *g = b->g;
    g->busy++;
    batch_end(b, status, why);
    flush(g);
    g->busy--;
    maybe_free(g);
}

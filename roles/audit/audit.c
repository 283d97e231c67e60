/* The audit role's hooks and its consumer: each task event becomes one audit record,
 * exactly once per event (todod_audit_append claims the inbox row in the same statement,
 * so the effect and the inbox row commit together). */
#include "roles/audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/bus.h"
#include "core/db.h"
#include "core/failpoint.h"

/* Group commit: events that arrive together are appended in one statement and one
 * transaction, in delivery order, each with its own answer. One batch at a time: a lane's
 * later events must not overtake its earlier ones (td_bus_set_depth). */
struct audit_batch {
    struct audit           *a;
    int                     safe;   /* one subtransaction per event (after a bad one) */
    struct td_bus_delivery *d[AUDIT_BATCH_MAX];
    int                     n;
};

static void flush(struct audit *a);
static void send_batch(struct audit *a, struct audit_batch *b);

/* Everything not yet sent goes back too when a batch fails: a lane's later events must
 * not commit before its earlier ones are retried (the bus hands them out again in order). */
static void return_pending(struct audit *a, const char *why)
{
    int n = a->npending;
    a->npending = 0;
    for (int i = 0; i < n; i++)
        td_bus_done(a->pending[i], TD_BUS_WAIT, why);
}

/* A batch the server refused (statement timeout, an error outside the per-event
 * subtransactions): halve the batch size until the culprit is alone, and only then
 * count it against that one event, so good events are never dead-lettered with it. */
static void refused(struct audit *a, struct audit_batch *b, const char *why)
{
    if (b->n > 1) {
        a->limit = b->n / 2;
        td_log_warn(a->svc->log, "audit: a batch of %d was refused (%s); trying batches of %d",
                    b->n, why, a->limit);
    }
    for (int i = 0; i < b->n; i++)
        td_bus_done(b->d[i], b->n > 1 ? TD_BUS_WAIT : TD_BUS_RETRY, why);
}

static void on_batch(int status, struct td_db_res *res, void *arg)
{
    struct audit_batch *b = arg;
    struct audit *a = b->a;
    a->inflight = 0;
    if (status == -EIO && !b->safe && strncmp(td_db_res_sqlstate(res), "22", 2) == 0) {
        b->safe = 1;   /* a bad event among good ones: find it, one subtransaction each */
        send_batch(a, b);
        return;
    }
    json_t *results = status == 0 ? json_loads(td_db_res_value(res, 0, 0), 0, NULL) : NULL;
    if (status == 0 && json_array_size(results) == (size_t)b->n) {
        for (int i = 0; i < b->n; i++) {
            json_t *r = json_array_get(results, (size_t)i);
            if (json_is_string(r))   /* a bad event: no retry will fix it */
                td_bus_done(b->d[i], TD_BUS_REJECT, json_string_value(r));
            else
                td_bus_done(b->d[i], 0, NULL);
        }
        if (a->limit < AUDIT_BATCH_MAX)
            a->limit = a->limit * 2 < AUDIT_BATCH_MAX ? a->limit * 2 : AUDIT_BATCH_MAX;
    } else {
        const char *why = status == 0 ? "the batch answer is unreadable" : td_db_res_error(res);
        return_pending(a, why);
        if (status == -EIO || status == 0)
            refused(a, b, why);
        else   /* the database is not there: not the events' fault */
            for (int i = 0; i < b->n; i++)
                td_bus_done(b->d[i], TD_BUS_WAIT, why);
    }
    if (a->m_batch)
        td_metric_observe(a->m_batch, b->n);
    json_decref(results);
    free(b);
    flush(a);
}

static void send_batch(struct audit *a, struct audit_batch *b)
{
    struct td_buf events = {0};
    int err = td_buf_puts(&events, "[");
    for (int i = 0; i < b->n; i++) {
        const struct td_bus_msg *m = td_bus_message(b->d[i]);
        err |= td_buf_puts(&events, i ? "," : "") | td_buf_append(&events, m->value, m->len);
    }
    err |= td_buf_puts(&events, "]");
    const char *params[] = {AUDIT_GROUP, events.data, b->safe ? "true" : "false"};
    int rc = err ? -ENOMEM : td_db_exec(a->svc->db, "audit_append_batch", 3, params, on_batch, b);
    td_buf_free(&events);
    if (rc) {
        return_pending(a, strerror(-rc));
        for (int i = 0; i < b->n; i++)
            td_bus_done(b->d[i], TD_BUS_WAIT, strerror(-rc));
        free(b);
        return;
    }
    a->inflight = 1;
}

static void flush(struct audit *a)
{
    if (!a->npending || a->inflight)
        return;
    struct audit_batch *b = calloc(1, sizeof *b);
    if (!b)
        return;   /* the next answer or event tries again */
    b->a = a;
    int n = a->npending < a->limit ? a->npending : a->limit;
    memcpy(b->d, a->pending, (size_t)n * sizeof *b->d);   /* arrival order */
    b->n = n;
    a->npending -= n;
    memmove(a->pending, a->pending + n, (size_t)a->npending * sizeof *a->pending);
    send_batch(a, b);
}

/* Runs once per loop turn: everything that arrived in this turn goes together. An idle
 * handle, not a check handle: it keeps the loop from blocking in poll when the events
 * came from a timer (the local bus), where a check handle would wait for the next I/O. */
static void on_idle(uv_idle_t *h)
{
    struct audit *a = h->data;
    flush(a);
    if (!a->npending || a->inflight)   /* on_batch flushes the rest: no busy loop meanwhile */
        uv_idle_stop(h);
}

static void on_task_event(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct audit *a = arg;
    json_error_t e;
    json_t *j = json_loadb(msg->value, msg->len, 0, &e);
    if (!j) {
        char why[300];
        snprintf(why, sizeof why, "not JSON: %s at byte %d", e.text, e.position);
        td_bus_done(d, TD_BUS_REJECT, why);
        return;
    }
    json_decref(j);
    if (a->npending == AUDIT_PENDING_MAX) {   /* the bus stops fetching long before this */
        td_bus_done(d, TD_BUS_RETRY, "audit consumer overloaded");
        return;
    }
    a->pending[a->npending++] = d;
    uv_idle_start(&a->idle, on_idle);
}

static const struct td_stmt_def audit_append_stmts[] = {
    {"audit_append_batch", "SELECT todod_audit_append_batch($1, $2::jsonb, $3::boolean)::text", 3},
    {0},
};

static const struct td_stmt_def *const audit_stmts[] = {audit_append_stmts, audit_read_stmts, NULL};
static const struct td_route_def *const audit_routes[] = {audit_read_routes, NULL};
static const struct td_sub_def audit_subs[] = {
    {"task-events", AUDIT_GROUP, on_task_event, AUDIT_LANE_DEPTH},
    {0},
};

static int audit_init(struct td_svc *svc, void *state)
{
    struct audit *a = state;
    a->svc = svc;
    a->limit = AUDIT_BATCH_MAX;
    if (svc->metrics) {
        static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
        td_metrics_describe(svc->metrics, "td_audit_batch_size", TD_METRIC_HISTOGRAM,
                            "Events the audit consumer appended per transaction.", sizes, 7);
        a->m_batch = td_metrics_series(svc->metrics, "td_audit_batch_size", "");
    }
    uv_idle_init(svc->loop, &a->idle);
    a->idle.data = a;
    a->idle_open = 1;
    return td_failpoint("audit.init");   /* on failure core calls audit_fini */
}

static void idle_closed(uv_handle_t *h)
{
    (void)h;
}

static void audit_fini(void *state)
{
    struct audit *a = state;
    if (a->idle_open)
        uv_close((uv_handle_t *)&a->idle, idle_closed);
    a->idle_open = 0;
}

const struct td_role td_role_audit = {
    .name = "audit",
    .needs = TD_NEED_DB | TD_NEED_BUS | TD_NEED_HTTP,
    .state_size = sizeof(struct audit),
    .routes = audit_routes,
    .subs = audit_subs,
    .stmts = audit_stmts,
    .init = audit_init,
    .fini = audit_fini,
};

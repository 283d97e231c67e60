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
#include "core/gcommit.h"

/* Group commit (core/gcommit.h): events that arrive together are appended in one
 * statement and one transaction, in delivery order, each with its own answer. One batch
 * at a time: a lane's later events must not overtake its earlier ones (td_bus_set_depth). */

static void on_batch(int status, struct td_db_res *res, void *arg);

/* The second attempt runs one subtransaction per event: a bad one no longer fails the
 * others. */
static int send_batch(struct td_gcommit_batch *b, void *arg)
{
    struct audit *a = arg;
    int n;
    void *const *d = td_gcommit_items(b, &n);
    struct td_buf events = {0};
    int err = td_buf_puts(&events, "[");
    for (int i = 0; i < n; i++) {
        const struct td_bus_msg *m = td_bus_message(d[i]);
        err |= td_buf_puts(&events, i ? "," : "") | td_buf_append(&events, m->value, m->len);
    }
    err |= td_buf_puts(&events, "]");
    const char *params[] = {AUDIT_GROUP, events.data, td_gcommit_attempt(b) > 1 ? "true" : "false"};
    int rc = err ? -ENOMEM : td_db_exec(a->svc->db, "audit_append_batch", 3, params, on_batch, b);
    td_buf_free(&events);
    return rc;
}

static void on_batch(int status, struct td_db_res *res, void *arg)
{
    struct td_gcommit_batch *b = arg;
    if (status == -EIO && td_gcommit_attempt(b) == 1 && strncmp(td_db_res_sqlstate(res), "22", 2) == 0) {
        td_gcommit_resend(b);   /* a bad event among good ones: find it, one subtransaction each */
        return;
    }
    int n;
    void *const *d = td_gcommit_items(b, &n);
    json_t *results = status == 0 ? json_loads(td_db_res_value(res, 0, 0), 0, NULL) : NULL;
    if (status == 0 && json_array_size(results) == (size_t)n) {
        for (int i = 0; i < n; i++) {
            json_t *r = json_array_get(results, (size_t)i);
            if (json_is_string(r))   /* a bad event: no retry will fix it */
                td_bus_done(d[i], TD_BUS_REJECT, json_string_value(r));
            else
                td_bus_done(d[i], 0, NULL);
        }
        td_gcommit_done(b, 0, NULL);
    } else if (status == -EIO || status == 0) {
        /* Refused (statement timeout, an error outside the per-event subtransactions):
         * gcommit halves the batch until the culprit is alone, so good events are never
         * dead-lettered with it. */
        td_gcommit_done(b, TD_GCOMMIT_REFUSED,
                        status == 0 ? "the batch answer is unreadable" : td_db_res_error(res));
    } else {
        td_gcommit_done(b, status, td_db_res_error(res));   /* the database is not there */
    }
    json_decref(results);
}

/* Events that come back unanswered go back to the bus, which hands them out again in
 * lane order: only one refused alone counts against itself. */
static void give_back(void *d, int status, const char *why, void *arg)
{
    (void)arg;
    if (status == TD_GCOMMIT_CLOSED)
        return;   /* at fini the bus is closed and has let go of its deliveries already */
    td_bus_done(d, status == TD_GCOMMIT_REFUSED ? TD_BUS_RETRY : TD_BUS_WAIT, why);
}

static int open_batcher(struct audit *a)
{
    struct td_gcommit_opts o = {.name = "audit", .max_batch = AUDIT_BATCH_MAX, .max_inflight = 1,
                                .max_queue = AUDIT_PENDING_MAX, .send = send_batch,
                                .back = give_back, .arg = a, .log = a->svc->log,
                                .metrics = a->svc->metrics, .size_metric = "td_audit_batch_size"};
    return td_gcommit_new(a->svc->loop, &o, &a->batcher);
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
    if (td_gcommit_add(a->batcher, d))   /* the bus stops fetching long before this */
        td_bus_done(d, TD_BUS_RETRY, "audit consumer overloaded");
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
    if (svc->metrics) {
        static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
        td_metrics_describe(svc->metrics, "td_audit_batch_size", TD_METRIC_HISTOGRAM,
                            "Events the audit consumer appended per transaction.", sizes, 7);
    }
    int rc = open_batcher(a);
    return rc ? rc : td_failpoint("audit.init");   /* on failure core calls audit_fini */
}

static void audit_fini(void *state)
{
    struct audit *a = state;
    if (a->batcher)   /* NULL when init failed before it */
        td_gcommit_close(a->batcher);
    a->batcher = NULL;
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

/* The recur role's hooks and its consumer. For each completed recurring task it computes
 * the next due time in C (libical, core/series.h) from the completed event's task_data,
 * then runs one statement, todod_recur_next, which claims the inbox row and inserts the
 * next occurrence with its 'created' outbox event in the same transaction: a redelivered
 * event is refused by the inbox, a second completion of the same occurrence (another
 * event id) or a racing replica by UNIQUE (series_id, occurrence_index).
 *
 * One statement per event, one event per lane at a time (lane depth 1): completions are
 * rare next to other writes, and order per user is kept. */
#include "roles/recur/recur.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/datetime.h"
#include "core/db.h"
#include "core/consume.h"
#include "core/failpoint.h"
#include "core/outbox.h"
#include "core/series.h"
#include "core/task.h"

static int completed_event(json_t *root, json_t *data)
{
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *kind = json_string_value(json_object_get(data, "event_type"));
    size_t n = type ? strlen(type) : 0;
    /* The CloudEvents type is todo.task.completed; event_type names the same in the seeds'
     * words ("completed", or a dotted form such as "task.completed"). */
    if (type && n >= 10 && strcmp(type + n - 10, ".completed") == 0)
        return 1;
    if (kind && (strcmp(kind, "completed") == 0 ||
                 (strlen(kind) >= 10 && strcmp(kind + strlen(kind) - 10, ".completed") == 0)))
        return 1;
    return 0;
}

enum recur_verdict recur_decide(const char *json, size_t len, json_t **root, long long *next,
                                char *why, size_t whylen)
{
    json_error_t e;
    *root = json_loadb(json, len, 0, &e);
    if (!*root) {
        snprintf(why, whylen, "not JSON: %s at byte %d", e.text, e.position);
        return RECUR_BAD;
    }
    json_t *data = json_object_get(*root, "data");
    if (!json_is_object(data) || !completed_event(*root, data))
        return RECUR_IGNORE;
    json_t *td = json_object_get(data, "task_data");
    const char *id = json_string_value(json_object_get(*root, "id"));
    if (!json_is_object(td) || !id) {
        snprintf(why, whylen, "a completed event needs id and data.task_data");
        return RECUR_BAD;
    }
    struct td_series_occ o;
    long long done;
    int rc = td_series_from_task_data(td, &o, &done);
    if (rc == -ENOENT)
        return RECUR_IGNORE;
    if (rc) {
        snprintf(why, whylen, "task_data lacks the series members (recurrence, time_zone, "
                              "series.start, completed_at) or has a malformed one");
        return RECUR_BAD;
    }
    rc = td_series_next(&o, done, next);
    if (rc == -ENOENT)
        return RECUR_EXHAUSTED;
    if (rc) {
        snprintf(why, whylen, "the recurrence \"%s\" in zone %s cannot be expanded", o.rrule,
                 o.zone);
        return RECUR_BAD;
    }
    return RECUR_NEXT;
}

/* The statement answers the new occurrence's id when it made one. */
static void on_next(struct td_db_res *res, void *arg)
{
    struct recur *r = arg;
    const char *v = td_db_res_value(res, 0, 0);
    if (v && td_task_is_uuid(v))
        td_outbox_wake(r->svc->outbox);   /* a new occurrence: publish its event now */
}

static void on_task_event(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct recur *r = arg;
    char why[300];
    json_t *root;
    long long next = 0;
    enum recur_verdict v = recur_decide(msg->value, msg->len, &root, &next, why, sizeof why);
    if (v == RECUR_IGNORE || v == RECUR_BAD) {
        json_decref(root);
        td_bus_done(d, v == RECUR_BAD ? TD_BUS_REJECT : 0, v == RECUR_BAD ? why : NULL);
        return;
    }
    json_t *data = json_object_get(root, "data");
    char *td = json_dumps(json_object_get(data, "task_data"), JSON_COMPACT);
    char due[32];
    if (v == RECUR_NEXT)
        td_datetime_format_utc(next, due, sizeof due);
    const char *params[] = {RECUR_GROUP, json_string_value(json_object_get(root, "id")), td,
                            v == RECUR_NEXT ? due : NULL,
                            msg->traceparent && *msg->traceparent ? msg->traceparent : NULL,
                            json_string_value(json_object_get(root, "requestid"))};
    if (td)
        td_consume_exec(&r->calls, r->svc->db, d, "recur_next", 6, params, on_next, r);
    else
        td_bus_done(d, TD_BUS_RETRY, "out of memory");
    free(td);
    json_decref(root);
}

static const struct td_stmt_def recur_stmts_rows[] = {
    {"recur_next", "SELECT todod_recur_next($1, $2::uuid, $3::jsonb, $4::timestamptz, $5, $6)", 6},
    {0},
};
static const struct td_stmt_def *const recur_stmts[] = {recur_stmts_rows, NULL};
static const struct td_sub_def recur_subs[] = {
    {"task-events", RECUR_GROUP, on_task_event, 1},
    {0},
};

static int recur_init(struct td_svc *svc, void *state)
{
    struct recur *r = state;
    r->svc = svc;
    return td_failpoint("recur.init");   /* on failure core calls recur_fini */
}

static void recur_fini(void *state)
{
    struct recur *r = state;
    td_consume_release(&r->calls);
}

const struct td_role td_role_recur = {
    .name = "recur",
    .needs = TD_NEED_DB | TD_NEED_BUS | TD_NEED_HTTP | TD_NEED_RELAY,
    .state_size = sizeof(struct recur),
    .subs = recur_subs,
    .stmts = recur_stmts,
    .init = recur_init,
    .fini = recur_fini,
};

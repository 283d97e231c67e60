/* Recurring series on the api: POST /api/tasks/{id}/skip moves a pending task to its next
 * occurrence without completing it; GET /api/tasks/{id}/occurrences?count=N previews the
 * next due times; DELETE /api/tasks/{id}?series=true ends the series. The due times come
 * from core/series.h, the code the recur role runs on a completion, so a skip lands where
 * completing the task now would put the next occurrence.
 *
 * Ending a series deletes the task asked for and every still pending occurrence of its
 * series (each with its 'deleted' event), keeps completed ones (they are history), and
 * records the series in recurrence_series_ended so that a completion still on its way to
 * the recur role creates nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/datetime.h"
#include "core/series.h"
#include "roles/api/api.h"
#include "roles/api/task_json.h"

enum { OCCURRENCES_DEFAULT = 10, OCCURRENCES_MAX = 100 };

const struct td_stmt_def api_recurrence_stmts[] = {
    /* What core/series.h needs, as unix seconds. */
    {"task_series_get",
     "SELECT recurrence, time_zone, extract(epoch FROM due_at)::bigint, "
     "  extract(epoch FROM coalesce(series_start, due_at, created_at))::bigint, "
     "  recurrence_anchor, status, version, occurrence_index, to_json(recurrence_exdates)::text "
     "FROM tasks WHERE id = $1::uuid AND user_id = $2", 0},
    /* The first skip of a series' first task fixes its DTSTART before the due time moves. */
    {"task_skip",
     "WITH u AS (UPDATE tasks t SET due_at = $3::timestamptz, series_id = coalesce(t.series_id, t.id), "
     "  series_start = coalesce(t.series_start, t.due_at, t.created_at), "
     "  occurrence_index = t.occurrence_index + 1, updated_at = now(), version = t.version + 1 "
     "  WHERE t.id = $1::uuid AND t.user_id = $2 AND t.version = $4::int AND t.status = 'pending' "
     "  RETURNING t.*), "
     "e AS (SELECT todod_emit(u, 'updated', $5, $6) FROM u) "
     "SELECT " TASK_COLS("u") " FROM u, e", 0},
    {"task_series_end",
     "WITH cur AS (SELECT coalesce(series_id, id) AS sid FROM tasks WHERE id = $1::uuid AND user_id = $2), "
     "en AS (INSERT INTO recurrence_series_ended (series_id, user_id) SELECT sid, $2 FROM cur "
     "  ON CONFLICT DO NOTHING), "
     "d AS (DELETE FROM tasks t USING cur WHERE t.user_id = $2 AND (t.id = $1::uuid OR "
     "  (coalesce(t.series_id, t.id) = cur.sid AND t.status = 'pending')) RETURNING t.*), "
     "e AS (SELECT todod_emit(d, 'deleted', $3, $4) FROM d) "
     "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM cur)", 0},
    {0},
};

static long long num(struct td_db_res *res, int col)
{
    const char *v = td_db_res_value(res, 0, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Reads the task row of task_series_get into o (o->exdates, when not NULL, is the
 * caller's to json_decref); answers and returns -1 when the task is missing or does not
 * recur. */
static int series_of(struct api_call *call, int status, struct td_db_res *res,
                     struct td_series_occ *o)
{
    if (status) {
        api_db_error(call, status, res);
        return -1;
    }
    if (td_db_res_rows(res) == 0) {
        api_not_found(call);
        return -1;
    }
    if (!td_db_res_value(res, 0, 0)) {
        api_problem(call, 409, "not-recurring", "Conflict",
                    "the task has no recurrence", NULL);
        return -1;
    }
    *o = (struct td_series_occ){.rrule = td_db_res_value(res, 0, 0),
                                .zone = td_db_res_value(res, 0, 1),
                                .due = num(res, 2), .has_due = td_db_res_value(res, 0, 2) != NULL,
                                .start = num(res, 3), .index = (int)num(res, 7)};
    td_series_anchor_parse(td_db_res_value(res, 0, 4), &o->anchor);
    const char *ex = td_db_res_value(res, 0, 8);
    o->exdates = ex && strcmp(ex, "[]") ? json_loads(ex, 0, NULL) : NULL;
    return 0;
}

static void series_problem(struct api_call *call, int rc)
{
    if (rc == -ENOENT)
        api_problem(call, 409, "series-exhausted", "Conflict",
                    "the series has no occurrence after this one (COUNT or UNTIL)", NULL);
    else
        api_problem(call, 422, "bad-recurrence", "Unprocessable Content",
                    "the task's recurrence cannot be expanded in its time zone", NULL);
}

/* ---------- skip ---------- */

static void on_skipped(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (td_db_res_rows(res) == 0)   /* changed (or completed) since it was read */
        api_problem(call, 409, "task-changed", "Conflict",
                    "the task changed while it was skipped; retry", NULL);
    else
        api_send_task(call, 200, res, 0, 0);
    api_end(call);
}

static void on_skip_read(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct td_series_occ o;
    if (series_of(call, status, res, &o)) {
        api_end(call);
        return;
    }
    if (strcmp(td_db_res_value(res, 0, 5), "pending") != 0) {
        json_decref(o.exdates);
        api_problem(call, 409, "task-completed", "Conflict",
                    "only a pending task can be skipped", NULL);
        api_end(call);
        return;
    }
    long long next;
    int rc = td_series_next(&o, (long long)time(NULL), &next);
    json_decref(o.exdates);
    if (rc) {
        series_problem(call, rc);
        api_end(call);
        return;
    }
    char due[32], version[16];
    td_datetime_format_utc(next, due, sizeof due);
    snprintf(version, sizeof version, "%s", td_db_res_value(res, 0, 6));
    const char *params[] = {call->task_id, call->user_id, due, version, call->traceparent,
                            call->request_id};
    api_exec(call, "task_skip", 6, params, on_skipped);
}

void api_op_skip(struct api_call *call)
{
    const char *params[] = {call->task_id, call->user_id};
    api_exec(call, "task_series_get", 2, params, on_skip_read);
}

static void handle_skip(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin_on_task(arg, req);
    if (call)
        api_op_skip(call);
}

/* ---------- occurrences ---------- */

static void on_occurrences_read(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct td_series_occ o;
    if (series_of(call, status, res, &o)) {
        api_end(call);
        return;
    }
    long long out[OCCURRENCES_MAX];
    int n = td_series_upcoming(&o, (long long)time(NULL), out, call->flags);
    json_decref(o.exdates);
    if (n < 0) {
        series_problem(call, n);
        api_end(call);
        return;
    }
    struct td_buf b = {0};
    int err = td_buf_puts(&b, "{\"task_id\":\"") | td_buf_puts(&b, call->task_id) |
              td_buf_puts(&b, "\",\"occurrences\":[");
    for (int i = 0; i < n; i++) {
        char t[32];
        td_datetime_format_utc(out[i], t, sizeof t);
        err |= td_buf_puts(&b, i ? ",\"" : "\"") | td_buf_puts(&b, t) | td_buf_puts(&b, "\"");
    }
    err |= td_buf_puts(&b, "]}");
    if (err) {
        td_buf_free(&b);
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
    } else {
        api_respond(call, 200, &b);
    }
    api_end(call);
}

static void handle_occurrences(struct td_http_req *req, void *arg)
{
    const char *v = td_http_query_param(req, "count", 0);
    char *end = NULL;
    long count = v ? strtol(v, &end, 10) : OCCURRENCES_DEFAULT;
    if (v && (!*v || *end || count < 1 || count > OCCURRENCES_MAX)) {
        td_http_problem(req, 400, "bad-parameter", "Bad Request",
                        "count must be an integer from 1 to 100", NULL);
        return;
    }
    struct api_call *call = api_begin_on_task(arg, req);
    if (!call)
        return;
    call->flags = (int)count;
    const char *params[] = {call->task_id, call->user_id};
    api_exec(call, "task_series_get", 2, params, on_occurrences_read);
}

/* ---------- ending a series (DELETE /api/tasks/{id}?series=true, from tasks.c) ---------- */

static void on_series_ended(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (atoi(td_db_res_value(res, 0, 1)) > 0)
        api_respond(call, 204, NULL);
    else
        api_not_found(call);
    api_end(call);
}

void api_series_end(struct api_call *call)
{
    const char *params[] = {call->task_id, call->user_id, call->traceparent, call->request_id};
    api_exec(call, "task_series_end", 4, params, on_series_ended);
}

const struct td_route_def api_recurrence_routes[] = {
    {"POST", "/api/tasks/{id}/skip", handle_skip, TD_DOOR_BEARER},
    {"GET", "/api/tasks/{id}/occurrences", handle_occurrences, TD_DOOR_BEARER},
    {0},
};

/* Task writes and single-task reads. Each write is one statement: the row, its outbox
 * event (todod_emit) and the JSON answer, so a change and its event commit together. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/jsonw.h"
#include "core/task.h"
#include "core/trace.h"
#include "roles/api/api.h"
#include "roles/api/task_json.h"

/* Present members of d replace the stored ones (PATCH, and PUT on the hackathon path);
 * PUT /api/tasks/{id} sends every member. */
#define SET_IF(col, expr) col " = CASE WHEN d ? '" col "' THEN " expr " ELSE t." col " END, "
#define TASK_UPDATE_SET \
    SET_IF("title", "d->>'title'") \
    SET_IF("description", "coalesce(d->>'description', '')") \
    SET_IF("status", "d->>'status'") \
    SET_IF("priority", "(d->>'priority')::smallint") \
    SET_IF("tags", "ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'tags', '[]')))") \
    SET_IF("due_at", "(d->>'due_at')::timestamptz") \
    /* A due date sent back unchanged keeps its all-day flag (PUT of a GET body). */ \
    "all_day = CASE WHEN d ? 'all_day' THEN (d->>'all_day')::boolean " \
    "  WHEN d ? 'due_at' AND (d->>'due_at')::timestamptz IS NOT DISTINCT FROM t.due_at " \
    "  THEN t.all_day WHEN d ? 'due_at' THEN false ELSE t.all_day END, " \
    SET_IF("time_zone", "d->>'time_zone'") \
    SET_IF("recurrence", "d->>'recurrence'") \
    SET_IF("recurrence_anchor", "d->>'recurrence_anchor'") \
    SET_IF("recurrence_exdates", "ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'recurrence_exdates', '[]')))") \
    SET_IF("reminders", "coalesce(d->'reminders', '[]')") \
    "completed_at = CASE WHEN NOT d ? 'status' THEN t.completed_at " \
    "  WHEN d->>'status' = 'completed' THEN coalesce(t.completed_at, now()) END, " \
    "updated_at = now(), version = t.version + 1 "

const struct td_stmt_def api_task_stmts[] = {
    {"task_get", "SELECT " TASK_COLS("t") " FROM tasks t WHERE t.id = $1::uuid AND t.user_id = $2", 0},
    {"task_update",
     "WITH cur AS (SELECT status, version FROM tasks WHERE id = $1::uuid AND user_id = $2), "
     "u AS (UPDATE tasks t SET " TASK_UPDATE_SET "FROM (SELECT $3::jsonb AS d) doc "
     "  WHERE t.id = $1::uuid AND t.user_id = $2 AND ($4::int IS NULL OR t.version = $4) "
     "  RETURNING t.*), "
     "e AS (SELECT todod_emit(u, CASE WHEN u.status = 'completed' AND cur.status <> 'completed' "
     "  THEN 'completed' ELSE 'updated' END, $5, $6) FROM u, cur) "
     "SELECT " TASK_COLS("u") ", (SELECT version FROM cur) "
     "FROM (SELECT 1) one LEFT JOIN (SELECT u.* FROM u, e) u ON true", 0},
    {"task_delete",
     "WITH d AS (DELETE FROM tasks WHERE id = $1::uuid AND user_id = $2 "
     "  AND ($3::int IS NULL OR version = $3) RETURNING *), "
     "e AS (SELECT todod_emit(d, 'deleted', $4, $5) FROM d) "
     "SELECT (SELECT count(*) FROM d, e), (SELECT version FROM tasks WHERE id = $1::uuid AND user_id = $2), "
     "  (SELECT title FROM d)", 0},
    /* complete/reopen: a task already in that state changes nothing and emits nothing. */
    {"task_set_status",
     "WITH cur AS (SELECT * FROM tasks WHERE id = $1::uuid AND user_id = $2), "
     "u AS (UPDATE tasks t SET status = $3, "
     "  completed_at = CASE WHEN $3 = 'completed' THEN now() END, "
     "  updated_at = now(), version = t.version + 1 "
     "  WHERE t.id = $1::uuid AND t.user_id = $2 AND t.status <> $3 RETURNING t.*), "
     "e AS (SELECT todod_emit(u, CASE WHEN $3 = 'completed' THEN 'completed' ELSE 'updated' END, $4, $5) FROM u) "
     "SELECT " TASK_COLS("x") " FROM (SELECT u.* FROM u, e UNION ALL "
     "  SELECT cur.* FROM cur WHERE NOT EXISTS (SELECT 1 FROM u)) x", 0},
    {"task_toggle",
     "WITH u AS (UPDATE tasks t SET "
     "  status = CASE WHEN t.status = 'completed' THEN 'pending' ELSE 'completed' END, "
     "  completed_at = CASE WHEN t.status = 'completed' THEN NULL ELSE now() END, "
     "  updated_at = now(), version = t.version + 1 "
     "  WHERE t.id = $1::uuid AND t.user_id = $2 RETURNING t.*), "
     "e AS (SELECT todod_emit(u, CASE WHEN u.status = 'completed' THEN 'completed' ELSE 'updated' END, $3, $4) FROM u) "
     "SELECT " TASK_COLS("u") " FROM u, e", 0},
    {0},
};

void api_send_task(struct api_call *call, int status, struct td_db_res *res, int row, int col)
{
    struct td_buf b = {0};
    api_task_json(&b, res, row, col);
    char etag[24];
    snprintf(etag, sizeof etag, "\"%s\"", td_db_res_value(res, row, col + TASK_COL_VERSION));
    api_header(call, "ETag", etag);
    api_respond(call, status, &b);
}

void api_not_found(struct api_call *call)
{
    api_problem(call, 404, "task-not-found", "Not Found", "no such task", NULL);
}

/* Authenticated call on /tasks/{id}: the id must be a UUID (else 404, nothing sent). */
struct api_call *api_begin_on_task(struct api *api, struct td_http_req *req)
{
    struct api_call *call = api_begin(api, req);
    if (!call)
        return NULL;
    const char *id = td_http_param(req, "id");
    if (!id || !td_task_is_uuid(id)) {
        api_not_found(call);
        api_end(call);
        return NULL;
    }
    snprintf(call->task_id, sizeof call->task_id, "%s", id);
    return call;
}

/* If-Match: "3", W/"3", 3 or *. Returns 0, or -EINVAL after answering 400. */
static int read_if_match(struct api_call *call)
{
    const char *v = td_http_header(call->req, "if-match");
    if (!v || strcmp(v, "*") == 0)
        return 0;   /* "*": any current version (a missing task is still 404) */
    if (strncmp(v, "W/", 2) == 0) {
        /* RFC 9110 13.1.1: If-Match compares strongly; a weak tag never matches. */
        td_http_problem(call->req, 412, "version-conflict", "Precondition Failed",
                        "If-Match needs the strong entity tag from ETag, e.g. \"3\"", NULL);
        return -EINVAL;
    }
    char *end;
    long n = strtol(v + (*v == '"'), &end, 10);
    if (n < 1 || n > 2147483647L || (*v == '"' ? *end != '"' : *end != '\0')) {
        td_http_problem(call->req, 400, "bad-if-match", "Bad Request",
                        "If-Match must hold the task's version as an entity tag, e.g. \"3\"", NULL);
        return -EINVAL;
    }
    call->if_match = (int)n;
    return 0;
}

/* Validates call->body for mode; answers 4xx and returns NULL on failure. */
char *api_validated_body(struct api_call *call, int mode, const char *zone)
{
    json_t *norm = NULL;
    struct td_task_errors errs = {0};
    /* The hackathon contract's /api/{user_id}/ routes ignore members they do not know. */
    if (call->req && strstr(td_http_route_pattern(call->req), "{user_id}"))
        mode |= TD_TASK_LENIENT;
    int rc = call->body ? td_task_validate(call->body, (enum td_task_mode)mode, zone, &norm, &errs)
                        : -EINVAL;
    if (rc) {
        char *extra = NULL;
        td_task_errors_json(&errs, &extra);
        api_problem(call, 422, "validation-failed", "Unprocessable Content",
                    errs.count ? "some fields are invalid" : "the body is invalid", extra);
        free(extra);
        return NULL;
    }
    char *s = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    return s;
}

/* ---------- read one ---------- */

static void on_task_row(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (td_db_res_rows(res) == 0 || !td_db_res_value(res, 0, 0))
        api_not_found(call);
    else
        api_send_task(call, 200, res, 0, 0);
    api_end(call);
}

void api_op_get(struct api_call *call)
{
    const char *params[] = {call->task_id, call->user_id};
    api_exec(call, "task_get", 2, params, on_task_row);
}

static void handle_get(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin_on_task(arg, req);
    if (call)
        api_op_get(call);
}

/* ---------- update ---------- */

static void on_updated(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status) {
        api_db_error(call, status, res);
    } else if (td_db_res_value(res, 0, 0)) {
        api_send_task(call, 200, res, 0, 0);
    } else if (td_db_res_value(res, 0, TASK_NCOLS)) {
        char detail[96];
        snprintf(detail, sizeof detail, "the task is at version %s; fetch it and retry",
                 td_db_res_value(res, 0, TASK_NCOLS));
        api_problem(call, 412, "version-conflict", "Precondition Failed", detail, NULL);
    } else {
        api_not_found(call);
    }
    api_end(call);
}

/* A PATCH or PUT that changes nothing still answers If-Match (RFC 9110 13.1.1). */
static void on_unchanged_row(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status == 0 && td_db_res_rows(res) > 0 && td_db_res_value(res, 0, 0) &&
        call->if_match > 0 && atoi(td_db_res_value(res, 0, TASK_COL_VERSION)) != call->if_match) {
        char detail[96];
        snprintf(detail, sizeof detail, "the task is at version %s; fetch it and retry",
                 td_db_res_value(res, 0, TASK_COL_VERSION));
        api_problem(call, 412, "version-conflict", "Precondition Failed", detail, NULL);
        api_end(call);
        return;
    }
    on_task_row(status, res, arg);
}

static void update_in_zone(struct api_call *call, const char *zone)
{
    char *doc = api_validated_body(call, call->mode, zone);
    if (!doc) {
        api_end(call);
        return;
    }
    call->extra = doc;
    call->free_extra = free;
    if (strcmp(doc, "{}") == 0) {
        /* Nothing to change (e.g. only server-managed members): no new version, no event. */
        const char *params[] = {call->task_id, call->user_id};
        api_exec(call, "task_get", 2, params, on_unchanged_row);
        return;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", call->if_match);
    const char *params[] = {call->task_id, call->user_id, doc,
                            call->if_match > 0 ? version : NULL, call->traceparent,
                            call->request_id};
    api_exec(call, "task_update", 6, params, on_updated);
}

void api_op_update(struct api_call *call, int mode)
{
    api_resolve_zone(call, mode, update_in_zone);
}

static void update(struct td_http_req *req, struct api *api, enum td_task_mode mode)
{
    struct api_call *call = api_begin_on_task(api, req);
    if (!call)
        return;
    if (read_if_match(call) != 0 || !(call->body = api_json_body(call))) {
        api_end(call);
        return;
    }
    api_op_update(call, mode);
}

static void handle_patch(struct td_http_req *req, void *arg)
{
    update(req, arg, TD_TASK_PATCH);
}

static void handle_put(struct td_http_req *req, void *arg)
{
    update(req, arg, TD_TASK_REPLACE);
}

/* PUT /api/{user_id}/tasks/{id}: the hackathon brief's edit forms send only the fields
 * they show and its back-ends update only those, so this PUT changes the members present
 * and keeps the rest (PATCH semantics). /api/tasks/{id} keeps full replacement. */
static void handle_put_partial(struct td_http_req *req, void *arg)
{
    update(req, arg, TD_TASK_PATCH);
}

/* ---------- delete ---------- */

static void on_deleted(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status) {
        api_db_error(call, status, res);
    } else if (atoi(td_db_res_value(res, 0, 0)) > 0 && call->req) {
        api_respond(call, 204, NULL);
    } else if (atoi(td_db_res_value(res, 0, 0)) > 0) {
        struct td_buf b = {0};
        td_buf_puts(&b, "{\"task_id\":\"");
        td_buf_puts(&b, call->task_id);
        td_buf_puts(&b, "\",\"title\":");
        td_jsonw_str(&b, td_db_res_value(res, 0, 2) ? td_db_res_value(res, 0, 2) : "", (size_t)-1);
        td_buf_puts(&b, "}");
        api_respond(call, 200, &b);
    } else if (td_db_res_value(res, 0, 1)) {
        api_problem(call, 412, "version-conflict", "Precondition Failed",
                    "the task changed since that version; fetch it and retry", NULL);
    } else {
        api_not_found(call);
    }
    api_end(call);
}

void api_op_delete(struct api_call *call)
{
    char version[16];
    snprintf(version, sizeof version, "%d", call->if_match);
    const char *params[] = {call->task_id, call->user_id, call->if_match > 0 ? version : NULL,
                            call->traceparent, call->request_id};
    api_exec(call, "task_delete", 5, params, on_deleted);
}

static void handle_delete(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin_on_task(arg, req);
    if (!call)
        return;
    if (read_if_match(call) != 0) {
        api_end(call);
        return;
    }
    /* ?series=true ends the task's recurring series (recurrence.c); If-Match is not
     * checked there: it names one task's version, not the series'. */
    const char *series = td_http_query_param(req, "series", 0);
    if (series && strcmp(series, "true") == 0) {
        api_series_end(call);
        return;
    }
    api_op_delete(call);
}

/* ---------- complete, reopen, toggle ---------- */

void api_op_set_status(struct api_call *call, const char *status)
{
    const char *params[] = {call->task_id, call->user_id, status, call->traceparent,
                            call->request_id};
    api_exec(call, "task_set_status", 5, params, on_task_row);
}

static void set_status(struct td_http_req *req, struct api *api, const char *status)
{
    struct api_call *call = api_begin_on_task(api, req);
    if (call)
        api_op_set_status(call, status);
}

static void handle_complete(struct td_http_req *req, void *arg)
{
    set_status(req, arg, "completed");
}

static void handle_reopen(struct td_http_req *req, void *arg)
{
    set_status(req, arg, "pending");
}

static void handle_toggle(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin_on_task(arg, req);
    if (!call)
        return;
    const char *params[] = {call->task_id, call->user_id, call->traceparent, call->request_id};
    api_exec(call, "task_toggle", 4, params, on_task_row);
}

/* Every task route but PUT, whose meaning differs between the two bases (see below). */
#define TASK_ROUTES(base) \
    {"GET", base "/{id}", handle_get, TD_DOOR_BEARER}, \
    {"PATCH", base "/{id}", handle_patch, TD_DOOR_BEARER}, \
    {"DELETE", base "/{id}", handle_delete, TD_DOOR_BEARER}, \
    {"POST", base "/{id}/complete", handle_complete, TD_DOOR_BEARER}, \
    {"POST", base "/{id}/reopen", handle_reopen, TD_DOOR_BEARER}

const struct td_route_def api_task_routes[] = {
    TASK_ROUTES("/api/tasks"),
    {"PUT", "/api/tasks/{id}", handle_put, TD_DOOR_BEARER},
    TASK_ROUTES("/api/{user_id}/tasks"),
    /* The hackathon contract's PUT updates only the fields sent. */
    {"PUT", "/api/{user_id}/tasks/{id}", handle_put_partial, TD_DOOR_BEARER},
    /* The hackathon contract's toggle. */
    {"PATCH", "/api/{user_id}/tasks/{id}/complete", handle_toggle, TD_DOOR_BEARER},
    {0},
};

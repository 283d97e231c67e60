/* The in_app channel over HTTP, behind the /api door: GET /api/notifications (the
 * caller's, newest first; unread=true keeps the unread), POST
 * /api/notifications/{id}/read, and POST /api/notifications/{id}/snooze {"until": RFC
 * 3339}, which marks the notification read and schedules its reminder again at until as
 * a new reminder row; the role's timer is re-armed when that is earlier than its instant. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/db.h"
#include "core/door.h"
#include "core/http.h"
#include "core/task.h"
#include "roles/notify/notify.h"

enum { NOTIFY_PAGE_DEFAULT = 50, NOTIFY_PAGE_MAX = 500 };

#define NOTIFY_ITEM \
    "jsonb_build_object('id', id, 'reminder_id', reminder_id, 'task_id', task_id, " \
    "'title', title, 'channel', 'in_app', 'due_at', todod_ts(due_at), " \
    "'remind_at', todod_ts(remind_at), 'late', late, 'created_at', todod_ts(created_at), " \
    "'read', read_at IS NOT NULL, 'read_at', todod_ts(read_at))"

const struct td_stmt_def notify_route_stmts[] = {
    {"notify_list",
     "WITH n AS (SELECT * FROM notifications WHERE user_id = $1 "
     "  AND (NOT $2::boolean OR read_at IS NULL) ORDER BY created_at DESC, id DESC LIMIT $3::int) "
     "SELECT coalesce(jsonb_agg(" NOTIFY_ITEM " ORDER BY created_at DESC, id DESC), "
     "'[]'::jsonb)::text FROM n", 3},
    {"notify_read",
     "UPDATE notifications SET read_at = coalesce(read_at, clock_timestamp()) "
     "WHERE id = $2::uuid AND user_id = $1 RETURNING (" NOTIFY_ITEM ")::text", 2},
    {"notify_snooze",
     "WITH n AS (UPDATE notifications SET read_at = coalesce(read_at, clock_timestamp()) "
     "  WHERE id = $2::uuid AND user_id = $1 RETURNING id, reminder_id), "
     "r AS (INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, offset_minutes, "
     "  channel, task_version) SELECT o.task_id, o.user_id, o.title, o.due_at, $3::timestamptz, "
     "  o.offset_minutes, o.channel, o.task_version FROM reminders o JOIN n ON o.id = n.reminder_id "
     "  RETURNING id, remind_at) "
     "SELECT jsonb_build_object('id', n.id, 'reminder_id', r.id, 'state', 'scheduled', "
     "  'remind_at', todod_ts(r.remind_at))::text, "
     "  (extract(epoch FROM r.remind_at) * 1000)::bigint FROM n JOIN r ON true", 3},
    {0},
};

/* One request waiting on the database. */
struct notify_req {
    struct notify      *n;
    struct td_http_req *req;
};

static void answer_oom(struct td_http_req *req)
{
    td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
}

static void send_or_fail(struct notify *n, struct td_http_req *req, const char *stmt, int np,
                         const char *const *p, td_db_cb cb)
{
    struct notify_req *c = malloc(sizeof *c);
    if (!c) {
        answer_oom(req);
        return;
    }
    *c = (struct notify_req){.n = n, .req = req};
    int rc = td_db_exec(n->svc->db, stmt, np, p, cb, c);
    if (rc) {
        td_door_db_problem(req, rc, NULL, n->svc->log);
        free(c);
    }
}

static void on_listed(int status, struct td_db_res *res, void *arg)
{
    struct notify_req *c = arg;
    if (status) {
        td_door_db_problem(c->req, status, res, c->n->svc->log);
    } else {
        const char *items = td_db_res_value(res, 0, 0);
        size_t len = strlen(items) + 16;
        char *body = malloc(len);
        if (body) {
            snprintf(body, len, "{\"items\":%s}", items);
            td_http_respond(c->req, 200, "application/json", body, strlen(body));
        } else {
            answer_oom(c->req);
        }
        free(body);
    }
    free(c);
}

static void bad_param(struct td_http_req *req, const char *name, const char *why)
{
    char detail[200];
    snprintf(detail, sizeof detail, "query parameter %s: %s", name, why);
    td_http_problem(req, 400, "invalid-query", "Bad Request", detail, NULL);
}

static void handle_list(struct td_http_req *req, void *arg)
{
    const char *unread = td_http_query_param(req, "unread", 0);
    const char *lim = td_http_query_param(req, "limit", 0);
    if (unread && strcmp(unread, "true") && strcmp(unread, "false")) {
        bad_param(req, "unread", "expected true or false");
        return;
    }
    long l = NOTIFY_PAGE_DEFAULT;
    if (lim) {
        char *end;
        l = strtol(lim, &end, 10);
        if (!*lim || *end || l < 1 || l > NOTIFY_PAGE_MAX) {
            bad_param(req, "limit", "expected a whole number from 1 to 500");
            return;
        }
    }
    char limit_s[16];
    snprintf(limit_s, sizeof limit_s, "%ld", l);
    const char *p[] = {td_door_subject(req), unread && !strcmp(unread, "true") ? "true" : "false",
                       limit_s};
    send_or_fail(arg, req, "notify_list", 3, p, on_listed);
}

static void not_found(struct td_http_req *req)
{
    td_http_problem(req, 404, "notification-not-found", "Not Found", "no such notification", NULL);
}

static void on_read(int status, struct td_db_res *res, void *arg)
{
    struct notify_req *c = arg;
    if (status)
        td_door_db_problem(c->req, status, res, c->n->svc->log);
    else if (td_db_res_rows(res) == 0)
        not_found(c->req);
    else
        td_http_respond(c->req, 200, "application/json", td_db_res_value(res, 0, 0),
                        strlen(td_db_res_value(res, 0, 0)));
    free(c);
}

static void handle_read(struct td_http_req *req, void *arg)
{
    const char *id = td_http_param(req, "id");
    if (!id || !td_task_is_uuid(id)) {
        not_found(req);
        return;
    }
    const char *p[] = {td_door_subject(req), id};
    send_or_fail(arg, req, "notify_read", 2, p, on_read);
}

static void on_snoozed(int status, struct td_db_res *res, void *arg)
{
    struct notify_req *c = arg;
    if (status) {
        td_door_db_problem(c->req, status, res, c->n->svc->log);
    } else if (td_db_res_rows(res) == 0) {
        not_found(c->req);
    } else {
        notify_arm(c->n, strtoll(td_db_res_value(res, 0, 1), NULL, 10));
        td_http_respond(c->req, 200, "application/json", td_db_res_value(res, 0, 0),
                        strlen(td_db_res_value(res, 0, 0)));
    }
    free(c);
}

static void invalid_until(struct td_http_req *req, const char *why)
{
    td_http_problem(req, 422, "validation-failed", "Unprocessable Content", why, NULL);
}

static void handle_snooze(struct td_http_req *req, void *arg)
{
    const char *id = td_http_param(req, "id");
    if (!id || !td_task_is_uuid(id)) {
        not_found(req);
        return;
    }
    size_t len;
    const char *body = td_http_body(req, &len);
    json_error_t e;
    json_t *j = body ? json_loadb(body, len, 0, &e) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        td_http_problem(req, 400, "malformed-json", "Bad Request",
                        "the body must be a JSON object {\"until\": RFC 3339 date-time}", NULL);
        return;
    }
    const char *until = json_string_value(json_object_get(j, "until"));
    long long t;
    int date_only = 0;
    char at[32];
    if (!until || td_datetime_parse_rfc3339(until, &t, &date_only) || date_only) {
        json_decref(j);
        invalid_until(req, "until: must be an RFC 3339 date-time");
        return;
    }
    json_decref(j);
    if (t * 1000 <= notify_now_ms()) {
        invalid_until(req, "until: must be in the future");
        return;
    }
    td_datetime_format_utc(t, at, sizeof at);
    const char *p[] = {td_door_subject(req), id, at};
    send_or_fail(arg, req, "notify_snooze", 3, p, on_snoozed);
}

const struct td_route_def notify_route_rows[] = {
    {"GET", "/api/notifications", handle_list, TD_DOOR_BEARER},
    {"POST", "/api/notifications/{id}/read", handle_read, TD_DOOR_BEARER},
    {"POST", "/api/notifications/{id}/snooze", handle_snooze, TD_DOOR_BEARER},
    {0},
};

/* The audit log over HTTP: GET /api/audit (the caller's own records, filtered by task,
 * time range and type, oldest first, keyset-paged) and GET /api/audit/verify (re-walks the
 * caller's hash chain). Same bearer tokens and per-user limits as the tasks API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/db.h"
#include "core/door.h"
#include "core/task.h"
#include "roles/audit/audit.h"

enum { AUDIT_PAGE_DEFAULT = 50, AUDIT_PAGE_MAX = 500 };

#define AUDIT_ITEM \
    "jsonb_build_object('id', id, 'sequence', user_seq, 'event_id', event_id, " \
    "'type', event_type, 'task_id', task_id, 'actor', user_id, " \
    "'occurred_at', todod_ts(occurred_at), 'recorded_at', todod_ts(recorded_at), " \
    "'before', before, 'after', after, 'request_id', request_id, 'trace_id', trace_id, " \
    "'prev_hash', encode(prev_hash, 'hex'), 'hash', encode(hash, 'hex'))"

const struct td_stmt_def audit_read_stmts[] = {
    {"audit_list",
     "WITH r AS (SELECT * FROM audit_log WHERE user_id = $1 "
     "  AND ($2::uuid IS NULL OR task_id = $2::uuid) "
     "  AND ($3::timestamptz IS NULL OR occurred_at >= $3::timestamptz) "
     "  AND ($4::timestamptz IS NULL OR occurred_at < $4::timestamptz) "
     "  AND ($5::text IS NULL OR event_type = $5) AND user_seq > $6::bigint "
     "  ORDER BY user_seq LIMIT $7::int) "
     "SELECT coalesce(jsonb_agg(" AUDIT_ITEM " ORDER BY user_seq), '[]'::jsonb)::text, "
     "count(*), max(user_seq) FROM r", 7},
    {"audit_verify", "SELECT todod_audit_verify($1)::text", 1},
    {0},
};

/* One request waiting on the database; the answer goes to req. */
struct audit_call {
    struct audit       *a;
    struct td_http_req *req;
    int                 limit;
};

static void db_failed(struct audit_call *c, int status, struct td_db_res *res)
{
    td_door_db_problem(c->req, status, res, c->a->svc->log);
}

static void on_listed(int status, struct td_db_res *res, void *arg)
{
    struct audit_call *c = arg;
    if (status) {
        db_failed(c, status, res);
        free(c);
        return;
    }
    const char *items = td_db_res_value(res, 0, 0);
    long n = strtol(td_db_res_value(res, 0, 1), NULL, 10);
    const char *last = td_db_res_value(res, 0, 2);
    size_t len = strlen(items) + 64;
    char *body = malloc(len);
    if (!body) {
        td_http_problem(c->req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        free(c);
        return;
    }
    if (n == c->limit && last)
        snprintf(body, len, "{\"items\":%s,\"next_cursor\":\"%s\"}", items, last);
    else
        snprintf(body, len, "{\"items\":%s,\"next_cursor\":null}", items);
    td_http_respond(c->req, 200, "application/json", body, strlen(body));
    free(body);
    free(c);
}

static int bad_param(struct td_http_req *req, const char *name, const char *why)
{
    char detail[200];
    snprintf(detail, sizeof detail, "query parameter %s: %s", name, why);
    td_http_problem(req, 400, "invalid-query", "Bad Request", detail, NULL);
    return -EINVAL;
}

/* A time bound as PostgreSQL reads it. A date alone means midnight UTC, as everywhere in
 * the API: written out with its zone, so the session's TimeZone never moves it. A date-time
 * carries its offset and passes as it is (fractions of a second included). */
static const char *time_param(const char *v, char out[32])
{
    long long t;
    int date_only;
    if (td_datetime_parse_rfc3339(v, &t, &date_only))
        return NULL;
    if (!date_only)
        return v;
    return td_datetime_format_utc(t, out, 32) == 0 ? out : NULL;
}

/* The filters as statement parameters; answers 400 and returns nonzero when one is bad.
 * times holds the bounds that had to be rewritten. */
static int read_filters(struct td_http_req *req, const char **p, char *type, size_t typelen,
                        char times[2][32], int *limit)
{
    const char *task = td_http_query_param(req, "task_id", 0);
    const char *from = td_http_query_param(req, "from", 0);
    const char *to = td_http_query_param(req, "to", 0);
    const char *kind = td_http_query_param(req, "type", 0);
    const char *cursor = td_http_query_param(req, "cursor", 0);
    const char *lim = td_http_query_param(req, "limit", 0);
    if (task && !td_task_is_uuid(task))
        return bad_param(req, "task_id", "expected a task id (UUID)");
    if (from && !(from = time_param(from, times[0])))
        return bad_param(req, "from", "expected an RFC 3339 date-time or date");
    if (to && !(to = time_param(to, times[1])))
        return bad_param(req, "to", "expected an RFC 3339 date-time or date");
    if (kind) {
        static const char *const kinds[] = {"created", "updated", "completed", "deleted"};
        /* The word, the CloudEvents type, or the seeds' data.event_type (task_created). */
        const char *k = strncmp(kind, "todo.task.", 10) == 0 ? kind + 10
                      : strncmp(kind, "task_", 5) == 0      ? kind + 5
                                                            : kind;
        size_t i = 0;
        while (i < 4 && strcmp(k, kinds[i]) != 0)
            i++;
        if (i == 4)
            return bad_param(req, "type", "expected created, updated, completed or deleted");
        snprintf(type, typelen, "todo.task.%s", k);
    }
    char *end;
    if (cursor && (!*cursor || strtoll(cursor, &end, 10) < 0 || *end))
        return bad_param(req, "cursor", "expected the next_cursor of an earlier page");
    *limit = AUDIT_PAGE_DEFAULT;
    if (lim) {
        long l = strtol(lim, &end, 10);
        if (!*lim || *end || l < 1 || l > AUDIT_PAGE_MAX)
            return bad_param(req, "limit", "expected a whole number from 1 to 500");
        *limit = (int)l;
    }
    p[1] = task;
    p[2] = from;
    p[3] = to;
    p[4] = kind ? type : NULL;
    p[5] = cursor ? cursor : "0";
    return 0;
}

static void handle_list(struct td_http_req *req, void *arg)
{
    struct audit *a = arg;
    char type[32], limit_s[16], times[2][32];
    const char *params[7];
    struct audit_call *c = NULL;
    int limit;
    if (read_filters(req, params, type, sizeof type, times, &limit))
        return;
    if (!(c = malloc(sizeof *c))) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return;
    }
    *c = (struct audit_call){.a = a, .req = req, .limit = limit};
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    params[0] = td_door_subject(req);
    params[6] = limit_s;
    int rc = td_db_exec(a->svc->db, "audit_list", 7, params, on_listed, c);
    if (rc) {
        db_failed(c, rc, NULL);
        free(c);
    }
}

static void on_verified(int status, struct td_db_res *res, void *arg)
{
    struct audit_call *c = arg;
    if (status) {
        db_failed(c, status, res);
    } else {
        const char *body = td_db_res_value(res, 0, 0);
        td_http_respond(c->req, 200, "application/json", body, strlen(body));
    }
    free(c);
}

static void handle_verify(struct td_http_req *req, void *arg)
{
    struct audit *a = arg;
    struct audit_call *c = malloc(sizeof *c);
    if (!c) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return;
    }
    *c = (struct audit_call){.a = a, .req = req};
    const char *params[] = {td_door_subject(req)};
    int rc = td_db_exec(a->svc->db, "audit_verify", 1, params, on_verified, c);
    if (rc) {
        db_failed(c, rc, NULL);
        free(c);
    }
}

const struct td_route_def audit_read_routes[] = {
    {"GET", "/api/audit", handle_list, TD_DOOR_BEARER},
    {"GET", "/api/audit/verify", handle_verify, TD_DOOR_BEARER},
    {0},
};

/* The api role: REST API over tasks with accounts and JWT auth (issue 4). This file holds
 * the role's hooks and what every handler shares: authentication, limits, answers. */
#include "roles/api/api.h"
#include "roles/api/chat.h"
#include "roles/api/tools.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/curl.h"
#include "core/failpoint.h"
#include "core/jsonw.h"
#include "core/task.h"
#include "core/log.h"
#include "core/outbox.h"

static uint64_t now_ms(struct api *api)
{
    return uv_now(api->svc->loop);
}

/* Metrics the api role adds to /metrics. */
static void count(struct api *api, const char *name, const char *labels)
{
    if (api->svc->metrics)
        td_metric_add(td_metrics_series(api->svc->metrics, name, labels), 1);
}

static struct api_call *new_call(struct api *api, struct td_http_req *req)
{
    struct api_call *call = calloc(1, sizeof *call);
    if (!call) {
        if (req)
            td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return NULL;
    }
    call->api = api;
    call->if_match = -1;
    api->inflight++;
    if (!req) {
        call->writes = 1;
        return call;
    }
    call->req = req;
    const char *m = td_http_method(req);
    call->writes = strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
    td_trace_format(td_http_trace(req), call->traceparent);
    snprintf(call->request_id, sizeof call->request_id, "%s", td_http_request_id(req));
    return call;
}

struct api_call *api_begin_anonymous(struct api *api, struct td_http_req *req,
                                     struct td_ratelimit *limit)
{
    char addr[64];
    int retry;
    td_http_peer(req, addr, sizeof addr);
    if (!td_ratelimit_take(limit, addr, now_ms(api), &retry)) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry);
        count(api, "td_api_rate_limited_total", "limit=\"address\"");
        td_http_add_header(req, "Retry-After", v);
        td_http_problem(req, 429, "rate-limited", "Too Many Requests",
                        "slow down: the request rate limit is exceeded", NULL);
        return NULL;
    }
    return new_call(api, req);
}

struct api_call *api_begin(struct api *api, struct td_http_req *req)
{
    struct api_call *call = new_call(api, req);
    if (call)
        snprintf(call->user_id, sizeof call->user_id, "%s", td_door_subject(req));
    return call;
}

struct api_call *api_begin_internal(struct api *api, const char *user, const char *traceparent,
                                    const char *request_id, api_sink_fn sink, void *sink_arg)
{
    struct api_call *call = new_call(api, NULL);
    if (!call)
        return NULL;
    call->sink = sink;
    call->sink_arg = sink_arg;
    snprintf(call->user_id, sizeof call->user_id, "%s", user);
    if (traceparent && *traceparent) {
        snprintf(call->traceparent, sizeof call->traceparent, "%s", traceparent);
    } else {
        struct td_trace t;
        td_trace_new(&t);
        td_trace_format(&t, call->traceparent);
    }
    snprintf(call->request_id, sizeof call->request_id, "%s", request_id ? request_id : "");
    return call;
}

static void api_free(struct api *api);

void api_end(struct api_call *call)
{
    struct api *api = call->api;
    /* A write may have committed outbox rows: the relay publishes them now, not at its
     * next sweep. Waking it for a write that changed nothing costs one cheap query. */
    if (call->writes)
        td_outbox_wake(api->svc->outbox);
    if (call->free_extra)
        call->free_extra(call->extra);
    json_decref(call->body);
    free(call);
    if (--api->inflight == 0 && api->drained) {
        td_done_cb done = api->drained;
        api->drained = NULL;
        done(api->drained_arg);
    }
    if (api->inflight == 0 && api->fini_pending) {
        api->fini_pending = 0;
        api_free(api);
    }
}

void api_header(struct api_call *call, const char *name, const char *value)
{
    if (call->req)
        td_http_add_header(call->req, name, value);
}

void api_respond(struct api_call *call, int status, struct td_buf *json)
{
    if (call->req) {
        if (json && json->len)
            td_http_respond_buf(call->req, status, "application/json", json);
        else
            td_http_respond(call->req, status, NULL, NULL, 0);
        return;
    }
    call->sink(call, status, json && json->len ? json->data : NULL, json ? json->len : 0);
    if (json)
        td_buf_free(json);
}

void api_problem(struct api_call *call, int status, const char *slug, const char *title,
                 const char *detail, const char *extra_json)
{
    if (call->req) {
        td_http_problem(call->req, status, slug, title, detail, extra_json);
        return;
    }
    struct td_buf b = {0};
    td_buf_puts(&b, "{\"type\":\"" TD_PROBLEM_BASE);
    td_buf_puts(&b, slug);
    td_buf_puts(&b, "\",\"title\":");
    td_jsonw_str(&b, title, (size_t)-1);
    td_buf_printf(&b, ",\"status\":%d", status);
    if (detail) {
        td_buf_puts(&b, ",\"detail\":");
        td_jsonw_str(&b, detail, (size_t)-1);
    }
    if (extra_json && *extra_json) {
        td_buf_puts(&b, ",");
        td_buf_puts(&b, extra_json);
    }
    td_buf_puts(&b, "}");
    call->sink(call, status, b.data ? b.data : "{}", b.len);
    td_buf_free(&b);
}

void api_db_error(struct api_call *call, int status, struct td_db_res *res)
{
    if (call->req) {
        td_door_db_problem(call->req, status, res, call->api->svc->log);
        return;
    }
    /* The door's mapping, for calls without a request. */
    const char *state = status == -EIO && res ? td_db_res_sqlstate(res) : "";
    if (status != -EIO) {
        api_problem(call, 503, "database-unavailable", "Service Unavailable",
                    "the database is unavailable; retry shortly", NULL);
    } else if (strcmp(state, "23505") == 0) {
        api_problem(call, 409, "conflict", "Conflict", "the resource already exists", NULL);
    } else if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0) {
        api_problem(call, 422, "validation-failed", "Unprocessable Content",
                    "a value is out of range", NULL);
    } else {
        td_log_emit(call->api->svc->log, TD_LOG_ERROR, NULL, NULL, "database error %s: %s",
                    state, res ? td_db_res_error(res) : "");
        api_problem(call, 500, "internal", "Internal Server Error",
                    "the request failed; it has been logged", NULL);
    }
}

void api_exec(struct api_call *call, const char *stmt, int n, const char *const *params,
                 td_db_cb cb)
{
    int rc = td_db_exec(call->api->svc->db, stmt, n, params, cb, call);
    if (rc) {
        api_db_error(call, rc, NULL);
        api_end(call);
    }
}

json_t *api_json_body(struct api_call *call)
{
    struct td_http_req *req = call->req;
    const char *type = td_http_header(req, "content-type");
    if (!type || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] && type[16] != ';' && type[16] != ' ')) {
        td_http_problem(req, 415, "unsupported-media-type", "Unsupported Media Type",
                        "send the body as application/json", NULL);
        return NULL;
    }
    size_t len;
    const char *body = td_http_body(req, &len);
    json_error_t err;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        char detail[256];
        snprintf(detail, sizeof detail, "malformed JSON at line %d column %d: %s", err.line,
                 err.column, err.text);
        td_http_problem(req, 400, "malformed-json", "Bad Request", detail, NULL);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        td_http_problem(req, 400, "malformed-json", "Bad Request", "the body must be a JSON object",
                        NULL);
        return NULL;
    }
    return j;
}

void api_send_json(struct api_call *call, int status, const char *json, int version)
{
    if (version > 0) {
        char etag[24];
        snprintf(etag, sizeof etag, "\"%d\"", version);
        api_header(call, "ETag", etag);
    }
    if (call->req)
        td_http_respond(call->req, status, "application/json", json, strlen(json));
    else
        call->sink(call, status, json, strlen(json));
}

/* ---------- role hooks ---------- */

static int api_setup(struct api *api, struct td_svc *svc)
{
    const struct td_door_conf *door = td_config_group(svc->cfg, &td_door_settings);
    int rc;
    /* Logins: 5 tries then one per 12 s per account (OWASP); 20 then 1/s per address. */
    if ((rc = td_ratelimit_new(door->rate_limit_user > 0 ? 1.0 / 12 : 0, 5, 100000,
                               &api->login_per_account)) ||
        (rc = td_ratelimit_new(door->rate_limit_addr > 0 ? 1 : 0, 20, 100000, &api->login_per_addr)) ||
        (rc = td_failpoint("api.init")) || (rc = api_create_init(api)) ||
        (rc = api_prepare_list(api)) || (rc = api_tools_init(api)) || (rc = api_mcp_init(api)))
        return rc;
    if (svc->metrics) {
        static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
        td_metrics_describe(svc->metrics, "td_api_create_batch_size", TD_METRIC_HISTOGRAM,
                            "Creates committed together by group commit.", sizes, 7);
    }
    return 0;
}

static void api_fini(void *state);

static int api_init(struct td_svc *svc, void *state)
{
    struct api *api = state;
    api->svc = svc;
    api->conf = td_config_group(svc->cfg, &api_settings);
    if (api->conf && api->conf->llm_url) {
        int rc = td_curl_new(svc->loop, &api->curl);
        if (rc)
            return rc;
    }
    return api_setup(api, svc);   /* on failure core calls api_fini */
}

/* The api needs its tables: /ready says so until the schema check passes (a `todod api`
 * pointed at a database nobody migrated would otherwise answer 500 to every call). */
static void on_schema_checked(int status, struct td_db_res *res, void *arg)
{
    struct api *api = arg;
    api->schema_checking = 0;
    api->schema_ok = status == 0 && td_db_res_rows(res) > 0;
}

static void check_schema(struct api *api)
{
    if (api->schema_ok || api->schema_checking)
        return;
    const char *params[] = {"0002_users_tasks.sql"};
    if (td_db_exec_sql(api->svc->db, "SELECT 1 FROM schema_migrations WHERE name = $1", 1,
                       params, on_schema_checked, api) == 0)
        api->schema_checking = 1;
}

static int api_start(void *state)
{
    check_schema(state);
    return 0;
}

static int api_health(void *state, struct td_health *out)
{
    struct api *api = state;
    if (api->schema_ok) {
        out->ok = 1;
        return 0;
    }
    check_schema(api);   /* the answer serves the next probe */
    out->ok = 0;
    snprintf(out->reason, sizeof out->reason,
             "the database schema is not migrated (run `todod migrate` or start with --migrate)");
    return 0;
}

static void api_drain(void *state, td_done_cb done, void *arg)
{
    struct api *api = state;
    if (api->inflight == 0) {
        done(arg);
        return;
    }
    api->drained = done;
    api->drained_arg = arg;
}

static void api_free(struct api *api)
{
    td_ratelimit_free(api->login_per_account);
    td_ratelimit_free(api->login_per_addr);
    free(api->list_prepared);
    api_tools_fini(api);
    api_mcp_fini(api);
}

/* Past the drain deadline calls may still be in flight (argon2 jobs on the thread pool
 * outlive the database): they keep what they use until the last one ends. */
static void api_fini(void *state)
{
    struct api *api = state;
    td_curl_close(api->curl);   /* LLM turns in flight end now (-ECANCELED) */
    api->curl = NULL;
    api_create_fini(api);
    if (api->inflight > 0) {
        api->fini_pending = 1;
        return;
    }
    api_free(api);
}

static const struct td_route_def *const api_routes[] = {
    api_auth_routes, api_create_routes, api_task_routes, api_list_routes,
    api_recurrence_routes, api_mcp_routes, api_webhook_routes, api_web_routes, api_chat_routes,
    NULL,
};
static const struct td_stmt_def *const api_stmts[] = {
    api_auth_stmts, api_create_stmts, api_task_stmts, api_list_stmts, api_zone_stmts,
    api_recurrence_stmts, api_webhook_stmts, api_chat_stmts, NULL,
};

const struct td_role td_role_api = {
    .name = "api",
    .needs = TD_NEED_DB | TD_NEED_HTTP | TD_NEED_RELAY,
    .state_size = sizeof(struct api),
    .routes = api_routes,
    .stmts = api_stmts,
    .settings = &api_settings,
    .init = api_init,
    .start = api_start,
    .drain = api_drain,
    .fini = api_fini,
    .health = api_health,
};

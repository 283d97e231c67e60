/* The api role: REST API over tasks with accounts and JWT auth (issue 4). This file holds
 * the role's hooks and what every handler shares: authentication, limits, answers. */
#include "roles/api/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/http_auth.h"
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

static void limited(struct td_http_req *req, int retry_after)
{
    char v[16];
    snprintf(v, sizeof v, "%d", retry_after);
    td_http_add_header(req, "Retry-After", v);
    td_http_problem(req, 429, "rate-limited", "Too Many Requests",
                    "slow down: the request rate limit is exceeded", NULL);
}

static struct api_call *new_call(struct api *api, struct td_http_req *req)
{
    struct api_call *call = calloc(1, sizeof *call);
    if (!call) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return NULL;
    }
    call->api = api;
    call->req = req;
    call->if_match = -1;
    const char *m = td_http_method(req);
    call->writes = strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
    td_trace_format(td_http_trace(req), call->traceparent);
    snprintf(call->request_id, sizeof call->request_id, "%s", td_http_request_id(req));
    api->inflight++;
    return call;
}

struct api_call *api_begin_anonymous(struct api *api, struct td_http_req *req,
                                     struct td_ratelimit *limit)
{
    char addr[64];
    int retry;
    td_http_peer(req, addr, sizeof addr);
    if (!td_ratelimit_take(limit ? limit : api->per_addr, addr, now_ms(api), &retry)) {
        count(api, "td_api_rate_limited_total", "limit=\"address\"");
        limited(req, retry);
        return NULL;
    }
    return new_call(api, req);
}

struct api_call *api_begin(struct api *api, struct td_http_req *req)
{
    char sub[API_SUB_MAX];
    enum td_auth_error e;
    if (td_http_bearer(req, api->auth, sub, sizeof sub, &e)) {
        if (td_http_header(req, "authorization")) {
            char labels[48];
            snprintf(labels, sizeof labels, "reason=\"%s\"", td_auth_error_label(e));
            count(api, "td_api_auth_failures_total", labels);
        }
        return NULL;
    }
    char addr[64];
    int retry;
    td_http_peer(req, addr, sizeof addr);
    if (!td_ratelimit_take(api->per_user, sub, now_ms(api), &retry) ||
        !td_ratelimit_take(api->per_addr, addr, now_ms(api), &retry)) {
        count(api, "td_api_rate_limited_total", "limit=\"user\"");
        limited(req, retry);
        return NULL;
    }
    /* The hackathon paths name the user: it must be the token's. */
    const char *path_user = td_http_param(req, "user_id");
    if (path_user && strcmp(path_user, sub) != 0) {
        td_http_problem(req, 403, "forbidden", "Forbidden",
                        "the path names another user than the token's subject", NULL);
        return NULL;
    }
    struct api_call *call = new_call(api, req);
    if (call)
        snprintf(call->user_id, sizeof call->user_id, "%s", sub);
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

void api_db_error(struct api_call *call, int status, struct td_db_res *res)
{
    struct td_http_req *req = call->req;
    if (status != -EIO) {
        td_http_add_header(req, "Retry-After", "1");
        td_http_problem(req, 503, "database-unavailable", "Service Unavailable",
                        "the database is unavailable; retry shortly", NULL);
        return;
    }
    const char *state = res ? td_db_res_sqlstate(res) : "";
    if (strcmp(state, "23505") == 0) {
        td_http_problem(req, 409, "conflict", "Conflict", "the resource already exists", NULL);
    } else if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0) {
        td_http_problem(req, 422, "validation-failed", "Unprocessable Content",
                        "a value is out of range", NULL);
    } else {
        td_log_emit(call->api->svc->log, TD_LOG_ERROR, td_http_log_ctx(req), NULL,
                    "database error %s: %s", state, res ? td_db_res_error(res) : "");
        td_http_problem(req, 500, "internal", "Internal Server Error",
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
        td_http_add_header(call->req, "ETag", etag);
    }
    td_http_respond(call->req, status, "application/json", json, strlen(json));
}

/* ---------- role hooks ---------- */

static int api_setup(struct api *api, struct td_svc *svc)
{
    const struct td_config *cfg = svc->cfg;
    if (!cfg->jwt_secret) {
        td_log_error(svc->log, "api needs a JWT secret: set TODOD_JWT_SECRET or TODOD_JWT_SECRET_FILE");
        return -EINVAL;
    }
    struct td_auth_opts ao = {.secret = cfg->jwt_secret, .issuer = cfg->jwt_issuer,
                              .audience = cfg->jwt_audience, .leeway_s = 60,
                              .token_ttl_s = 86400};
    int rc = td_auth_new(&ao, &api->auth);
    if (rc)
        return rc;
    double burst_user = cfg->rate_limit_user * 2, burst_addr = cfg->rate_limit_addr * 2;
    if ((rc = td_ratelimit_new(cfg->rate_limit_user, burst_user, 100000, &api->per_user)) ||
        (rc = td_ratelimit_new(cfg->rate_limit_addr, burst_addr, 100000, &api->per_addr)) ||
        /* Logins: 5 tries then one per 12 s per account (OWASP); 20 then 1/s per address. */
        (rc = td_ratelimit_new(cfg->rate_limit_user > 0 ? 1.0 / 12 : 0, 5, 100000,
                               &api->login_per_account)) ||
        (rc = td_ratelimit_new(cfg->rate_limit_addr > 0 ? 1 : 0, 20, 100000, &api->login_per_addr)))
        return rc;
    if ((rc = api_prepare_auth(api)) || (rc = api_prepare_tasks(api)) || (rc = api_prepare_create(api)) ||
        (rc = api_prepare_zone(api)) ||
        (rc = api_prepare_list(api)))
        return rc;
    if (svc->metrics) {
        static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
        td_metrics_describe(svc->metrics, "td_api_auth_failures_total", TD_METRIC_COUNTER,
                            "Requests refused for their bearer token, by reason.", NULL, 0);
        td_metrics_describe(svc->metrics, "td_api_rate_limited_total", TD_METRIC_COUNTER,
                            "Requests answered 429, by limit.", NULL, 0);
        td_metrics_describe(svc->metrics, "td_api_create_batch_size", TD_METRIC_HISTOGRAM,
                            "Creates committed together by group commit.", sizes, 7);
    }
    api_routes_auth(api);
    api_routes_create(api);
    api_routes_tasks(api);
    api_routes_list(api);
    return 0;
}

static void api_fini(void *state);

/* A failed start releases what it took: svc runs fini only for roles that started. */
static int api_init(struct td_svc *svc, void *state)
{
    struct api *api = state;
    api->svc = svc;
    int rc = api_setup(api, svc);
    if (rc)
        api_fini(api);
    return rc;
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
    td_auth_free(api->auth);
    td_ratelimit_free(api->per_user);
    td_ratelimit_free(api->per_addr);
    td_ratelimit_free(api->login_per_account);
    td_ratelimit_free(api->login_per_addr);
    free(api->list_prepared);
}

/* Past the drain deadline calls may still be in flight (argon2 jobs on the thread pool
 * outlive the database): they keep what they use until the last one ends. */
static void api_fini(void *state)
{
    struct api *api = state;
    api_create_fini(api);
    if (api->inflight > 0) {
        api->fini_pending = 1;
        return;
    }
    api_free(api);
}

const struct td_role td_role_api = {
    .name = "api",
    .needs = TD_NEED_DB | TD_NEED_HTTP | TD_NEED_RELAY,
    .state_size = sizeof(struct api),
    .init = api_init,
    .start = api_start,
    .drain = api_drain,
    .fini = api_fini,
    .health = api_health,
};

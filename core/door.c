/* The /api front door (door.h). */
#include "core/door.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_auth.h"
#include "core/ratelimit.h"

/* ---------- the door ---------- */

struct door_route {
    struct td_door    *door;
    unsigned           flags;
    td_http_handler_fn fn;
    void              *arg;
};

struct td_door {
    uv_loop_t           *loop;
    struct td_metrics   *metrics;
    struct td_log       *log;
    struct td_auth      *auth;
    struct td_ratelimit *per_user;
    struct td_ratelimit *per_addr;
    struct door_route  **routes;   /* owned; the server points at them */
    size_t               nroutes;
};

int td_door_new(const struct td_door_conf *conf, uv_loop_t *loop, struct td_metrics *metrics,
                struct td_log *log, struct td_door **out)
{
    if (!conf->jwt_secret) {
        td_log_error(log, "the /api routes need a JWT secret: set TODOD_JWT_SECRET or "
                          "TODOD_JWT_SECRET_FILE");
        return -EINVAL;
    }
    struct td_door *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->loop = loop;
    d->metrics = metrics;
    d->log = log;
    struct td_auth_opts ao = {.secret = conf->jwt_secret, .issuer = conf->jwt_issuer,
                              .audience = conf->jwt_audience, .leeway_s = 60,
                              .token_ttl_s = 86400};
    int rc = td_auth_new(&ao, &d->auth);
    if (!rc)
        rc = td_ratelimit_new(conf->rate_limit_user, conf->rate_limit_user * 2, 100000,
                              &d->per_user);
    if (!rc)
        rc = td_ratelimit_new(conf->rate_limit_addr, conf->rate_limit_addr * 2, 100000,
                              &d->per_addr);
    if (rc) {
        td_door_free(d);
        return rc;
    }
    if (metrics) {
        td_metrics_describe(metrics, "td_api_auth_failures_total", TD_METRIC_COUNTER,
                            "Requests refused for their bearer token, by reason.", NULL, 0);
        td_metrics_describe(metrics, "td_api_rate_limited_total", TD_METRIC_COUNTER,
                            "Requests answered 429, by limit.", NULL, 0);
    }
    *out = d;
    return 0;
}

void td_door_free(struct td_door *door)
{
    if (!door)
        return;
    for (size_t i = 0; i < door->nroutes; i++)
        free(door->routes[i]);
    free(door->routes);
    td_auth_free(door->auth);
    td_ratelimit_free(door->per_user);
    td_ratelimit_free(door->per_addr);
    free(door);
}

struct td_auth *td_door_auth(struct td_door *door)
{
    return door->auth;
}

static void count(struct td_door *door, const char *name, const char *labels)
{
    if (door->metrics)
        td_metric_add(td_metrics_series(door->metrics, name, labels), 1);
}

static void limited(struct td_http_req *req, int retry_after)
{
    char v[16];
    snprintf(v, sizeof v, "%d", retry_after);
    td_http_add_header(req, "Retry-After", v);
    td_http_problem(req, 429, "rate-limited", "Too Many Requests",
                    "slow down: the request rate limit is exceeded", NULL);
}

/* 0 when the request may go on; otherwise it has been answered. */
static int admit_bearer(struct td_door *door, struct td_http_req *req, char *sub)
{
    enum td_auth_error e;
    /* Read before td_http_bearer answers: an answered request may be released at once. */
    int sent_token = td_http_header(req, "authorization") != NULL;
    if (td_http_bearer(req, door->auth, sub, TD_DOOR_SUB_MAX, &e)) {
        if (sent_token) {
            char labels[48];
            snprintf(labels, sizeof labels, "reason=\"%s\"", td_auth_error_label(e));
            count(door, "td_api_auth_failures_total", labels);
        }
        return -EACCES;
    }
    char addr[64];
    int retry;
    uint64_t now = uv_now(door->loop);
    td_http_peer(req, addr, sizeof addr);
    int by_user = !td_ratelimit_take(door->per_user, sub, now, &retry);
    if (by_user || !td_ratelimit_take(door->per_addr, addr, now, &retry)) {
        count(door, "td_api_rate_limited_total", by_user ? "limit=\"user\"" : "limit=\"address\"");
        limited(req, retry);
        return -EAGAIN;
    }
    /* The hackathon paths name the user: it must be the token's. */
    const char *path_user = td_http_param(req, "user_id");
    if (path_user && strcmp(path_user, sub) != 0) {
        td_http_problem(req, 403, "forbidden", "Forbidden",
                        "the path names another user than the token's subject", NULL);
        return -EPERM;
    }
    return 0;
}

static void through_door(struct td_http_req *req, void *arg)
{
    struct door_route *r = arg;
    char sub[TD_DOOR_SUB_MAX];
    /* Answers about accounts and tasks are the user's alone: never in a shared cache. */
    td_http_add_header(req, "Cache-Control", "no-store");
    if ((r->flags & TD_DOOR_BEARER) && admit_bearer(r->door, req, sub) != 0)
        return;
    td_http_set_principal(req, (r->flags & TD_DOOR_BEARER) ? sub : NULL);
    r->fn(req, r->arg);
}

const char *td_door_subject(const struct td_http_req *req)
{
    return td_http_principal(req);
}

int td_door_route(struct td_door *door, struct td_http *http, const char *method,
                  const char *pattern, unsigned flags, td_http_handler_fn fn, void *arg)
{
    struct door_route *r = malloc(sizeof *r);
    struct door_route **grown = realloc(door->routes, (door->nroutes + 1) * sizeof *grown);
    if (!r || !grown) {
        free(r);
        if (grown)
            door->routes = grown;
        return -ENOMEM;
    }
    door->routes = grown;
    *r = (struct door_route){.door = door, .flags = flags, .fn = fn, .arg = arg};
    door->routes[door->nroutes++] = r;
    return td_http_route_flags(http, method, pattern, flags, through_door, r);
}

void td_door_db_problem(struct td_http_req *req, int status, struct td_db_res *res,
                        const struct td_log *log)
{
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
        td_log_emit(log, TD_LOG_ERROR, td_http_log_ctx(req), NULL, "database error %s: %s",
                    state, res ? td_db_res_error(res) : "");
        td_http_problem(req, 500, "internal", "Internal Server Error",
                        "the request failed; it has been logged", NULL);
    }
}

/* The server: set-up, listening, routes, dispatch of complete requests, metrics and
 * access log, drain and close. Connections and parsing live in http_conn.c. */
#include "core/http_internal.h"
#include "core/jsonw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct td_metric_series *status_series(struct td_http *http, struct td_route *rt,
                                              const char *method, int status)
{
    int cacheable = rt != &http->unmatched;
    if (cacheable)
        for (int i = 0; i < TD_HTTP_STATUS_CACHE; i++)
            if (rt->by_status[i].status == status)
                return rt->by_status[i].count;
    struct td_buf labels = {0};
    td_buf_puts(&labels, "route=\"");
    td_metrics_label_escape(&labels, rt->pattern);
    td_buf_printf(&labels, "\",method=\"%s\",status=\"%d\"", cacheable ? rt->method : method,
                  status);
    struct td_metric_series *s =
        td_metrics_series(http->opts.metrics, "td_http_requests_total", labels.data);
    td_buf_free(&labels);
    if (cacheable)
        for (int i = 0; i < TD_HTTP_STATUS_CACHE; i++)
            if (rt->by_status[i].status == 0) {
                rt->by_status[i].status = status;
                rt->by_status[i].count = s;
                break;
            }
    return s;
}

static void record_metrics(struct td_http *http, struct td_http_req *req, double seconds)
{
    if (!http->opts.metrics)
        return;
    struct td_route *rt = req->route ? (struct td_route *)req->route : &http->unmatched;
    td_metric_add(status_series(http, rt, req->method, req->status), 1);
    if (!rt->latency) {
        struct td_buf labels = {0};
        td_buf_puts(&labels, "route=\"");
        td_metrics_label_escape(&labels, rt->pattern);
        td_buf_puts(&labels, "\"");
        rt->latency = td_metrics_series(http->opts.metrics, "td_http_request_duration_seconds",
                                        labels.data);
        td_buf_free(&labels);
    }
    td_metric_observe(rt->latency, seconds);
}

static void access_log(struct td_http *http, struct td_http_req *req, double seconds)
{
    const struct td_log *log = http->opts.log;
    /* Probes from orchestrators (quiet routes) would drown the access log at info. */
    enum td_log_level level = td_http_req_route_flags(req) & TD_ROUTE_QUIET ? TD_LOG_DEBUG
                                                                           : TD_LOG_INFO;
    if (!log || level < log->level)
        return;
    struct td_buf extra = {0};
    td_buf_printf(&extra, "\"method\":\"%s\",\"path\":", req->method);
    td_jsonw_str(&extra, td_http_path(req), (size_t)-1);
    td_buf_printf(&extra, ",\"status\":%d,\"duration_ms\":%.3f,\"bytes\":%zu", req->status,
                  seconds * 1000, req->out.len);
    if (req->route) {
        td_buf_puts(&extra, ",\"route\":");
        td_jsonw_str(&extra, req->route->pattern, (size_t)-1);
    }
    td_log_emit(log, level, &req->log_ctx, extra.data, "%s %s %d", req->method,
                td_http_path(req), req->status);
    td_buf_free(&extra);
}

void td_http_observe(struct td_http *http, struct td_http_req *req, double seconds)
{
    record_metrics(http, req, seconds);
    access_log(http, req, seconds);
}

/* A CORS preflight: OPTIONS asking, from a browser, whether a method may be used. */
static int is_preflight(const struct td_http_req *req)
{
    return strcmp(req->method, "OPTIONS") == 0 && td_http_header(req, "origin") &&
           td_http_header(req, "access-control-request-method");
}

void td_http_dispatch(struct td_http *http, struct td_http_req *req)
{
    char allow[160];
    int status = 404;
    if (req->cors && is_preflight(req) &&
        td_router_methods(&http->router, req->path, allow, sizeof allow) > 0) {
        td_cors_preflight(req, allow);   /* before any handler, even an OPTIONS route's */
        return;
    }
    const struct td_route *rt = td_router_match(&http->router, req->method, req->path, &req->arena,
                                                req->params, &req->nparams, allow, sizeof allow,
                                                &status);
    if (rt) {
        req->route = rt;
        rt->fn(req, rt->arg);
        return;
    }
    if (status == 405 && strcmp(req->method, "OPTIONS") == 0) {
        td_http_add_header(req, "Allow", allow);
        td_http_respond(req, 204, NULL, NULL, 0);
    } else if (status == 405) {
        td_http_add_header(req, "Allow", allow);
        td_http_problem(req, 405, "method-not-allowed", "Method Not Allowed",
                        "this resource does not support the method", NULL);
    } else if (status == 400) {
        td_http_problem(req, 400, "bad-path", "Bad Request",
                        "the path holds an invalid percent-encoding", NULL);
    } else {
        td_http_problem(req, 404, "not-found", "Not Found", "no resource at this path", NULL);
    }
}

int td_http_new(uv_loop_t *loop, const struct td_http_opts *opts, struct td_http **out)
{
    struct td_http *http = calloc(1, sizeof *http);
    if (!http)
        return -ENOMEM;
    http->loop = loop;
    http->opts = *opts;
    snprintf(http->host, sizeof http->host, "%s", opts->host ? opts->host : "127.0.0.1");
    http->opts.host = http->host;
    http->unmatched.pattern = "unmatched";
    http->unmatched.method = "";
    td_http_parser_settings(&http->settings);
    if (opts->metrics) {
        struct td_metrics *m = opts->metrics;
        td_metrics_describe(m, "td_http_requests_total", TD_METRIC_COUNTER,
                            "HTTP requests answered, by route, method and status.", NULL, 0);
        td_metrics_describe(m, "td_http_request_duration_seconds", TD_METRIC_HISTOGRAM,
                            "Time from a request's first byte to its answer, by route.", NULL, 0);
        td_metrics_describe(m, "td_http_open_connections", TD_METRIC_GAUGE,
                            "HTTP connections open now.", NULL, 0);
        td_metrics_describe(m, "td_http_connections_total", TD_METRIC_COUNTER,
                            "HTTP connections accepted.", NULL, 0);
        http->open_conns = td_metrics_series(m, "td_http_open_connections", "");
        http->conns_total = td_metrics_series(m, "td_http_connections_total", "");
    }
    *out = http;
    return 0;
}

int td_http_listen(struct td_http *http)
{
    union { struct sockaddr sa; struct sockaddr_in in4; struct sockaddr_in6 in6;
            struct sockaddr_storage ss; } addr;
    int rc = uv_ip4_addr(http->host, http->opts.port, &addr.in4);
    if (rc)
        rc = uv_ip6_addr(http->host, http->opts.port, &addr.in6);
    if (rc)
        return rc;
    if ((rc = uv_tcp_init(http->loop, &http->listener)))
        return rc;
    http->listener.data = http;
    http->listener_open = 1;
    if ((rc = uv_tcp_bind(&http->listener, &addr.sa, 0)) ||
        (rc = uv_listen((uv_stream_t *)&http->listener, 511, td_http_conn_accept)))
        return rc;
    int len = sizeof addr;
    if ((rc = uv_tcp_getsockname(&http->listener, &addr.sa, &len)))
        return rc;
    http->port = ntohs(addr.sa.sa_family == AF_INET ? addr.in4.sin_port : addr.in6.sin6_port);
    return 0;
}

int td_http_port(const struct td_http *http)
{
    return http->port;
}

int td_http_open_connections(const struct td_http *http)
{
    return http->nconns;
}

int td_http_route(struct td_http *http, const char *method, const char *pattern,
                  td_http_handler_fn fn, void *arg)
{
    return td_router_add(&http->router, method, pattern, 0, fn, arg);
}

int td_http_route_flags(struct td_http *http, const char *method, const char *pattern,
                        unsigned flags, td_http_handler_fn fn, void *arg)
{
    return td_router_add(&http->router, method, pattern, flags, fn, arg);
}

int td_http_routes_dump(const struct td_http *http, struct td_buf *out)
{
    for (const struct td_route *rt = http->router.head; rt; rt = rt->next)
        if (td_buf_printf(out, "%s %s\n", rt->method, rt->pattern))
            return -ENOMEM;
    return 0;
}

static void free_server(struct td_http *http)
{
    td_router_free(&http->router);
    td_http_reqs_free(http->free_reqs);
    td_http_done_cb done = http->close_done;
    void *arg = http->close_arg;
    free(http);
    if (done)
        done(arg);
}

void td_http_check_drained(struct td_http *http)
{
    if (http->nconns > 0 || http->listener_open)
        return;
    if (http->draining && http->drain_done) {
        td_http_done_cb done = http->drain_done;
        http->drain_done = NULL;
        done(http->drain_arg);
    }
    if (http->closing)
        free_server(http);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct td_http *http = h->data;
    http->listener_open = 0;
    td_http_check_drained(http);
}

static void close_listener(struct td_http *http)
{
    if (http->listener_open && !uv_is_closing((uv_handle_t *)&http->listener))
        uv_close((uv_handle_t *)&http->listener, on_listener_closed);
}

void td_http_drain(struct td_http *http, td_http_done_cb done, void *arg)
{
    http->draining = 1;
    http->drain_done = done;
    http->drain_arg = arg;
    close_listener(http);
    td_http_conns_drain(http);
    td_http_check_drained(http);
}

void td_http_close(struct td_http *http, td_http_done_cb done, void *arg)
{
    http->closing = 1;
    http->draining = 1;
    http->drain_done = NULL;
    http->close_done = done;
    http->close_arg = arg;
    close_listener(http);
    td_http_conns_close(http);
    td_http_check_drained(http);
}

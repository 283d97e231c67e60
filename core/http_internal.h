/* Shared between core/http.c (connections), core/http_router.c and core/http_response.c.
 * Nothing outside core/http*.c includes this. */
#ifndef TD_HTTP_INTERNAL_H
#define TD_HTTP_INTERNAL_H
#include <stdint.h>
#include <llhttp.h>
#include "core/http.h"

#define TD_HTTP_MAX_PARAMS 8
#define TD_HTTP_STATUS_CACHE 8

/* ---- router ---- */
struct td_route {
    char              *method;
    char              *pattern;
    char             **segs;        /* "tasks", "{id}" */
    int                nsegs;
    td_http_handler_fn fn;
    void              *arg;
    /* metrics series cached per status so the hot path does no label formatting */
    struct td_metric_series *latency;
    struct { int status; struct td_metric_series *count; } by_status[TD_HTTP_STATUS_CACHE];
    struct td_route   *next;
};

struct td_router {
    struct td_route *head, *tail;
};

struct td_http_param {
    const char *name;   /* points into the route pattern */
    char       *value;  /* decoded, in the request's arena */
};

int  td_router_add(struct td_router *r, const char *method, const char *pattern,
                   td_http_handler_fn fn, void *arg);
void td_router_free(struct td_router *r);
/* Finds the route for method + path. On a hit returns it and fills params (decoded
 * into arena). On a miss returns NULL with *status 404, 405 (allow gets the methods,
 * comma-separated) or 400 (bad percent-encoding). HEAD matches GET routes. */
const struct td_route *td_router_match(const struct td_router *r, const char *method,
                                       const char *path, struct td_buf *arena,
                                       struct td_http_param *params, int *nparams,
                                       char *allow, size_t allowlen, int *status);
/* Percent-decodes src[0..len) into out; -EINVAL on a bad escape or a NUL byte.
 * plus_is_space for query strings. */
int  td_http_decode(const char *src, size_t len, int plus_is_space, struct td_buf *out);

/* ---- connections and requests ---- */
struct td_http_conn;

struct td_http_hdr {
    uint32_t name_off, name_len, value_off, value_len;
    const char *name, *value;   /* set once the head is complete */
};

struct td_http_req {
    struct td_http_conn *conn;
    struct td_http_req  *next;          /* answer queue, in arrival order */
    uint64_t             start_ns;
    char                 method[24];
    int                  is_head;
    int                  http10;        /* HTTP/1.0: keep-alive must be said explicitly */
    int                  keep_alive;
    struct td_buf        head;          /* url and header bytes, NUL-separated */
    uint32_t             url_off;
    const char          *path, *query;  /* into path_buf */
    struct td_buf        path_buf;
    struct td_http_hdr  *hdrs;
    int                  nhdrs, hdrs_cap;
    struct td_buf        body;
    struct td_buf        arena;         /* decoded params live here (offsets) */
    struct td_http_param params[TD_HTTP_MAX_PARAMS];
    int                  nparams;
    char               **decoded_query; /* lazily built name/value pairs */
    int                  nquery;
    const struct td_route *route;
    void                *user;
    char                 request_id[72];
    struct td_trace      trace;
    struct td_log_ctx    log_ctx;
    /* answer */
    struct td_buf        resp_headers;  /* extra header lines */
    struct td_buf        out;           /* the serialized answer */
    int                  status;
    int                  answered;
    int                  writing;
    int                  close_after;   /* Connection: close */
};

/* Builds req->out from status, headers, body (http_response.c). */
int  td_http_serialize(struct td_http_req *req, int status, const char *content_type,
                       const char *body, size_t len, int keep_alive, const char *date);
/* Called by the response path once req->out is ready (http.c). */
void td_http_conn_answered(struct td_http_req *req);
/* Whether the answer may keep the connection open (not when draining) (http.c). */
int  td_http_conn_keep_alive(const struct td_http_req *req);
/* Cached IMF-fixdate for the Date header (http.c). */
const char *td_http_date(struct td_http_conn *conn);

#endif

/* Shared between the files of the HTTP server: core/http.c (server set-up, dispatch,
 * metrics and access log), core/http_conn.c (connections and parsing),
 * core/http_request.c (request accessors), core/http_router.c and core/http_response.c.
 * Nothing outside core/http*.c includes this. */
#ifndef TD_HTTP_INTERNAL_H
#define TD_HTTP_INTERNAL_H
#include <stdint.h>
#include <time.h>
#include <llhttp.h>
#include "core/http.h"
#include "core/http_cors.h"

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
    unsigned           flags;       /* TD_ROUTE_*; opaque beyond those */
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
                   unsigned flags, td_http_handler_fn fn, void *arg);
void td_router_free(struct td_router *r);
/* Finds the route for method + path. On a hit returns it and fills params (decoded
 * into arena). On a miss returns NULL with *status 404, 405 (allow gets the methods,
 * comma-separated) or 400 (bad percent-encoding). HEAD matches GET routes. */
const struct td_route *td_router_match(const struct td_router *r, const char *method,
                                       const char *path, struct td_buf *arena,
                                       struct td_http_param *params, int *nparams,
                                       char *allow, size_t allowlen, int *status);
/* Every method some route for path allows, comma-separated in registration order, each
 * once (for CORS preflights). Returns the number of routes matching path (0: none). */
int  td_router_methods(const struct td_router *r, const char *path, char *out, size_t outlen);
/* Percent-decodes src[0..len) into out; -EINVAL on a bad escape or a NUL byte.
 * plus_is_space for query strings. */
int  td_http_decode(const char *src, size_t len, int plus_is_space, struct td_buf *out);

/* ---- server (http.c) ---- */
#define TD_HTTP_READ_BUF_SIZE 65536

struct td_http_conn;

struct td_http {
    uv_loop_t           *loop;
    struct td_http_opts  opts;
    char                 host[256];
    uv_tcp_t             listener;
    int                  listener_open;
    int                  port;
    struct td_router     router;
    struct td_route      unmatched;      /* metrics bucket for 404/405/400 */
    struct td_http_conn *conns;
    int                  nconns;
    int                  draining;
    td_http_done_cb      drain_done;
    void                *drain_arg;
    int                  closing;
    td_http_done_cb      close_done;
    void                *close_arg;
    llhttp_settings_t    settings;
    char                 readbuf[TD_HTTP_READ_BUF_SIZE];
    time_t               date_sec;
    char                 date[40];
    struct td_http_req  *free_reqs;
    int                  nfree_reqs;
    struct td_metric_series *open_conns, *conns_total;
};

/* Routes a complete request to its handler, or answers 404/405/400 itself. */
void td_http_dispatch(struct td_http *http, struct td_http_req *req);
/* Metrics and the access log line for an answered request. */
void td_http_observe(struct td_http *http, struct td_http_req *req, double seconds);
/* Calls the drain/close callbacks once no connection and no listener is left. */
void td_http_check_drained(struct td_http *http);

/* ---- connections and requests ---- */

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
    char                 principal[129]; /* who made it (the /api door), "" when unknown */
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
    /* CORS (http_cors.c), set once the headers are in */
    const struct td_cors *cors;         /* the server's, when CORS is on */
    const char          *cors_origin;   /* Access-Control-Allow-Origin value, or NULL */
    int                  preflight;     /* answered as a CORS preflight */
    int                  upgrade;       /* asked for a protocol upgrade (td_http_take) */
};

/* Sets the llhttp callbacks (http_conn.c). */
/* A connection (http_conn.c owns it; http_parse.c fills in its current request). */
enum timer_mode { TIMER_OFF, TIMER_IDLE, TIMER_REQUEST, TIMER_LINGER };

struct td_http_conn {
    uv_tcp_t             tcp;
    uv_timer_t           timer;
    struct td_http      *http;
    llhttp_t             parser;
    struct td_http_req  *cur;            /* request being received */
    struct td_http_req  *q_head, *q_tail;/* received, answered or not, in order */
    int                  queued;
    int                  refs;           /* open handles + live requests */
    int                  closing;        /* handles closing or closed */
    int                  lingering;      /* shut down for writing, discarding input */
    int                  stop_parsing;   /* a fatal answer is queued; ignore input */
    int                  reading;
    int                  write_pending;
    enum timer_mode      timer_mode;
    int                  hstate;         /* 0 between headers, 1 in a name, 2 in a value */
    int                  holding;        /* an upgrade request waits: read nothing more */
    struct td_http_req  *upgrade_req;    /* complete, dispatched once the parser paused */
    struct td_buf        rest;           /* bytes read after an upgrade request */
    struct td_http_conn *prev, *next;
};

/* For the parser (http_parse.c), from the connection (http_conn.c). */
struct td_http_req *td_http_req_new(struct td_http_conn *conn);
void td_http_conn_enqueue(struct td_http_conn *conn, struct td_http_req *req);
/* Answers with a problem and stops reading requests from this connection. */
void td_http_conn_fail(struct td_http_conn *conn, int status, const char *slug,
                       const char *title, const char *detail);
void td_http_conn_on_timer(uv_timer_t *t);
void td_http_parser_settings(llhttp_settings_t *settings);
/* uv_connection_cb of the listener: accepts and starts reading (http_conn.c). */
void td_http_conn_accept(uv_stream_t *listener, int status);
/* Drain: idle connections close now, busy ones after their answer (http_conn.c). */
void td_http_conns_drain(struct td_http *http);
/* Closes every connection now (http_conn.c). */
void td_http_conns_close(struct td_http *http);
/* Frees a list of requests linked by next (http_conn.c). */
void td_http_reqs_free(struct td_http_req *list);
/* The connection's socket, or NULL once the connection is closing (http_conn.c). */
const uv_tcp_t *td_http_conn_socket(const struct td_http_conn *conn);
/* Request id (X-Request-ID or a new one) and trace context (traceparent or a new trace),
 * once per request (http_request.c). */
void td_http_req_assign_ids(struct td_http_req *req);

/* ---- CORS (http_cors.c) ---- */
/* Answers a preflight for a path whose routes allow methods: 204 with the CORS headers,
 * or 403 without any when the Origin is not allowed. */
void   td_cors_preflight(struct td_http_req *req, const char *methods);
/* Bytes td_cors_write may add to the head (for the writer's reservation). */
size_t td_cors_head_bytes(const struct td_http_req *req);
/* Appends the CORS header lines of the answer to req (none when CORS is off). */
void   td_cors_write(const struct td_http_req *req, struct td_buf *out);

/* Builds req->out from status, headers, body (http_response.c). */
int  td_http_serialize(struct td_http_req *req, int status, const char *content_type,
                       const char *body, size_t len, int keep_alive, const char *date);
/* Called by the response path once req->out is ready (http_conn.c). */
void td_http_conn_answered(struct td_http_req *req);
/* Whether the answer may keep the connection open (not when draining) (http_conn.c). */
int  td_http_conn_keep_alive(const struct td_http_req *req);
/* Cached IMF-fixdate for the Date header (http_conn.c). */
const char *td_http_date(struct td_http_conn *conn);

#endif

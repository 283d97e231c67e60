/* HTTP/1.1 server on libuv + llhttp: keep-alive, pipelining answered in order, a router
 * with path parameters, limits (431/413/408), request ids, traceparent, access logs,
 * per-route metrics and optional CORS (core/http_cors.h). Handlers may answer later
 * (after a database round trip); a request stays valid until td_http_respond* is called
 * exactly once for it. */
#ifndef TD_HTTP_H
#define TD_HTTP_H
#include <stdarg.h>
#include <stddef.h>
#include <uv.h>
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/trace.h"

struct td_http;
struct td_http_req;
struct td_cors;   /* core/http_cors.h */

typedef void (*td_http_handler_fn)(struct td_http_req *req, void *arg);
typedef void (*td_http_done_cb)(void *arg);

struct td_http_opts {
    const char        *host;
    int                port;              /* 0: the kernel picks one (see td_http_port) */
    size_t             max_header_bytes;
    int                max_headers;
    size_t             max_body_bytes;
    int                request_timeout_ms;
    int                idle_timeout_ms;
    int                max_connections;
    struct td_log     *log;               /* not owned */
    struct td_metrics *metrics;           /* not owned; may be NULL */
    const struct td_cors *cors;           /* not owned; NULL: CORS off */
};

int  td_http_new(uv_loop_t *loop, const struct td_http_opts *opts, struct td_http **out);
/* Binds and listens. Returns 0 or a negative uv/errno code (e.g. -EADDRINUSE). */
int  td_http_listen(struct td_http *http);
int  td_http_port(const struct td_http *http);
/* pattern: "/api/tasks/{id}"; {name} matches one path segment. method: "GET", ...
 * td_http_route is td_http_route_flags with flags 0. */
int  td_http_route(struct td_http *http, const char *method, const char *pattern,
                   td_http_handler_fn fn, void *arg);
/* Route flags. Bit 0 is the server's; bits 1..7 are reserved for core's /api front door.
 * The value is stored as given and read back with td_http_req_route_flags. */
#define TD_ROUTE_QUIET (1u << 0)   /* probes: the access line is logged at debug, not info */
int  td_http_route_flags(struct td_http *http, const char *method, const char *pattern,
                         unsigned flags, td_http_handler_fn fn, void *arg);
/* Graceful: stop accepting, close idle connections, let in-flight requests finish and
 * close their connections after the answer; done runs when none is left. */
void td_http_drain(struct td_http *http, td_http_done_cb done, void *arg);
/* Closes every handle now (after drain, or when the drain deadline passed); done runs
 * when all are closed, then http is freed. */
void td_http_close(struct td_http *http, td_http_done_cb done, void *arg);
int  td_http_open_connections(const struct td_http *http);
/* Every route registered so far, "METHOD PATTERN" per line (for the OpenAPI check). */
int  td_http_routes_dump(const struct td_http *http, struct td_buf *out);

/* Request: everything is valid until the answer is sent. Strings are NUL-terminated. */
const char *td_http_method(const struct td_http_req *req);
const char *td_http_path(const struct td_http_req *req);      /* raw path, no query */
const char *td_http_query(const struct td_http_req *req);     /* raw query, "" if none */
const char *td_http_route_pattern(const struct td_http_req *req);
/* The flags of the matched route; 0 when no route matched. */
unsigned    td_http_req_route_flags(const struct td_http_req *req);
const char *td_http_header(const struct td_http_req *req, const char *name);  /* or NULL */
const char *td_http_param(const struct td_http_req *req, const char *name);   /* decoded */
const char *td_http_body(const struct td_http_req *req, size_t *len);
const struct td_log_ctx *td_http_log_ctx(const struct td_http_req *req);
const struct td_trace   *td_http_trace(const struct td_http_req *req);
const char *td_http_request_id(const struct td_http_req *req);
/* Decoded value of the n-th (from 0) query parameter called name, or NULL. The string
 * lives as long as the request. */
const char *td_http_query_param(struct td_http_req *req, const char *name, int n);
/* Who made the request (set by the /api door), copied into the request so it stays
 * valid until the answer: -ENAMETOOLONG past 128 bytes. NULL clears it. */
int         td_http_set_principal(struct td_http_req *req, const char *who);
const char *td_http_principal(const struct td_http_req *req);   /* NULL when unknown */
/* The client's address ("127.0.0.1", "::1"); "unknown" when it cannot be read. */
void  td_http_peer(const struct td_http_req *req, char *out, size_t len);
/* 1 when the client went away; the handler should still answer (it is discarded). */
int   td_http_client_gone(const struct td_http_req *req);

/* Answer. Headers added before respond. The body is copied. */
int  td_http_add_header(struct td_http_req *req, const char *name, const char *value);
void td_http_respond(struct td_http_req *req, int status, const char *content_type,
                     const char *body, size_t len);
/* Takes the buffer's bytes (the buffer is left empty). */
void td_http_respond_buf(struct td_http_req *req, int status, const char *content_type,
                         struct td_buf *body);
/* RFC 9457 problem+json. slug gives the stable type ".../problems/<slug>". detail may be
 * NULL. extra_json: NULL or members without braces, e.g. "\"errors\":[...]". */
void td_http_problem(struct td_http_req *req, int status, const char *slug, const char *title,
                     const char *detail, const char *extra_json);
/* The stable problem type URI prefix. */
#define TD_PROBLEM_BASE "https://todod.dev/problems/"

const char *td_http_status_text(int status);

/* Protocol upgrades (RFC 9110 7.8). A request with Connection: upgrade goes to its
 * handler like any other, but alone: nothing after it on the connection is read until it
 * is answered. Answered normally, the connection closes after the answer. td_http_take
 * instead ends the request (logged as 101) and gives the caller the socket: a new
 * descriptor it owns (non-blocking, close-on-exec), plus the bytes the client sent after
 * the request, appended to rest. The caller writes the 101 itself. -EINVAL when req asked
 * for no upgrade or was answered, -EBUSY while earlier answers of the connection are still
 * being written, -ECONNRESET when the client left. */
int td_http_req_is_upgrade(const struct td_http_req *req);
int td_http_take(struct td_http_req *req, uv_os_sock_t *fd, struct td_buf *rest);

#endif

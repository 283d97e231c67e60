/* Request accessors: method, path, query (decoded lazily), headers, path parameters,
 * body, ids and trace context, the peer; valid until the request is answered. */
#include "core/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *td_http_method(const struct td_http_req *req) { return req->method; }
const char *td_http_path(const struct td_http_req *req) { return req->path ? req->path : ""; }
const char *td_http_query(const struct td_http_req *req) { return req->query ? req->query : ""; }
const struct td_log_ctx *td_http_log_ctx(const struct td_http_req *req) { return &req->log_ctx; }
const struct td_trace *td_http_trace(const struct td_http_req *req) { return &req->trace; }
const char *td_http_request_id(const struct td_http_req *req) { return req->request_id; }
int td_http_req_is_upgrade(const struct td_http_req *req)
{
    return req->upgrade;
}

int td_http_set_principal(struct td_http_req *req, const char *who)
{
    size_t n = who ? strlen(who) : 0;
    if (n >= sizeof req->principal)
        return -ENAMETOOLONG;
    memcpy(req->principal, who ? who : "", n + 1);
    return 0;
}

const char *td_http_principal(const struct td_http_req *req)
{
    return req->principal[0] ? req->principal : NULL;
}

int td_http_client_gone(const struct td_http_req *req)
{
    return td_http_conn_socket(req->conn) == NULL;
}

void td_http_peer(const struct td_http_req *req, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int n = sizeof ss;
    const uv_tcp_t *tcp = td_http_conn_socket(req->conn);
    snprintf(out, len, "unknown");
    if (!tcp || uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &n))
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, out, len);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, len);
}

const char *td_http_route_pattern(const struct td_http_req *req)
{
    return req->route ? req->route->pattern : NULL;
}

unsigned td_http_req_route_flags(const struct td_http_req *req)
{
    return req->route ? req->route->flags : 0;
}

const char *td_http_header(const struct td_http_req *req, const char *name)
{
    for (int i = 0; i < req->nhdrs; i++)
        if (req->hdrs[i].name && strcasecmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    return NULL;
}

const char *td_http_param(const struct td_http_req *req, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < req->nparams; i++) {
        const char *p = req->params[i].name;   /* "{id}" */
        if (strlen(p) == len + 2 && memcmp(p + 1, name, len) == 0)
            return req->params[i].value;
    }
    return NULL;
}

const char *td_http_body(const struct td_http_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

/* Decodes the whole query once into name/value pairs living in req->arena's tail. */
static int decode_query(struct td_http_req *req)
{
    const char *q = td_http_query(req);
    int pairs = *q ? 1 : 0;
    for (const char *p = q; *p; p++)
        pairs += *p == '&';
    size_t *offs = calloc((size_t)pairs * 2 + 1, sizeof *offs);
    if (!offs)
        return -ENOMEM;
    struct td_buf *a = &req->arena;
    const char *old_base = a->data;
    int n = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (len) {
            size_t mark = a->len;
            offs[2 * n] = a->len;
            int bad = td_http_decode(q, klen, 1, a);
            offs[2 * n + 1] = a->len;
            if (!bad)
                bad = td_http_decode(eq ? eq + 1 : q + len, eq ? len - klen - 1 : 0, 1, a);
            if (!bad)
                n++;
            else if (a->data) {
                a->len = mark;   /* a malformed pair is skipped; the rest still count */
                a->data[mark] = '\0';
            }
        }
        q += len + (amp ? 1 : 0);
    }
    req->decoded_query = calloc((size_t)n * 2 + 1, sizeof *req->decoded_query);
    if (!req->decoded_query) {
        free(offs);
        return -ENOMEM;
    }
    /* The arena may have moved while growing: rebind the path parameters living in it. */
    for (int i = 0; i < req->nparams && old_base; i++)
        req->params[i].value = a->data + (req->params[i].value - old_base);
    for (int i = 0; i < 2 * n; i++)
        req->decoded_query[i] = a->data + offs[i];
    req->nquery = n;
    free(offs);
    return 0;
}

const char *td_http_query_param(struct td_http_req *req, const char *name, int nth)
{
    if (!req->decoded_query && decode_query(req) != 0)
        return NULL;
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->decoded_query[2 * i], name) == 0 && nth-- == 0)
            return req->decoded_query[2 * i + 1];
    return NULL;
}

/* A caller's X-Request-ID goes into logs and headers: a safe alphabet and length only. */
static int valid_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0 && n < 64;
}

void td_http_req_assign_ids(struct td_http_req *req)
{
    if (req->request_id[0])
        return;
    const char *rid = td_http_header(req, "x-request-id");
    if (rid && valid_request_id(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        td_random_hex(req->request_id, 16);
    const char *tp = td_http_header(req, "traceparent");
    if (!tp || td_trace_from_header(tp, strlen(tp), &req->trace) != 0)
        td_trace_new(&req->trace);
    req->log_ctx.request_id = req->request_id;
    req->log_ctx.trace_id = req->trace.trace_id;
    req->log_ctx.span_id = req->trace.span_id;
}

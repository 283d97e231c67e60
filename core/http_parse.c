/* Parsing with llhttp: the callbacks that build a request (line and headers within one
 * byte budget, body within its limit), the framing checks, and the hand-off of a complete
 * request to its connection's queue and the server's dispatch. */
#include "core/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct td_http_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

/* Request line and headers share one byte budget. */
static int head_append(struct td_http_conn *conn, const char *at, size_t len, int in_url)
{
    struct td_http_req *req = conn->cur;
    if (req->head.len + len > conn->http->opts.max_header_bytes) {
        if (in_url)
            td_http_conn_fail(conn, 414, "uri-too-long", "URI Too Long", "the request target is too long");
        else
            td_http_conn_fail(conn, 431, "headers-too-large", "Request Header Fields Too Large",
                      "the request headers are larger than the server accepts");
        return -1;
    }
    return td_buf_append(&req->head, at, len) ? -1 : 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct td_http_conn *conn = conn_of(p);
    if (conn->stop_parsing || conn->closing)
        return -1;
    conn->cur = td_http_req_new(conn);
    if (!conn->cur)
        return -1;
    conn->hstate = 0;
    conn->timer_mode = TIMER_REQUEST;   /* the whole request must arrive by this deadline */
    uv_timer_start(&conn->timer, td_http_conn_on_timer, (uint64_t)conn->http->opts.request_timeout_ms, 0);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return head_append(conn_of(p), at, len, 1);
}

static int on_url_complete(llhttp_t *p)
{
    return head_append(conn_of(p), "", 1, 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct td_http_conn *conn = conn_of(p);
    struct td_http_req *req = conn->cur;
    if (conn->hstate != 1) {
        if (req->nhdrs >= conn->http->opts.max_headers) {
            td_http_conn_fail(conn, 431, "too-many-headers", "Request Header Fields Too Large",
                      "the request has more header fields than the server accepts");
            return -1;
        }
        if (req->nhdrs == req->hdrs_cap) {
            int cap = req->hdrs_cap ? req->hdrs_cap * 2 : 16;
            struct td_http_hdr *h = realloc(req->hdrs, (size_t)cap * sizeof *h);
            if (!h)
                return -1;
            req->hdrs = h;
            req->hdrs_cap = cap;
        }
        memset(&req->hdrs[req->nhdrs], 0, sizeof req->hdrs[0]);
        req->hdrs[req->nhdrs].name_off = (uint32_t)req->head.len;
        conn->hstate = 1;
    }
    return head_append(conn, at, len, 0);
}

static int on_header_field_complete(llhttp_t *p)
{
    return head_append(conn_of(p), "", 1, 0);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct td_http_conn *conn = conn_of(p);
    if (conn->hstate != 2) {
        conn->cur->hdrs[conn->cur->nhdrs].value_off = (uint32_t)conn->cur->head.len;
        conn->hstate = 2;
    }
    return head_append(conn, at, len, 0);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct td_http_conn *conn = conn_of(p);
    struct td_http_req *req = conn->cur;
    if (conn->hstate != 2)   /* empty value: no on_header_value call */
        req->hdrs[req->nhdrs].value_off = (uint32_t)req->head.len;
    conn->hstate = 0;
    req->nhdrs++;
    return head_append(conn, "", 1, 0);
}

/* Pointers into head are taken only now: head no longer grows. */
static void resolve_headers(struct td_http_req *req)
{
    for (int i = 0; i < req->nhdrs; i++) {
        struct td_http_hdr *h = &req->hdrs[i];
        h->name = req->head.data + h->name_off;
        char *v = req->head.data + h->value_off;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = '\0';
        h->value = v;
    }
}

/* Splits the target into path and query; absolute-form targets keep their path. */
static int split_target(struct td_http_req *req)
{
    const char *url = req->head.data + req->url_off;
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
        const char *slash = strchr(url + 8, '/');
        url = slash ? slash : "/";
    }
    if (url[0] != '/' && strcmp(url, "*") != 0)
        return -EINVAL;
    td_buf_reset(&req->path_buf);
    if (td_buf_append(&req->path_buf, url, strlen(url) + 1))
        return -ENOMEM;
    char *q = strchr(req->path_buf.data, '?');
    if (q)
        *q++ = '\0';
    char *frag = strchr(q ? q : req->path_buf.data, '#');
    if (frag)
        *frag = '\0';
    req->path = req->path_buf.data;
    req->query = q ? q : "";
    return 0;
}

static void send_continue(struct td_http_conn *conn)
{
    /* Only when no earlier answer is pending: a 100 must not jump the queue. */
    if (conn->queued)
        return;
    uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
    uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
}

static int on_headers_complete(llhttp_t *p)
{
    struct td_http_conn *conn = conn_of(p);
    struct td_http_req *req = conn->cur;
    resolve_headers(req);
    if ((req->cors = conn->http->opts.cors))
        req->cors_origin = td_cors_allow_origin(req->cors, td_http_header(req, "origin"));
    snprintf(req->method, sizeof req->method, "%s", llhttp_method_name((llhttp_method_t)p->method));
    req->is_head = p->method == HTTP_HEAD;
    td_http_req_assign_ids(req);
    if (p->http_major != 1) {
        /* llhttp takes a request line without a version as HTTP/0.9; we speak only 1.x. */
        td_http_conn_fail(conn, 400, "malformed-request", "Bad Request",
                  "the request line must end with HTTP/1.0 or HTTP/1.1");
        return -1;
    }
    if (p->http_minor == 0 && td_http_header(req, "transfer-encoding")) {
        /* RFC 9112 6.1: HTTP/1.0 has no transfer codings, so the framing is faulty. */
        td_http_conn_fail(conn, 400, "malformed-request", "Bad Request",
                  "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        return -1;
    }
    if (split_target(req) != 0) {
        td_http_conn_fail(conn, 400, "bad-request-target", "Bad Request",
                  "the request target must be an absolute path");
        return -1;
    }
    if (td_http_header(req, "content-length") && p->content_length > conn->http->opts.max_body_bytes) {
        td_http_conn_fail(conn, 413, "body-too-large", "Content Too Large",
                  "the request body is larger than the server accepts");
        return -1;
    }
    const char *expect = td_http_header(req, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        send_continue(conn);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct td_http_conn *conn = conn_of(p);
    struct td_http_req *req = conn->cur;
    if (req->body.len + len > conn->http->opts.max_body_bytes) {
        td_http_conn_fail(conn, 413, "body-too-large", "Content Too Large",
                  "the request body is larger than the server accepts");
        return -1;
    }
    return td_buf_append(&req->body, at, len) ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct td_http_conn *conn = conn_of(p);
    struct td_http_req *req = conn->cur;
    conn->cur = NULL;
    req->keep_alive = llhttp_should_keep_alive(p);
    req->http10 = p->http_major == 1 && p->http_minor == 0;
    if (p->upgrade) {
        /* The handler may take the connection (td_http_take); if it answers instead, the
         * connection closes after the answer. Dispatched by on_read once llhttp paused,
         * when the bytes after the request are known. */
        req->upgrade = 1;
        req->close_after = 1;
    }
    if (!req->keep_alive || req->close_after)
        conn->stop_parsing = 1; /* nothing after a closing request is read */
    conn->timer_mode = TIMER_OFF;
    uv_timer_stop(&conn->timer);
    td_http_conn_enqueue(conn, req);
    if (req->upgrade) {
        conn->upgrade_req = req;
        return 0;
    }
    td_http_dispatch(conn->http, req);
    return conn->closing ? -1 : 0;
}

void td_http_parser_settings(llhttp_settings_t *s)
{
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_url_complete = on_url_complete;
    s->on_header_field = on_header_field;
    s->on_header_field_complete = on_header_field_complete;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}

/* Connections: accept, parse with llhttp, hand complete requests to the server's
 * dispatch, answer in order, enforce limits and timeouts, keep-alive, linger, drain. */
#include "core/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_PIPELINED     64     /* stop reading while this many answers are pending */
#define WRITE_BATCH       32     /* answers gathered into one write */
#define LINGER_MS         2000   /* after the last answer, read and discard before closing */
#define REQ_FREELIST_MAX  256

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
    struct td_http_conn *prev, *next;
};

struct write_req {
    uv_write_t           w;
    struct td_http_conn *conn;
    int                  n;
    struct td_http_req  *reqs[WRITE_BATCH];
    uv_buf_t             bufs[WRITE_BATCH];
};

static void conn_close(struct td_http_conn *conn);
static void conn_flush(struct td_http_conn *conn);
static void conn_arm_timer(struct td_http_conn *conn);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_timer(uv_timer_t *t);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------- requests ---------- */

static void conn_unref(struct td_http_conn *conn)
{
    struct td_http *http = conn->http;
    if (--conn->refs > 0)
        return;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        http->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    http->nconns--;
    free(conn);
    td_http_check_drained(http);
}

static struct td_http_req *req_new(struct td_http_conn *conn)
{
    struct td_http *http = conn->http;
    struct td_http_req *req = http->free_reqs;
    if (req) {
        http->free_reqs = req->next;
        http->nfree_reqs--;
    } else {
        req = calloc(1, sizeof *req);
        if (!req)
            return NULL;
    }
    req->conn = conn;
    req->next = NULL;
    req->start_ns = now_ns();
    req->keep_alive = 1;
    conn->refs++;
    return req;
}

/* Frees a request and every buffer it owns. */
static void req_destroy(struct td_http_req *req)
{
    td_buf_free(&req->head);
    td_buf_free(&req->path_buf);
    td_buf_free(&req->body);
    td_buf_free(&req->arena);
    td_buf_free(&req->resp_headers);
    td_buf_free(&req->out);
    free(req->hdrs);
    free(req->decoded_query);
    free(req);
}

/* Keeps the buffers' memory for the next request: no allocation per request once warm. */
static void req_release(struct td_http_req *req)
{
    struct td_http_conn *conn = req->conn;
    struct td_http *http = conn->http;
    if (http->nfree_reqs >= REQ_FREELIST_MAX || http->closing ||
        req->body.cap > 256 * 1024 || req->out.cap > 256 * 1024) {
        req_destroy(req);
    } else {
        free(req->decoded_query);
        struct td_buf keep[6] = {req->head, req->path_buf, req->body, req->arena,
                                 req->resp_headers, req->out};
        struct td_http_hdr *hdrs = req->hdrs;
        int hdrs_cap = req->hdrs_cap;
        memset(req, 0, sizeof *req);
        for (int i = 0; i < 6; i++)
            td_buf_reset(&keep[i]);
        req->head = keep[0];
        req->path_buf = keep[1];
        req->body = keep[2];
        req->arena = keep[3];
        req->resp_headers = keep[4];
        req->out = keep[5];
        req->hdrs = hdrs;
        req->hdrs_cap = hdrs_cap;
        req->next = http->free_reqs;
        http->free_reqs = req;
        http->nfree_reqs++;
    }
    conn_unref(conn);
}

void td_http_reqs_free(struct td_http_req *req)
{
    while (req) {
        struct td_http_req *next = req->next;
        req_destroy(req);
        req = next;
    }
}

/* ---------- answering ---------- */

const char *td_http_date(struct td_http_conn *conn)
{
    struct td_http *http = conn->http;
    time_t now = time(NULL);
    if (now != http->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(http->date, sizeof http->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        http->date_sec = now;
    }
    return http->date;
}

void td_http_conn_answered(struct td_http_req *req)
{
    struct td_http_conn *conn = req->conn;
    struct td_http *http = conn->http;
    double seconds = (double)(now_ns() - req->start_ns) / 1e9;
    td_http_observe(http, req, seconds);
    if (conn->closing) {
        /* The client left while the handler worked: nothing to send. */
        req_release(req);
        return;
    }
    conn_flush(conn);
}

int td_http_conn_keep_alive(const struct td_http_req *req)
{
    return req->keep_alive && !req->close_after && !req->conn->http->draining;
}

/* ---------- writing ---------- */

static void on_shutdown(uv_shutdown_t *sd, int status)
{
    (void)status;
    free(sd);
}

static void finish_written(struct td_http_conn *conn, struct td_http_req **reqs, int n)
{
    int close_now = 0;
    for (int i = 0; i < n; i++) {
        struct td_http_req *req = reqs[i];
        if (!td_http_conn_keep_alive(req))
            close_now = 1;
        /* Written answers are always the queue's head. */
        if (conn->q_head == req) {
            conn->q_head = req->next;
            if (!conn->q_head)
                conn->q_tail = NULL;
            conn->queued--;
        }
        req_release(req);
    }
    if (close_now && !conn->closing) {
        /* Half-close and keep reading briefly: closing with unread input would send a
         * RST that can destroy the answer (a 413 or 431) before the client reads it. */
        conn->lingering = 1;
        conn->stop_parsing = 1;
        uv_shutdown_t *sd = malloc(sizeof *sd);
        if (!sd || uv_shutdown(sd, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
            free(sd);
            conn_close(conn);
            return;
        }
        conn->timer_mode = TIMER_OFF;
        conn_arm_timer(conn);
    }
}

/* Handles hold references until their close callbacks, and libuv runs write callbacks
 * before close callbacks, so a connection never disappears inside these functions. */
static void on_write(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct td_http_conn *conn = wr->conn;
    conn->write_pending = 0;
    finish_written(conn, wr->reqs, wr->n);
    free(wr);
    if (status < 0)
        conn_close(conn);
    else
        conn_flush(conn);
}

/* Queues what a direct write could not send; skip = bytes already written. */
static int write_rest(struct td_http_conn *conn, struct td_http_req **reqs, uv_buf_t *bufs,
                      int n, size_t skip)
{
    struct write_req *wr = calloc(1, sizeof *wr);
    if (!wr)
        return -ENOMEM;
    wr->conn = conn;
    wr->n = n;
    for (int i = 0; i < n; i++) {
        size_t cut = skip < bufs[i].len ? skip : bufs[i].len;
        skip -= cut;
        reqs[i]->writing = 1;
        wr->reqs[i] = reqs[i];
        wr->bufs[i] = uv_buf_init(bufs[i].base + cut, (unsigned)(bufs[i].len - cut));
    }
    int rc = uv_write(&wr->w, (uv_stream_t *)&conn->tcp, wr->bufs, (unsigned)n, on_write);
    if (rc) {
        free(wr);
        return rc;
    }
    conn->write_pending = 1;
    return 0;
}

static void conn_flush(struct td_http_conn *conn)
{
    while (!conn->closing && !conn->lingering && !conn->write_pending) {
        struct td_http_req *reqs[WRITE_BATCH];
        uv_buf_t bufs[WRITE_BATCH];
        int n = 0;
        size_t total = 0;
        for (struct td_http_req *r = conn->q_head; r && r->answered && n < WRITE_BATCH;
             r = r->next) {
            reqs[n] = r;
            bufs[n] = uv_buf_init(r->out.data, (unsigned)r->out.len);
            total += r->out.len;
            n++;
            if (!td_http_conn_keep_alive(r))
                break;   /* nothing after a closing answer is sent */
        }
        if (n == 0)
            break;
        /* Most answers fit the socket buffer: try a direct write first, no callback. */
        int written = uv_try_write((uv_stream_t *)&conn->tcp, bufs, (unsigned)n);
        if (written == (int)total) {
            finish_written(conn, reqs, n);
            continue;
        }
        if ((written < 0 && written != UV_EAGAIN) ||
            write_rest(conn, reqs, bufs, n, written > 0 ? (size_t)written : 0) != 0) {
            conn_close(conn);
            return;
        }
    }
    conn_arm_timer(conn);
}

/* ---------- connection lifetime ---------- */

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void conn_close(struct td_http_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = 1;
    if (conn->cur) {
        req_release(conn->cur);   /* never dispatched: nobody else holds it */
        conn->cur = NULL;
    }
    /* Answered requests go now; ones being written go in on_write (ECANCELED); ones
     * still with their handler are released when the handler answers. */
    struct td_http_req *r = conn->q_head;
    conn->q_head = conn->q_tail = NULL;
    conn->queued = 0;
    while (r) {
        struct td_http_req *next = r->next;
        r->next = NULL;
        if (r->answered && !r->writing)
            req_release(r);
        r = next;
    }
    td_metric_add(conn->http->open_conns, -1);
    uv_close((uv_handle_t *)&conn->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_handle_closed);
}

static void enqueue(struct td_http_conn *conn, struct td_http_req *req)
{
    req->next = NULL;
    if (conn->q_tail)
        conn->q_tail->next = req;
    else
        conn->q_head = req;
    conn->q_tail = req;
    conn->queued++;
}

/* Answers with a problem and stops reading requests from this connection. */
static void conn_fail(struct td_http_conn *conn, int status, const char *slug, const char *title,
                      const char *detail)
{
    struct td_http_req *req = conn->cur;
    conn->cur = NULL;
    conn->stop_parsing = 1;
    if (!req && !(req = req_new(conn))) {
        conn_close(conn);
        return;
    }
    if (!req->method[0])
        snprintf(req->method, sizeof req->method, "%s", "-");
    td_http_req_assign_ids(req);
    req->keep_alive = 0;
    req->close_after = 1;
    enqueue(conn, req);
    td_http_problem(req, status, slug, title, detail, NULL);
}

static void conn_arm_timer(struct td_http_conn *conn)
{
    struct td_http *http = conn->http;
    if (conn->closing)
        return;
    if (!conn->lingering && !conn->stop_parsing) {
        /* Pipelining back-pressure: stop reading while many answers are pending. */
        if (conn->reading && conn->queued >= MAX_PIPELINED) {
            uv_read_stop((uv_stream_t *)&conn->tcp);
            conn->reading = 0;
        }
    }
    if (!conn->reading && conn->queued < MAX_PIPELINED / 2 && !conn->closing) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0)
            conn->reading = 1;
    }
    enum timer_mode want;
    uint64_t ms = 0;
    if (conn->lingering) {
        want = TIMER_LINGER;
        ms = LINGER_MS;
    } else if (conn->cur) {
        want = TIMER_REQUEST;
        ms = (uint64_t)http->opts.request_timeout_ms;
    } else if (conn->queued) {
        want = TIMER_OFF;
    } else if (http->draining || conn->stop_parsing) {
        conn_close(conn);
        return;
    } else {
        want = TIMER_IDLE;
        ms = (uint64_t)http->opts.idle_timeout_ms;
    }
    if (want == conn->timer_mode)
        return;   /* a running request timer keeps its deadline */
    conn->timer_mode = want;
    if (want == TIMER_OFF)
        uv_timer_stop(&conn->timer);
    else
        uv_timer_start(&conn->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct td_http_conn *conn = t->data;
    enum timer_mode mode = conn->timer_mode;
    conn->timer_mode = TIMER_OFF;
    if (mode == TIMER_REQUEST && conn->cur) {
        conn_fail(conn, 408, "request-timeout", "Request Timeout",
                  "the request did not arrive whole in time");
        return;
    }
    conn_close(conn);   /* idle keep-alive, or the linger after a closing answer */
}

/* ---------- parsing ---------- */

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
            conn_fail(conn, 414, "uri-too-long", "URI Too Long", "the request target is too long");
        else
            conn_fail(conn, 431, "headers-too-large", "Request Header Fields Too Large",
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
    conn->cur = req_new(conn);
    if (!conn->cur)
        return -1;
    conn->hstate = 0;
    conn->timer_mode = TIMER_REQUEST;   /* the whole request must arrive by this deadline */
    uv_timer_start(&conn->timer, on_timer, (uint64_t)conn->http->opts.request_timeout_ms, 0);
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
            conn_fail(conn, 431, "too-many-headers", "Request Header Fields Too Large",
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
        conn_fail(conn, 400, "malformed-request", "Bad Request",
                  "the request line must end with HTTP/1.0 or HTTP/1.1");
        return -1;
    }
    if (p->http_minor == 0 && td_http_header(req, "transfer-encoding")) {
        /* RFC 9112 6.1: HTTP/1.0 has no transfer codings, so the framing is faulty. */
        conn_fail(conn, 400, "malformed-request", "Bad Request",
                  "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        return -1;
    }
    if (split_target(req) != 0) {
        conn_fail(conn, 400, "bad-request-target", "Bad Request",
                  "the request target must be an absolute path");
        return -1;
    }
    if (td_http_header(req, "content-length") && p->content_length > conn->http->opts.max_body_bytes) {
        conn_fail(conn, 413, "body-too-large", "Content Too Large",
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
        conn_fail(conn, 413, "body-too-large", "Content Too Large",
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
    if (p->upgrade)
        req->close_after = 1;   /* no protocol upgrades on this server (yet) */
    if (!req->keep_alive || req->close_after)
        conn->stop_parsing = 1; /* nothing after a closing request is read */
    conn->timer_mode = TIMER_OFF;
    uv_timer_stop(&conn->timer);
    enqueue(conn, req);
    td_http_dispatch(conn->http, req);
    return conn->closing ? -1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct td_http_conn *conn = h->data;
    (void)suggested;
    /* Input is parsed before the next read, so one buffer serves every connection. */
    *buf = uv_buf_init(conn->http->readbuf, TD_HTTP_READ_BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct td_http_conn *conn = s->data;
    if (nread < 0) {
        conn_close(conn);   /* EOF or reset: a half-closed client gets no answers either */
        return;
    }
    if (nread == 0 || conn->lingering || conn->stop_parsing)
        return;             /* lingering: input is read only to be dropped */
    llhttp_errno_t err = llhttp_execute(&conn->parser, buf->base, (size_t)nread);
    if (conn->closing)
        return;
    if (err == HPE_PAUSED_UPGRADE)
        conn->stop_parsing = 1;
    else if (err != HPE_OK && !conn->stop_parsing)
        conn_fail(conn, 400, "malformed-request", "Bad Request",
                  llhttp_get_error_reason(&conn->parser));
    conn_arm_timer(conn);
}

/* ---------- accepting ---------- */

void td_http_conn_accept(uv_stream_t *server, int status)
{
    struct td_http *http = server->data;
    if (status < 0) {
        td_log_warn(http->opts.log, "accept failed: %s", uv_strerror(status));
        return;
    }
    struct td_http_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return;
    conn->http = http;
    uv_tcp_init(http->loop, &conn->tcp);
    uv_timer_init(http->loop, &conn->timer);
    conn->tcp.data = conn->timer.data = conn;
    conn->refs = 2;   /* the two handles */
    conn->next = http->conns;
    if (http->conns)
        http->conns->prev = conn;
    http->conns = conn;
    http->nconns++;
    td_metric_add(http->open_conns, 1);
    td_metric_add(http->conns_total, 1);
    if (uv_accept(server, (uv_stream_t *)&conn->tcp) != 0 || http->draining ||
        http->nconns > http->opts.max_connections) {
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    llhttp_init(&conn->parser, HTTP_REQUEST, &http->settings);
    conn->parser.data = conn;
    conn->reading = 1;
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
        conn_close(conn);
        return;
    }
    conn_arm_timer(conn);
}

/* ---------- for the server (http.c) ---------- */

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

void td_http_conns_drain(struct td_http *http)
{
    /* Idle connections close now; busy ones after their last answer (Connection: close). */
    for (struct td_http_conn *c = http->conns; c; c = c->next)
        conn_arm_timer(c);
}

void td_http_conns_close(struct td_http *http)
{
    for (struct td_http_conn *c = http->conns; c; c = c->next)
        conn_close(c);
}

const uv_tcp_t *td_http_conn_socket(const struct td_http_conn *conn)
{
    return conn->closing ? NULL : &conn->tcp;
}

/* Connections: accept, read into the parser (http_parse.c), answer in order, enforce
 * limits and timeouts, keep-alive, linger, drain. */
#include "core/http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_PIPELINED     64     /* stop reading while this many answers are pending */
#define WRITE_BATCH       32     /* answers gathered into one write */
#define LINGER_MS         2000   /* after the last answer, read and discard before closing */
#define REQ_FREELIST_MAX  256

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
    td_buf_free(&conn->rest);
    free(conn);
    td_http_check_drained(http);
}

struct td_http_req *td_http_req_new(struct td_http_conn *conn)
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
    if (req->upgrade)
        conn->holding = 0;   /* refused: read (and drop) again while the answer goes out */
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

void td_http_conn_enqueue(struct td_http_conn *conn, struct td_http_req *req)
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
void td_http_conn_fail(struct td_http_conn *conn, int status, const char *slug,
                       const char *title, const char *detail)
{
    struct td_http_req *req = conn->cur;
    conn->cur = NULL;
    conn->stop_parsing = 1;
    if (!req && !(req = td_http_req_new(conn))) {
        conn_close(conn);
        return;
    }
    if (!req->method[0])
        snprintf(req->method, sizeof req->method, "%s", "-");
    td_http_req_assign_ids(req);
    req->keep_alive = 0;
    req->close_after = 1;
    td_http_conn_enqueue(conn, req);
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
    if (!conn->reading && !conn->holding && conn->queued < MAX_PIPELINED / 2 && !conn->closing) {
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
        uv_timer_start(&conn->timer, td_http_conn_on_timer, ms, 0);
}

void td_http_conn_on_timer(uv_timer_t *t)
{
    struct td_http_conn *conn = t->data;
    enum timer_mode mode = conn->timer_mode;
    conn->timer_mode = TIMER_OFF;
    if (mode == TIMER_REQUEST && conn->cur) {
        td_http_conn_fail(conn, 408, "request-timeout", "Request Timeout",
                  "the request did not arrive whole in time");
        return;
    }
    conn_close(conn);   /* idle keep-alive, or the linger after a closing answer */
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
    if (err == HPE_PAUSED_UPGRADE) {
        conn->stop_parsing = 1;
        struct td_http_req *up = conn->upgrade_req;
        if (up) {
            /* Keep what came after the request for whoever takes the connection, and
             * read nothing more until the handler has decided. */
            conn->upgrade_req = NULL;
            const char *pos = llhttp_get_error_pos(&conn->parser);
            size_t used = pos && pos >= buf->base && pos <= buf->base + nread
                              ? (size_t)(pos - buf->base) : (size_t)nread;
            if (used < (size_t)nread &&
                td_buf_append(&conn->rest, buf->base + used, (size_t)nread - used) != 0) {
                conn_close(conn);
                return;
            }
            uv_read_stop((uv_stream_t *)&conn->tcp);
            conn->reading = 0;
            conn->holding = 1;
            td_http_dispatch(conn->http, up);
            if (conn->closing)
                return;   /* taken, or gone */
        }
    } else if (err != HPE_OK && !conn->stop_parsing)
        td_http_conn_fail(conn, 400, "malformed-request", "Bad Request",
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

int td_http_take(struct td_http_req *req, uv_os_sock_t *fd, struct td_buf *rest)
{
    struct td_http_conn *conn = req->conn;
    if (!req->upgrade || req->answered)
        return -EINVAL;
    if (conn->closing)
        return -ECONNRESET;
    if (conn->q_head != req || req->next || conn->write_pending)
        return -EBUSY;   /* earlier pipelined answers are still going out */
    uv_os_fd_t ofd;
    int rc = uv_fileno((const uv_handle_t *)&conn->tcp, &ofd);
    if (rc)
        return rc;
    if (conn->rest.len && td_buf_append(rest, conn->rest.data, conn->rest.len) != 0)
        return -ENOMEM;
    /* The server's handle closes its descriptor; the copy keeps the socket open. */
    int nfd = fcntl(ofd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0)
        return -errno;
    *fd = nfd;
    req->status = 101;
    req->answered = 1;
    td_http_observe(conn->http, req, (double)(now_ns() - req->start_ns) / 1e9);
    conn->q_head = conn->q_tail = NULL;
    conn->queued = 0;
    conn->holding = 0;
    req_release(req);
    conn_close(conn);
    return 0;
}

const uv_tcp_t *td_http_conn_socket(const struct td_http_conn *conn)
{
    return conn->closing ? NULL : &conn->tcp;
}

/* WebSocket connections on libuv, framed by wslay (core/ws.h).
 *
 * Reading: one read buffer serves every connection, since wslay copies what it needs in
 * its recv callback before on_read returns. Writing: wslay hands frames to send_cb, which
 * writes straight to the socket and queues the rest with uv_write; while libuv holds more
 * than WRITE_HIGH bytes, send_cb says WOULDBLOCK and the next write completion resumes.
 * Messages wait in the connection's own queue (counted against queue_max) and are given
 * to wslay a few at a time, so a slow client's backlog can be dropped at once. One timer
 * per server walks the connections for pings, idle timeouts and close deadlines.
 *
 * Memory: a wslay context is about 8.6 KiB (its frame buffers), far more than the rest of
 * a connection, and an idle connection needs none. So a connection holds one only while
 * something is in flight: it is made for input, output or a ping, and freed again once
 * wslay has nothing queued or half-written and the input stands at a frame boundary
 * outside a fragmented message (track_input follows the frame headers for that). */
#include "core/ws.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define READ_BUF_SIZE  65536
#define WRITE_HIGH     65536   /* bytes libuv may hold for one connection */
#define WSLAY_AHEAD    4       /* messages given to wslay at once */

struct qnode {
    struct td_ws_msg *m;
    struct qnode     *next;
};

struct td_ws_msg {
    int    refs;
    size_t len;
    char   data[];
};

struct td_ws_conn {
    uv_tcp_t                  tcp;
    struct td_ws             *ws;
    wslay_event_context_ptr   ctx;
    td_ws_closed_fn           on_closed;
    void                     *arg;
    struct qnode             *q_head, *q_tail;
    size_t                    qbytes;
    const char               *in;          /* input being fed to wslay */
    size_t                    inlen;
    uint64_t                  in_left;     /* payload bytes of the current client frame */
    uint8_t                   in_hdr[14];  /* its header so far */
    uint8_t                   in_hlen;
    uint8_t                   in_fragmented; /* inside a message of several frames */
    uint64_t                  last_recv, last_ping, close_deadline;
    int                       close_code;  /* sent or received */
    unsigned                  dead : 1, closing : 1, failed : 1;
    struct td_ws_conn        *prev, *next;
};

struct td_ws {
    uv_loop_t         *loop;
    struct td_ws_opts  opts;
    uv_timer_t         ticker;
    int                refs;       /* the ticker + connections not yet freed */
    int                nconns;     /* open (not dead) connections */
    struct td_ws_conn *conns;
    int                shutting, freeing;
    void             (*shut_done)(void *);
    void              *shut_arg;
    struct td_metric_series *open_gauge, *evicted;
    char               readbuf[READ_BUF_SIZE];
};

struct wreq {
    uv_write_t         w;
    struct td_ws_conn *c;
    size_t             len;
    char               data[];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_pump(struct td_ws_conn *c);
static const struct wslay_event_callbacks callbacks;

/* ---------- the wslay context, only while needed ---------- */

static int ctx_get(struct td_ws_conn *c)
{
    if (c->ctx)
        return 0;
    if (wslay_event_context_server_init(&c->ctx, &callbacks, c) != 0) {
        c->ctx = NULL;
        return -ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, c->ws->opts.max_message);
    return 0;
}

static void ctx_release_if_idle(struct td_ws_conn *c)
{
    if (c->ctx && !c->closing && !c->dead && !c->q_head && c->in_hlen == 0 && c->in_left == 0 &&
        !c->in_fragmented && wslay_event_get_queued_msg_count(c->ctx) == 0 &&
        !wslay_event_want_write(c->ctx) && wslay_event_get_read_enabled(c->ctx) &&
        !wslay_event_get_close_sent(c->ctx) && !wslay_event_get_close_received(c->ctx)) {
        wslay_event_context_free(c->ctx);
        c->ctx = NULL;
    }
}

/* Follows the client's frame boundaries in the bytes about to go to wslay. */
static void track_input(struct td_ws_conn *c, const uint8_t *p, size_t len)
{
    while (len) {
        if (c->in_left) {
            size_t n = len < c->in_left ? len : (size_t)c->in_left;
            c->in_left -= n;
            p += n;
            len -= n;
            continue;
        }
        c->in_hdr[c->in_hlen++] = *p++;
        len--;
        if (c->in_hlen < 2)
            continue;
        uint8_t l7 = c->in_hdr[1] & 127;
        size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (c->in_hdr[1] & 128 ? 4 : 0);
        if (c->in_hlen < need)
            continue;
        uint64_t n = l7;
        if (l7 == 126)
            n = (uint64_t)c->in_hdr[2] << 8 | c->in_hdr[3];
        if (l7 == 127) {
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | c->in_hdr[2 + i];
        }
        int fin = c->in_hdr[0] & 0x80, op = c->in_hdr[0] & 15;
        if ((op == 1 || op == 2) && !fin)
            c->in_fragmented = 1;
        else if (op == 0 && fin)
            c->in_fragmented = 0;
        c->in_left = n;
        c->in_hlen = 0;
    }
}

/* ---------- lifetime ---------- */

static void ws_unref(struct td_ws *ws)
{
    if (--ws->refs == 0)
        free(ws);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct td_ws_conn *c = h->data;
    struct td_ws *ws = c->ws;
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    free(c);
    ws_unref(ws);
}

static void queue_drop(struct td_ws_conn *c)
{
    struct qnode *n = c->q_head;
    while (n) {
        struct qnode *next = n->next;
        td_ws_msg_unref(n->m);
        free(n);
        n = next;
    }
    c->q_head = c->q_tail = NULL;
    c->qbytes = 0;
}

static void check_shutdown_done(struct td_ws *ws)
{
    if (ws->shutting && ws->nconns == 0 && ws->shut_done) {
        void (*done)(void *) = ws->shut_done;
        ws->shut_done = NULL;
        done(ws->shut_arg);
    }
}

/* The connection is gone: tell its owner (unless ws is being freed), close the socket. */
static void conn_kill(struct td_ws_conn *c, int code)
{
    if (c->dead)
        return;
    c->dead = 1;
    struct td_ws *ws = c->ws;
    if (c->prev)
        c->prev->next = c->next;
    else
        ws->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ws->nconns--;
    td_metric_add(ws->open_gauge, -1);
    queue_drop(c);
    if (!c->close_code)
        c->close_code = code;
    if (c->on_closed && !ws->freeing)
        c->on_closed(c, c->close_code, c->arg);
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    check_shutdown_done(ws);
}

/* ---------- writing ---------- */

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    struct td_ws_conn *c = r->c;
    free(r);
    if (c->dead)
        return;
    if (status < 0)
        conn_kill(c, TD_WS_ABNORMAL);
    else
        conn_pump(c);
}

/* Writes what the socket takes now and queues the rest; 0 or a negative code. */
static int raw_write(struct td_ws_conn *c, const uint8_t *data, size_t len)
{
    size_t done = 0;
    if (c->tcp.write_queue_size == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN)
            return n;
        done = n > 0 ? (size_t)n : 0;
    }
    if (done == len)
        return 0;
    struct wreq *r = malloc(sizeof *r + len - done);
    if (!r)
        return -ENOMEM;
    r->c = c;
    r->len = len - done;
    memcpy(r->data, data + done, r->len);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)r->len);
    int rc = uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc)
        free(r);
    return rc;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct td_ws_conn *c = user;
    (void)flags;
    if (c->dead || c->tcp.write_queue_size >= WRITE_HIGH) {
        wslay_event_set_error(ctx, c->dead ? WSLAY_ERR_CALLBACK_FAILURE : WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (raw_write(c, data, len) != 0) {
        c->failed = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    struct td_ws_conn *c = user;
    (void)flags;
    if (c->inlen == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->inlen ? len : c->inlen;
    memcpy(buf, c->in, n);
    c->in += n;
    c->inlen -= n;
    return (ssize_t)n;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    struct td_ws_conn *c = user;
    (void)ctx;
    if (a->opcode == WSLAY_CONNECTION_CLOSE && !c->close_code)
        c->close_code = a->status_code ? a->status_code : 1005;
    /* Text and binary messages from the client carry nothing we act on. */
}

/* Gives wslay the next messages and lets it write; ends the connection once both sides
 * closed or the socket failed. */
static void conn_pump(struct td_ws_conn *c)
{
    if (c->dead || (!c->ctx && !c->q_head))
        return;
    if (ctx_get(c) != 0) {
        conn_kill(c, TD_WS_ABNORMAL);
        return;
    }
    for (;;) {
        while (c->q_head && wslay_event_get_queued_msg_count(c->ctx) < WSLAY_AHEAD &&
               !wslay_event_get_close_sent(c->ctx)) {
            struct qnode *n = c->q_head;
            struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)n->m->data, n->m->len};
            if (wslay_event_queue_msg(c->ctx, &msg) != 0)
                break;
            c->q_head = n->next;
            if (!c->q_head)
                c->q_tail = NULL;
            c->qbytes -= n->m->len;
            td_ws_msg_unref(n->m);
            free(n);
        }
        if (wslay_event_send(c->ctx) != 0 || c->failed) {
            conn_kill(c, TD_WS_ABNORMAL);
            return;
        }
        if (!c->q_head || wslay_event_get_queued_msg_count(c->ctx) > 0 ||
            c->tcp.write_queue_size >= WRITE_HIGH || wslay_event_get_close_sent(c->ctx))
            break;
    }
    if (!c->close_code && !wslay_event_want_read(c->ctx)) {
        uint16_t code = wslay_event_get_status_code_sent(c->ctx);
        c->close_code = code && code != 1005 ? code : wslay_event_get_status_code_received(c->ctx);
    }
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx) &&
        c->tcp.write_queue_size == 0)
        conn_kill(c, c->close_code ? c->close_code : TD_WS_ABNORMAL);
    else if (!wslay_event_want_read(c->ctx) && !c->closing) {
        /* wslay refused the input (1002, 1009) or the client closed: finish writing. */
        c->closing = 1;
        c->close_deadline = now_ms() + TD_WS_CLOSE_GRACE_MS;
    }
    ctx_release_if_idle(c);
}

/* ---------- reading ---------- */

static void feed(struct td_ws_conn *c, const char *data, size_t len)
{
    c->last_recv = now_ms();
    if (ctx_get(c) != 0) {
        conn_kill(c, TD_WS_ABNORMAL);
        return;
    }
    c->in = data;
    c->inlen = len;
    int reading = wslay_event_get_read_enabled(c->ctx);
    if (reading)
        track_input(c, (const uint8_t *)data, len);
    int rc = reading ? wslay_event_recv(c->ctx) : 0;
    c->inlen = 0;
    if (rc != 0) {
        conn_kill(c, TD_WS_ABNORMAL);
        return;
    }
    conn_pump(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct td_ws_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->ws->readbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct td_ws_conn *c = s->data;
    if (c->dead)
        return;
    if (nread < 0) {
        conn_kill(c, TD_WS_ABNORMAL);
        return;
    }
    if (nread > 0)
        feed(c, buf->base, (size_t)nread);
}

/* ---------- the ticker: pings, idle connections, close deadlines ---------- */

static void on_tick(uv_timer_t *t)
{
    struct td_ws *ws = t->data;
    uint64_t now = now_ms();
    struct td_ws_conn *c = ws->conns;
    while (c) {
        struct td_ws_conn *next = c->next;
        if (c->closing) {
            if (now >= c->close_deadline)
                conn_kill(c, c->close_code ? c->close_code : TD_WS_ABNORMAL);
        } else if (now - c->last_recv >= (uint64_t)ws->opts.idle_timeout_ms) {
            td_ws_close(c, TD_WS_GOING_AWAY, "idle");
        } else if (now - c->last_ping >= (uint64_t)ws->opts.ping_interval_ms) {
            struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};
            c->last_ping = now;
            if (ctx_get(c) == 0 && wslay_event_queue_msg(c->ctx, &ping) == 0)
                conn_pump(c);
        }
        c = next;
    }
}

/* ---------- the server ---------- */

int td_ws_new(uv_loop_t *loop, const struct td_ws_opts *opts, struct td_ws **out)
{
    if (!opts->max_message || opts->ping_interval_ms <= 0 || opts->idle_timeout_ms <= 0 ||
        !opts->queue_max)
        return -EINVAL;
    struct td_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    ws->loop = loop;
    ws->opts = *opts;
    int rc = uv_timer_init(loop, &ws->ticker);
    if (rc) {
        free(ws);
        return rc;
    }
    ws->ticker.data = ws;
    ws->refs = 1;
    int period = opts->ping_interval_ms < opts->idle_timeout_ms ? opts->ping_interval_ms
                                                                : opts->idle_timeout_ms;
    period /= 4;
    if (period > 1000)
        period = 1000;
    if (period < 20)
        period = 20;
    uv_timer_start(&ws->ticker, on_tick, (uint64_t)period, (uint64_t)period);
    uv_unref((uv_handle_t *)&ws->ticker);
    if (opts->metrics) {
        td_metrics_describe(opts->metrics, "td_ws_open_connections", TD_METRIC_GAUGE,
                            "Open WebSocket connections.", NULL, 0);
        td_metrics_describe(opts->metrics, "td_ws_evicted_total", TD_METRIC_COUNTER,
                            "WebSocket clients closed for not reading (1008).", NULL, 0);
        ws->open_gauge = td_metrics_series(opts->metrics, "td_ws_open_connections", "");
        ws->evicted = td_metrics_series(opts->metrics, "td_ws_evicted_total", "");
    }
    *out = ws;
    return 0;
}

int td_ws_count(const struct td_ws *ws)
{
    return ws ? ws->nconns : 0;
}

void td_ws_shutdown(struct td_ws *ws, void (*done)(void *arg), void *arg)
{
    ws->shutting = 1;
    ws->shut_done = done;
    ws->shut_arg = arg;
    struct td_ws_conn *c = ws->conns;
    while (c) {
        struct td_ws_conn *next = c->next;
        if (!c->closing)
            td_ws_close(c, TD_WS_GOING_AWAY, "server shutting down");
        c = next;
    }
    check_shutdown_done(ws);
}

static void on_ticker_closed(uv_handle_t *h)
{
    ws_unref(h->data);
}

void td_ws_free(struct td_ws *ws)
{
    if (!ws)
        return;
    ws->freeing = 1;
    ws->shut_done = NULL;
    while (ws->conns)
        conn_kill(ws->conns, TD_WS_ABNORMAL);
    uv_close((uv_handle_t *)&ws->ticker, on_ticker_closed);
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_msg_recv_callback = on_msg,
};

int td_ws_accept(struct td_ws *ws, struct td_http_req *req, td_ws_closed_fn on_closed,
                 void *arg, struct td_ws_conn **out)
{
    char accept[29];
    if (td_ws_accept_key(td_http_header(req, "sec-websocket-key"), accept) != 0) {
        td_http_problem(req, 400, "websocket-key", "Bad Request",
                        "Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);
        return -EINVAL;
    }
    if (ws->shutting || ws->freeing) {
        td_http_add_header(req, "Retry-After", "1");
        td_http_problem(req, 503, "shutting-down", "Service Unavailable",
                        "the server is shutting down", NULL);
        return -ESHUTDOWN;
    }
    /* Upgraded connections leave the HTTP server's count, so this is their own cap. */
    if (ws->opts.max_connections > 0 && ws->nconns >= ws->opts.max_connections) {
        td_http_add_header(req, "Retry-After", "5");
        td_http_problem(req, 503, "too-many-connections", "Service Unavailable",
                        "this server holds as many live connections as it may", NULL);
        return -EMFILE;
    }
    struct td_ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        td_http_problem(req, 503, "out-of-memory", "Service Unavailable", NULL, NULL);
        return -ENOMEM;
    }
    struct td_buf rest = {0};
    uv_os_sock_t fd;
    int rc = td_http_take(req, &fd, &rest);
    if (rc) {
        free(c);
        td_buf_free(&rest);
        td_http_problem(req, 503, "upgrade-failed", "Service Unavailable",
                        "the connection could not be upgraded", NULL);
        return rc;
    }
    /* From here on req is gone: failures just end the connection. */
    c->ws = ws;
    c->on_closed = on_closed;
    c->arg = arg;
    c->last_recv = c->last_ping = now_ms();
    uv_tcp_init(ws->loop, &c->tcp);
    c->tcp.data = c;
    ws->refs++;
    c->next = ws->conns;
    if (ws->conns)
        ws->conns->prev = c;
    ws->conns = c;
    ws->nconns++;
    td_metric_add(ws->open_gauge, 1);
    *out = c;
    rc = uv_tcp_open(&c->tcp, fd);
    if (rc) {
        close(fd);
    } else {
        /* The security headers every answer of the server carries, this one too. */
        char head[256];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                         "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\r\n",
                         accept);
        rc = raw_write(c, (const uint8_t *)head, (size_t)n);
        if (!rc)
            rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (rc) {
        c->on_closed = NULL;   /* the caller gets an error: no callback */
        conn_kill(c, TD_WS_ABNORMAL);
        td_buf_free(&rest);
        *out = NULL;
        return rc;
    }
    if (rest.len)
        feed(c, rest.data, rest.len);
    td_buf_free(&rest);
    return 0;
}

/* ---------- messages ---------- */

struct td_ws_msg *td_ws_msg_new(const char *text, size_t len)
{
    struct td_ws_msg *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = len;
    memcpy(m->data, text, len);
    m->data[len] = '\0';
    return m;
}

struct td_ws_msg *td_ws_msg_ref(struct td_ws_msg *m)
{
    m->refs++;
    return m;
}

void td_ws_msg_unref(struct td_ws_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

int td_ws_send(struct td_ws_conn *c, struct td_ws_msg *m)
{
    if (c->dead || c->closing)
        return -EPIPE;
    if (c->qbytes + m->len > c->ws->opts.queue_max) {
        /* A client that does not read: drop its backlog, tell it why, cut it later. */
        td_log_info(c->ws->opts.log, "ws: closing a client that does not read (%zu bytes waiting)",
                    c->qbytes);
        td_metric_add(c->ws->evicted, 1);
        queue_drop(c);
        td_ws_close(c, TD_WS_POLICY, "too slow");
        return -ENOBUFS;
    }
    struct qnode *n = malloc(sizeof *n);
    if (!n)
        return -ENOMEM;
    m->refs++;
    n->m = m;
    n->next = NULL;
    if (c->q_tail)
        c->q_tail->next = n;
    else
        c->q_head = n;
    c->q_tail = n;
    c->qbytes += m->len;
    conn_pump(c);
    return 0;
}

int td_ws_send_text(struct td_ws_conn *c, const char *text, size_t len)
{
    struct td_ws_msg *m = td_ws_msg_new(text, len);
    if (!m)
        return -ENOMEM;
    int rc = td_ws_send(c, m);
    td_ws_msg_unref(m);
    return rc;
}

void td_ws_close(struct td_ws_conn *c, int code, const char *reason)
{
    if (c->dead || c->closing)
        return;
    c->closing = 1;
    c->close_code = code;
    c->close_deadline = now_ms() + TD_WS_CLOSE_GRACE_MS;
    queue_drop(c);
    if (ctx_get(c) != 0 || wslay_event_queue_close(c->ctx, (uint16_t)code, (const uint8_t *)reason,
                                reason ? strlen(reason) : 0) != 0) {
        conn_kill(c, code);
        return;
    }
    conn_pump(c);
}

size_t td_ws_queued(const struct td_ws_conn *c)
{
    return c->qbytes;
}

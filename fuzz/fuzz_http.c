/* The HTTP server end to end: core/http.c and http_conn.c (llhttp callbacks, limits,
 * pipelining, answer queue, keep-alive, linger), http_request.c, http_router.c (matching,
 * percent-decoding) and http_response.c, on a real td_http listening on 127.0.0.1.
 *
 * One server is started once, on a loop this thread runs. Per input: a client socket
 * connects, writes the input, shuts down its write side and reads (and drops) answers
 * while the loop runs, until the server has closed the connection and every request is
 * released. A connection the server never closes within DEADLINE_MS is reported as a
 * hang (abort). Handlers read everything a request offers: path parameters, query
 * parameters (decoded lazily into the same arena as the path parameters), headers, the
 * body, the peer; one answers from a timer later (the client is gone by then, often),
 * one answers with megabytes (a queued write that the client's EOF can interrupt).
 * Every access-log line must be a JSON object: the log goes to a memfd that is checked
 * and emptied after each input. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/jsonw.h"

#define DEADLINE_MS 5000

static uv_loop_t          loop;
static struct td_http    *http;
static struct td_metrics *metrics;
static struct td_log      logger;
static int                port;
static int                deferred;   /* answers still waiting on a timer */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* A JSON picture of the request, built with td_jsonw (arbitrary bytes are fine). */
static void describe(struct td_http_req *req, struct td_buf *b)
{
    /* Path parameters before and after the query is decoded: decoding grows the arena
     * they live in, and they must still read the same afterwards. */
    const char *id = td_http_param(req, "id");
    char *id_copy = id ? strdup(id) : NULL;
    const char *q0 = td_http_query_param(req, "q", 0);
    const char *q1 = td_http_query_param(req, "q", 1);
    const char *empty = td_http_query_param(req, "", 0);
    const char *id2 = td_http_param(req, "id");
    if ((id_copy == NULL) != (id2 == NULL) || (id_copy && strcmp(id_copy, id2) != 0))
        fail("path parameter changed after the query was decoded");
    free(id_copy);
    char peer[64];
    td_http_peer(req, peer, sizeof peer);
    size_t blen;
    const char *body = td_http_body(req, &blen);
    const char *fields[][2] = {
        {"method", td_http_method(req)}, {"path", td_http_path(req)},
        {"query", td_http_query(req)},   {"route", td_http_route_pattern(req)},
        {"id", id2},                     {"tag", td_http_param(req, "tag")},
        {"q0", q0},                      {"q1", q1},
        {"empty", empty},                {"s", td_http_query_param(req, "s", 0)},
        {"x-test", td_http_header(req, "x-test")},
        {"ct", td_http_header(req, "content-type")},
        {"rid", td_http_request_id(req)}, {"trace", td_http_trace(req)->trace_id},
        {"parent", td_http_trace(req)->parent_id}, {"peer", peer},
    };
    td_buf_puts(b, "{");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i][1])
            continue;
        td_jsonw_key(b, fields[i][0]);
        td_jsonw_str(b, fields[i][1], (size_t)-1);
        td_buf_puts(b, ",");
    }
    td_jsonw_key(b, "body");
    td_jsonw_str(b, body, blen);
    td_buf_puts(b, "}");
}

static void h_echo(struct td_http_req *req, void *arg)
{
    (void)arg;
    struct td_buf b = {0};
    describe(req, &b);
    td_http_add_header(req, "X-Echo", "yes");
    const char *v = td_http_query_param(req, "h", 0);
    if (v)   /* a header value from the client: must not split the answer */
        td_http_add_header(req, "X-Value", v);
    td_http_respond_buf(req, 200, "application/json", &b);
    td_buf_free(&b);
}

static void h_problem(struct td_http_req *req, void *arg)
{
    (void)arg;
    const char *d = td_http_query_param(req, "detail", 0);
    const char *s = td_http_query_param(req, "status", 0);
    int status = s ? atoi(s) : 422;
    if (status < 400 || status > 599)
        status = 422;
    td_http_problem(req, status, "fuzz", "Fuzz", d, s ? "\"errors\":[]" : NULL);
}

static void h_empty(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 204, "text/plain", "ignored", 7);
}

/* GET /big?n=BYTES (at most 256 KiB): larger than the server's socket buffer (made small
 * in init), so the answer goes out in a queued write, and the client's EOF often closes
 * the connection while it is pending. */
static void h_big(struct td_http_req *req, void *arg)
{
    (void)arg;
    const char *n = td_http_query_param(req, "n", 0);
    size_t len = n ? strtoul(n, NULL, 10) : 0;
    if (len > 256u << 10)
        len = 256u << 10;
    struct td_buf b = {0};
    if (td_buf_reserve(&b, len))
        fail("out of memory");
    memset(b.data, 'b', len);
    b.len = len;
    b.data[len] = '\0';
    td_http_respond_buf(req, 200, "application/octet-stream", &b);
    td_buf_free(&b);
}

struct later {
    uv_timer_t          timer;
    struct td_http_req *req;
};

static void later_closed(uv_handle_t *h)
{
    free(h->data);
    deferred--;
}

static void later_fire(uv_timer_t *t)
{
    struct later *l = t->data;
    struct td_buf b = {0};
    if (!td_http_client_gone(l->req))
        describe(l->req, &b);
    td_http_respond_buf(l->req, 201, "application/json", &b);
    td_buf_free(&b);
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

/* Answers after a round of the loop, like a handler waiting on the database. */
static void h_later(struct td_http_req *req, void *arg)
{
    (void)arg;
    struct later *l = calloc(1, sizeof *l);
    if (!l)
        fail("out of memory");
    l->req = req;
    uv_timer_init(&loop, &l->timer);
    l->timer.data = l;
    deferred++;
    uv_timer_start(&l->timer, later_fire, 0, 0);
}

static void init(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) || td_metrics_new(&metrics))
        fail("init");
    int fd = memfd_create("fuzz-http-log", MFD_CLOEXEC);
    if (fd < 0)
        fail("memfd_create");
    logger = (struct td_log){.level = TD_LOG_DEBUG, .format = TD_LOG_JSON, .role = "fuzz",
                             .fd = fd};
    struct td_http_opts o = {
        .host = "127.0.0.1", .port = 0, .max_header_bytes = 2048, .max_headers = 16,
        .max_body_bytes = 2048, .request_timeout_ms = 2000, .idle_timeout_ms = 2000,
        .max_connections = 8, .log = &logger, .metrics = metrics,
    };
    if (td_http_new(&loop, &o, &http) ||
        td_http_route(http, "GET", "/echo/{id}", h_echo, NULL) ||
        td_http_route(http, "POST", "/echo/{id}", h_echo, NULL) ||
        td_http_route(http, "GET", "/tasks", h_echo, NULL) ||
        td_http_route(http, "GET", "/tasks/{id}/tags/{tag}", h_echo, NULL) ||
        td_http_route(http, "PUT", "/tasks/{id}", h_echo, NULL) ||
        td_http_route(http, "PATCH", "/tasks/{id}", h_later, NULL) ||
        td_http_route(http, "DELETE", "/tasks/{id}", h_empty, NULL) ||
        td_http_route(http, "POST", "/later", h_later, NULL) ||
        td_http_route(http, "GET", "/problem", h_problem, NULL) ||
        td_http_route(http, "GET", "/big", h_big, NULL) ||
        td_http_route(http, "GET", "/health", h_empty, NULL) || td_http_listen(http))
        fail("server start");
    port = td_http_port(http);
    /* Accepted sockets inherit the listener's send buffer size: a small one makes the
     * partial-write path (write_rest, on_write) reachable. td_http does not expose its
     * listener, so find the listening socket on our port. */
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int listening = 0;
        socklen_t ilen = sizeof listening;
        if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET &&
            ntohs(sa.sin_port) == port &&
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) == 0 && listening) {
            int sndbuf = 8192;
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        }
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* Every line the server logged must be one JSON object; then the log is emptied. */
static void check_log(void)
{
    off_t n = lseek(logger.fd, 0, SEEK_CUR);
    if (n <= 0)
        return;
    char *text = malloc((size_t)n + 1);
    if (!text || pread(logger.fd, text, (size_t)n, 0) != n)
        fail("reading the log");
    text[n] = '\0';
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            fail("log line without a newline");
        json_error_t e;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &e);
        if (!json_is_object(j)) {
            fprintf(stderr, "fuzz_http: log line is not a JSON object (%s): %.*s\n", e.text,
                    (int)(nl - line), line);
            abort();
        }
        json_decref(j);
    }
    free(text);
    if (ftruncate(logger.fd, 0) || lseek(logger.fd, 0, SEEK_SET) != 0)
        fail("emptying the log");
}

/* Connects a client from 127.1.x.y (rotating): the client closes first and leaves its
 * port in TIME_WAIT, and thousands of connections a second would run one source address
 * out of ports. The kernel completes the handshake from the listen backlog. */
static int client_connect(void)
{
    static uint32_t next;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 100; attempt++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c < 0)
            break;
        int one = 1;
        setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        /* A small window: big answers do not fit the server's direct write. */
        int rcvbuf = 16384;
        setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(0x7F010000u | (next++ & 0xFFFFu))};
        int e = 0;
        if (bind(c, (struct sockaddr *)&src, sizeof src) != 0) {
            e = errno;
        } else if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) {
            e = errno;
            if (e == EINPROGRESS || e == EINTR) {
                /* libFuzzer's timers interrupt; the handshake finishes in the kernel */
                struct pollfd p = {.fd = c, .events = POLLOUT};
                socklen_t len = sizeof e;
                while (poll(&p, 1, 1000) < 0 && errno == EINTR)
                    ;
                if (getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                    e = errno;
                else if (e == 0 && !(p.revents & POLLOUT))
                    e = ETIMEDOUT;
            }
        }
        if (e == 0)
            return c;
        close(c);
        if (e != EADDRNOTAVAIL && e != EADDRINUSE && e != EAGAIN) {
            fprintf(stderr, "fuzz_http: connect: %s\n", strerror(e));
            abort();
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    fail("connect: no source address or port left");
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!http)
        init();
    int c = client_connect();
    size_t sent = 0;
    int shut = 0, eof = 0;
    double deadline = now_ms() + DEADLINE_MS;
    char sink[65536];
    for (;;) {
        int progress = 0;
        if (sent < size) {
            ssize_t w = send(c, data + sent, size - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w, progress = 1;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                sent = size;   /* reset by the server: the rest is not wanted */
        }
        if (sent == size && !shut) {
            shutdown(c, SHUT_WR);
            shut = 1;
        }
        if (uv_run(&loop, UV_RUN_NOWAIT))
            progress = 1;
        while (!eof) {
            ssize_t r = recv(c, sink, sizeof sink, 0);
            if (r > 0) {
                progress = 1;
                continue;
            }
            if (r == 0 || (errno != EAGAIN && errno != EINTR))
                eof = 1;
            break;
        }
        if (eof && shut && td_http_open_connections(http) == 0 && deferred == 0)
            break;
        if (now_ms() > deadline)
            fail("the server did not close the connection after the client's EOF");
        if (!progress) {
            struct pollfd p[2] = {{.fd = c, .events = POLLIN},
                                  {.fd = uv_backend_fd(&loop), .events = POLLIN}};
            poll(p, 2, 1);
        }
    }
    close(c);
    check_log();
    return 0;
}

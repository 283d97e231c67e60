/* An in-process td_http server and a raw client (see http_harness.h). */
#include "tests/support/http_harness.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"

struct td_test_srv td_srv;

/* ------------------------------------------------------------------ standard routes */

void td_test_srv_echo(struct td_http_req *req, void *arg)
{
    (void)arg;
    size_t blen;
    const char *body = td_http_body(req, &blen);
    const char *xt = td_http_header(req, "x-test");
    const char *q1 = td_http_query_param(req, "q", 0), *q2 = td_http_query_param(req, "q", 1);
    const char *sp = td_http_query_param(req, "s", 0);
    char peer[64];
    td_http_peer(req, peer, sizeof peer);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, "
                          "s:s?, s:s#, s:s, s:i}",
                          "method", td_http_method(req), "path", td_http_path(req),
                          "query", td_http_query(req), "id", td_http_param(req, "id"),
                          "rid", td_http_request_id(req), "trace", td_http_trace(req)->trace_id,
                          "span", td_http_trace(req)->span_id,
                          "parent", td_http_trace(req)->parent_id,
                          "route", td_http_route_pattern(req), "xtest", xt, "q1", q1, "q2", q2,
                          "s", sp, "body", body, blen, "peer", peer,
                          "flags", (int)td_http_req_route_flags(req));
    /* No criterion asserts here: this runs on the loop thread. */
    if (!o || strcmp(td_http_log_ctx(req)->request_id, td_http_request_id(req)) != 0) {
        json_decref(o);
        td_http_respond(req, 500, "text/plain", "bad", 3);
        return;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    td_http_add_header(req, "X-Echo", "yes");
    td_http_respond(req, 200, "application/json", text, strlen(text));
    free(text);
}

static void h_hello(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 200, "text/plain", "hello", 5);
}

static void h_post_only(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 201, "text/plain", "made", 4);
}

static void h_no_content(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 204, "text/plain", "ignored", 7);
}

/* A body larger than any socket buffer (the partial-write path). */
static void h_big(struct td_http_req *req, void *arg)
{
    (void)arg;
    const char *n = td_http_query_param(req, "n", 0);
    size_t len = n ? strtoul(n, NULL, 10) : 4u << 20;
    struct td_buf b = {0};
    td_buf_reserve(&b, len);
    for (size_t i = 0; i < len; i++)
        b.data[i] = (char)('a' + i % 26);
    b.len = len;
    b.data[len] = '\0';
    td_http_respond_buf(req, 200, "application/octet-stream", &b);
}

struct slow {
    uv_timer_t          timer;
    struct td_http_req *req;
};

static void slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void slow_fire(uv_timer_t *t)
{
    struct slow *s = t->data;
    if (td_http_client_gone(s->req))
        atomic_store(&td_srv.slow_client_gone, 1);
    char body[32];
    int n = snprintf(body, sizeof body, "slow %s", td_http_path(s->req));
    td_http_respond(s->req, 200, "text/plain", body, (size_t)n);
    atomic_fetch_add(&td_srv.slow_answered, 1);
    uv_close((uv_handle_t *)&s->timer, slow_closed);
}

/* Answers from a uv_timer later, like a database round trip. */
static void h_slow(struct td_http_req *req, void *arg)
{
    (void)arg;
    const char *ms = td_http_query_param(req, "ms", 0);
    struct slow *s = calloc(1, sizeof *s);
    s->req = req;
    uv_timer_init(&td_srv.loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_fire, ms ? (uint64_t)atoi(ms) : 20, 0);
}

/* ------------------------------------------------------------------ server */

static void on_async(uv_async_t *a)
{
    (void)a;
    pthread_mutex_lock(&td_srv.mu);
    void (*fn)(void) = td_srv.cmd;
    td_srv.cmd = NULL;
    pthread_mutex_unlock(&td_srv.mu);
    if (fn)
        fn();
    pthread_mutex_lock(&td_srv.mu);
    td_srv.cmd_done = 1;
    pthread_cond_signal(&td_srv.cv);
    pthread_mutex_unlock(&td_srv.mu);
}

void td_test_srv_on_loop(void (*fn)(void))
{
    pthread_mutex_lock(&td_srv.mu);
    td_srv.cmd = fn;
    td_srv.cmd_done = 0;
    pthread_mutex_unlock(&td_srv.mu);
    uv_async_send(&td_srv.async);
    pthread_mutex_lock(&td_srv.mu);
    while (!td_srv.cmd_done)
        pthread_cond_wait(&td_srv.cv, &td_srv.mu);
    pthread_mutex_unlock(&td_srv.mu);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&td_srv.loop, UV_RUN_DEFAULT);
    td_srv.loop_close_rc = uv_loop_close(&td_srv.loop);
    return NULL;
}

struct td_http_opts td_test_srv_opts(void)
{
    return (struct td_http_opts){
        .host = "127.0.0.1", .port = 0, .max_header_bytes = 2048, .max_headers = 20,
        .max_body_bytes = 1000, .request_timeout_ms = 300, .idle_timeout_ms = 2000,
        .max_connections = 100,
    };
}

void td_test_srv_start(struct td_http_opts o, void (*routes)(struct td_http *http))
{
    memset(&td_srv, 0, sizeof td_srv);
    /* as cmd/todod.c does: a peer gone mid-write is EPIPE, not a fatal signal */
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&td_srv.mu, NULL);
    pthread_cond_init(&td_srv.cv, NULL);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    td_srv.log = (struct td_log){.level = TD_LOG_INFO, .format = TD_LOG_JSON, .role = "test",
                                 .fd = dup(fileno(f))};
    fclose(f);
    cr_assert_eq(td_metrics_new(&td_srv.metrics), 0);
    o.log = &td_srv.log;
    o.metrics = td_srv.metrics;
    cr_assert_eq(uv_loop_init(&td_srv.loop), 0);
    cr_assert_eq(uv_async_init(&td_srv.loop, &td_srv.async, on_async), 0);
    struct td_http *h;
    cr_assert_eq(td_http_new(&td_srv.loop, &o, &h), 0);
    td_srv.http = h;
    cr_assert_eq(td_http_listen(h), 0);
    td_srv.port = td_http_port(h);
    cr_assert_gt(td_srv.port, 0);
    cr_assert_eq(td_http_route(h, "GET", "/", h_hello, NULL), 0);
    cr_assert_eq(td_http_route(h, "GET", "/echo/{id}", td_test_srv_echo, NULL), 0);
    cr_assert_eq(td_http_route(h, "POST", "/echo/{id}", td_test_srv_echo, NULL), 0);
    cr_assert_eq(td_http_route(h, "GET", "/slow", h_slow, NULL), 0);
    cr_assert_eq(td_http_route(h, "POST", "/items", h_post_only, NULL), 0);
    cr_assert_eq(td_http_route(h, "GET", "/empty", h_no_content, NULL), 0);
    cr_assert_eq(td_http_route(h, "GET", "/big", h_big, NULL), 0);
    if (routes)
        routes(h);
    cr_assert_eq(pthread_create(&td_srv.thread, NULL, loop_main, NULL), 0);
    td_srv.running = 1;
}

static void on_closed(void *arg)
{
    (void)arg;
    atomic_store(&td_srv.closed, 1);
}

static void cmd_close(void)
{
    td_http_close(td_srv.http, on_closed, NULL);
    uv_close((uv_handle_t *)&td_srv.async, NULL);
}

void td_test_srv_close_loop(void)
{
    cr_assert(td_srv.running);
    td_test_srv_on_loop(cmd_close);
    pthread_join(td_srv.thread, NULL);
    td_srv.running = 0;
    cr_assert_eq(atomic_load(&td_srv.closed), 1, "td_http_close never called done");
    cr_assert_eq(td_srv.loop_close_rc, 0, "uv_loop_close: %s", uv_strerror(td_srv.loop_close_rc));
}

void td_test_srv_release(void)
{
    td_metrics_free(td_srv.metrics);
    close(td_srv.log.fd);
    pthread_mutex_destroy(&td_srv.mu);
    pthread_cond_destroy(&td_srv.cv);
}

void td_test_srv_stop(void)
{
    td_test_srv_close_loop();
    td_test_srv_release();
}

static void on_drained(void *arg)
{
    (void)arg;
    atomic_store(&td_srv.drained, 1);
}

static void cmd_drain(void)
{
    td_http_drain(td_srv.http, on_drained, NULL);
}

void td_test_srv_drain(void)
{
    td_test_srv_on_loop(cmd_drain);
}

char *td_test_srv_logs(void)
{
    off_t end = lseek(td_srv.log.fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)end + 1);
    cr_assert_eq(pread(td_srv.log.fd, buf, (size_t)end, 0), (ssize_t)end);
    return buf;
}

/* ------------------------------------------------------------------ raw client */

void td_test_cl_open(struct td_test_client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = td_test_connect(td_srv.port);
    cr_assert_geq(c->fd, 0, "connect to %d", td_srv.port);
    c->cap = 65536;
    c->buf = malloc(c->cap);
}

void td_test_cl_close(struct td_test_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

void td_test_cl_send(struct td_test_client *c, const char *s)
{
    cr_assert_eq(td_test_send_all(c->fd, s, strlen(s)), 0);
}

int td_test_cl_fill(struct td_test_client *c, int timeout_ms)
{
    if (c->eof)
        return 0;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    if (c->len + 4096 > c->cap)
        c->buf = realloc(c->buf, c->cap *= 2);
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n <= 0) {
        c->eof = 1;
        return 0;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return (int)n;
}

char *td_test_resp_header(const struct td_test_resp *r, const char *name)
{
    const char *eol = strstr(r->head, "\r\n");
    return td_test_header(eol ? eol + 2 : r->head, name);
}

int td_test_cl_response(struct td_test_client *c, struct td_test_resp *r, int head_request,
                        int timeout_ms)
{
    memset(r, 0, sizeof *r);
    double deadline = td_test_now_ms() + timeout_ms;
    char *end;
    while (!(c->len && (end = strstr(c->buf, "\r\n\r\n")))) {
        int left = (int)(deadline - td_test_now_ms());
        if (left <= 0 || td_test_cl_fill(c, left) <= 0)
            return -1;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    r->head = strndup(c->buf, head_len);
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "status line: %s", r->head);
    char *cl = td_test_resp_header(r, "Content-Length");
    size_t body = cl && !head_request ? strtoul(cl, NULL, 10) : 0;
    free(cl);
    while (c->len < head_len + body) {
        int left = (int)(deadline - td_test_now_ms());
        if (left <= 0 || td_test_cl_fill(c, left) <= 0) {
            free(r->head);
            r->head = NULL;
            return -1;
        }
    }
    r->body = malloc(body + 1);
    memcpy(r->body, c->buf + head_len, body);
    r->body[body] = '\0';
    r->body_len = body;
    memmove(c->buf, c->buf + head_len + body, c->len - head_len - body);
    c->len -= head_len + body;
    c->buf[c->len] = '\0';
    return 0;
}

void td_test_resp_free(struct td_test_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int td_test_cl_sees_close(struct td_test_client *c, int timeout_ms)
{
    double deadline = td_test_now_ms() + timeout_ms;
    while (!c->eof) {
        int left = (int)(deadline - td_test_now_ms());
        if (left <= 0)
            return 0;
        if (td_test_cl_fill(c, left) < 0)
            return 0;
    }
    return c->len == 0;
}

void td_test_request(const char *raw, struct td_test_resp *r, int head_request)
{
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, raw);
    cr_assert_eq(td_test_cl_response(&c, r, head_request, 3000), 0, "no answer to: %s", raw);
    td_test_cl_close(&c);
}

json_t *td_test_resp_json(const struct td_test_resp *r)
{
    json_error_t e;
    json_t *o = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, r->body);
    return o;
}

int td_test_is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

json_t *td_test_problem(const struct td_test_resp *r, int status, const char *slug)
{
    cr_assert_eq(r->status, status, "%s%s", r->head, r->body);
    char *ct = td_test_resp_header(r, "Content-Type");
    cr_assert_str_eq(ct, "application/problem+json");
    free(ct);
    json_t *o = td_test_resp_json(r);
    char type[128];
    snprintf(type, sizeof type, "%s%s", TD_PROBLEM_BASE, slug);
    cr_assert_str_eq(td_test_jstr(o, "type"), type);
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), status);
    cr_assert_not_null(td_test_jstr(o, "title"));
    char *rid = td_test_resp_header(r, "X-Request-ID");
    cr_assert_not_null(rid);
    cr_assert_str_eq(td_test_jstr(o, "request_id"), rid);
    free(rid);
    return o;
}

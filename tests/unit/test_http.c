/* core/http.c: a real td_http server on a uv loop in a thread, driven with raw sockets so
 * every byte (pipelining, limits, timeouts, half-sent requests) is under the test's
 * control. Each test ends by closing the server and asserting uv_loop_close succeeds. */
#include <criterion/criterion.h>
#include <signal.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "tests/support/net_harness.h"

/* ------------------------------------------------------------------ server harness */

struct srv {
    uv_loop_t          loop;
    uv_async_t         async;
    pthread_t          thread;
    int                running;
    struct td_http    *http;
    struct td_metrics *metrics;
    struct td_log      log;
    int                port;
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    void             (*cmd)(void);
    int                cmd_done;
    int                loop_close_rc;
    atomic_int         drained;
    atomic_int         closed;
    atomic_int         slow_answered;
    atomic_int         slow_client_gone;
};
static struct srv S;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* GET/POST /echo/{id}: a JSON picture of what the server parsed. */
static void h_echo(struct td_http_req *req, void *arg)
{
    (void)arg;
    size_t blen;
    const char *body = td_http_body(req, &blen);
    const char *xt = td_http_header(req, "x-test");
    const char *q1 = td_http_query_param(req, "q", 0), *q2 = td_http_query_param(req, "q", 1);
    const char *sp = td_http_query_param(req, "s", 0);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s#}",
                          "method", td_http_method(req), "path", td_http_path(req),
                          "query", td_http_query(req), "id", td_http_param(req, "id"),
                          "rid", td_http_request_id(req), "trace", td_http_trace(req)->trace_id,
                          "span", td_http_trace(req)->span_id,
                          "parent", td_http_trace(req)->parent_id,
                          "route", td_http_route_pattern(req), "xtest", xt, "q1", q1, "q2", q2,
                          "s", sp, "body", body, blen);
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

/* GET /big?n=BYTES: a body larger than any socket buffer (the partial-write path). */
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
        atomic_store(&S.slow_client_gone, 1);
    char body[32];
    int n = snprintf(body, sizeof body, "slow %s", td_http_path(s->req));
    td_http_respond(s->req, 200, "text/plain", body, (size_t)n);
    atomic_fetch_add(&S.slow_answered, 1);
    uv_close((uv_handle_t *)&s->timer, slow_closed);
}

/* GET /slow?ms=N: answers from a uv_timer N ms later (default 20), like a DB round trip. */
static void h_slow(struct td_http_req *req, void *arg)
{
    (void)arg;
    const char *ms = td_http_query_param(req, "ms", 0);
    struct slow *s = calloc(1, sizeof *s);
    s->req = req;
    uv_timer_init(&S.loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_fire, ms ? (uint64_t)atoi(ms) : 20, 0);
}

static void on_async(uv_async_t *a)
{
    (void)a;
    pthread_mutex_lock(&S.mu);
    void (*fn)(void) = S.cmd;
    S.cmd = NULL;
    pthread_mutex_unlock(&S.mu);
    if (fn)
        fn();
    pthread_mutex_lock(&S.mu);
    S.cmd_done = 1;
    pthread_cond_signal(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

/* Runs fn on the loop thread and waits until it returned. */
static void run_on_loop(void (*fn)(void))
{
    pthread_mutex_lock(&S.mu);
    S.cmd = fn;
    S.cmd_done = 0;
    pthread_mutex_unlock(&S.mu);
    uv_async_send(&S.async);
    pthread_mutex_lock(&S.mu);
    while (!S.cmd_done)
        pthread_cond_wait(&S.cv, &S.mu);
    pthread_mutex_unlock(&S.mu);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&S.loop, UV_RUN_DEFAULT);
    S.loop_close_rc = uv_loop_close(&S.loop);
    return NULL;
}

static struct td_http_opts default_opts(void)
{
    return (struct td_http_opts){
        .host = "127.0.0.1", .port = 0, .max_header_bytes = 2048, .max_headers = 20,
        .max_body_bytes = 1000, .request_timeout_ms = 300, .idle_timeout_ms = 2000,
        .max_connections = 100,
    };
}

static void start_server(struct td_http_opts o)
{
    memset(&S, 0, sizeof S);
    /* as cmd/todod.c does: a peer gone mid-write is EPIPE, not a fatal signal */
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    S.log = (struct td_log){.level = TD_LOG_INFO, .format = TD_LOG_JSON, .role = "test",
                            .fd = dup(fileno(f))};
    fclose(f);
    cr_assert_eq(td_metrics_new(&S.metrics), 0);
    o.log = &S.log;
    o.metrics = S.metrics;
    cr_assert_eq(uv_loop_init(&S.loop), 0);
    cr_assert_eq(uv_async_init(&S.loop, &S.async, on_async), 0);
    cr_assert_eq(td_http_new(&S.loop, &o, &S.http), 0);
    cr_assert_eq(td_http_listen(S.http), 0);
    S.port = td_http_port(S.http);
    cr_assert_gt(S.port, 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/", h_hello, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/echo/{id}", h_echo, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "POST", "/echo/{id}", h_echo, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/slow", h_slow, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "POST", "/items", h_post_only, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/empty", h_no_content, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/big", h_big, NULL), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/", h_hello, NULL), -EEXIST);
    cr_assert_eq(pthread_create(&S.thread, NULL, loop_main, NULL), 0);
    S.running = 1;
}

static void on_closed(void *arg)
{
    (void)arg;
    atomic_store(&S.closed, 1);
}

static void cmd_close(void)
{
    td_http_close(S.http, on_closed, NULL);
    uv_close((uv_handle_t *)&S.async, NULL);
}

/* Closes the server; asserts the close callback ran and the loop closes cleanly. */
static void stop_server(void)
{
    cr_assert(S.running);
    run_on_loop(cmd_close);
    pthread_join(S.thread, NULL);
    S.running = 0;
    cr_assert_eq(atomic_load(&S.closed), 1, "td_http_close never called done");
    cr_assert_eq(S.loop_close_rc, 0, "uv_loop_close: %s", uv_strerror(S.loop_close_rc));
    td_metrics_free(S.metrics);
    close(S.log.fd);
    pthread_mutex_destroy(&S.mu);
    pthread_cond_destroy(&S.cv);
}

/* Everything logged so far. */
static char *server_logs(void)
{
    off_t end = lseek(S.log.fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)end + 1);
    cr_assert_eq(pread(S.log.fd, buf, (size_t)end, 0), (ssize_t)end);
    return buf;
}

/* ------------------------------------------------------------------ raw client */

struct client {
    int    fd;
    char  *buf;
    size_t len, cap;
    int    eof;
};

struct resp {
    int    status;
    char  *head;    /* status line + headers, NUL-terminated */
    char  *body;
    size_t body_len;
};

static void cl_open(struct client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = td_test_connect(S.port);
    cr_assert_geq(c->fd, 0, "connect to %d", S.port);
    c->cap = 65536;
    c->buf = malloc(c->cap);
}

static void cl_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static void cl_send(struct client *c, const char *s)
{
    cr_assert_eq(td_test_send_all(c->fd, s, strlen(s)), 0);
}

/* Reads more bytes; returns >0 bytes, 0 on EOF/reset, -1 on timeout. */
static int cl_fill(struct client *c, int timeout_ms)
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

static char *hdr(const struct resp *r, const char *name)
{
    const char *eol = strstr(r->head, "\r\n");
    return td_test_header(eol ? eol + 2 : r->head, name);
}

/* Reads one response (Content-Length framing; none for HEAD/204). 0, or -1 when the
 * connection closed or timeout_ms passed first. */
static int cl_response(struct client *c, struct resp *r, int head_request, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    double deadline = now_ms() + timeout_ms;
    char *end;
    while (!(c->len && (end = strstr(c->buf, "\r\n\r\n")))) {
        int left = (int)(deadline - now_ms());
        if (left <= 0 || cl_fill(c, left) <= 0)
            return -1;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    r->head = strndup(c->buf, head_len);
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "status line: %s", r->head);
    char *cl = hdr(r, "Content-Length");
    size_t body = cl && !head_request ? strtoul(cl, NULL, 10) : 0;
    free(cl);
    while (c->len < head_len + body) {
        int left = (int)(deadline - now_ms());
        if (left <= 0 || cl_fill(c, left) <= 0) {
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

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* 1 when the server closes the connection within timeout_ms with no further bytes. */
static int cl_sees_close(struct client *c, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    while (!c->eof) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return 0;
        if (cl_fill(c, left) < 0)
            return 0;
    }
    return c->len == 0;
}

/* One request on a fresh connection. */
static void request(const char *raw, struct resp *r, int head_request)
{
    struct client c;
    cl_open(&c);
    cl_send(&c, raw);
    cr_assert_eq(cl_response(&c, r, head_request, 3000), 0, "no answer to: %s", raw);
    cl_close(&c);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t e;
    json_t *o = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, r->body);
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Checks an RFC 9457 body and returns the parsed object. */
static json_t *problem(const struct resp *r, int status, const char *slug)
{
    cr_assert_eq(r->status, status, "%s%s", r->head, r->body);
    char *ct = hdr(r, "Content-Type");
    cr_assert_str_eq(ct, "application/problem+json");
    free(ct);
    json_t *o = body_json(r);
    char type[128];
    snprintf(type, sizeof type, "%s%s", TD_PROBLEM_BASE, slug);
    cr_assert_str_eq(jstr(o, "type"), type);
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), status);
    cr_assert_not_null(jstr(o, "title"));
    char *rid = hdr(r, "X-Request-ID");
    cr_assert_not_null(rid);
    cr_assert_str_eq(jstr(o, "request_id"), rid);
    free(rid);
    return o;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ------------------------------------------------------------------ tests */

Test(http, simple_get)
{
    start_server(default_opts());
    struct resp r;
    request(GET("/"), &r, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello");
    char *ct = hdr(&r, "Content-Type"), *date = hdr(&r, "Date"), *conn = hdr(&r, "Connection");
    cr_assert_str_eq(ct, "text/plain");
    cr_assert_not_null(date);
    cr_assert_not_null(strstr(date, " GMT"), "%s", date);
    cr_assert_null(conn, "keep-alive is the HTTP/1.1 default: no Connection header");
    free(ct);
    free(date);
    resp_free(&r);
    stop_server();
}

Test(http, request_details_reach_the_handler)
{
    start_server(default_opts());
    struct resp r;
    request("POST /echo/a%20b?q=1&q=two%21&s=x+y HTTP/1.1\r\nHost: t\r\nX-Test:  padded  \r\n"
            "Content-Length: 5\r\n\r\nhello", &r, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "method"), "POST");
    cr_assert_str_eq(jstr(o, "path"), "/echo/a%20b");
    cr_assert_str_eq(jstr(o, "query"), "q=1&q=two%21&s=x+y");
    cr_assert_str_eq(jstr(o, "id"), "a b");
    cr_assert_str_eq(jstr(o, "route"), "/echo/{id}");
    cr_assert_str_eq(jstr(o, "xtest"), "padded", "OWS trimmed");
    cr_assert_str_eq(jstr(o, "q1"), "1");
    cr_assert_str_eq(jstr(o, "q2"), "two!");
    cr_assert_str_eq(jstr(o, "s"), "x y");
    cr_assert_str_eq(jstr(o, "body"), "hello");
    char *echo = hdr(&r, "X-Echo");
    cr_assert_str_eq(echo, "yes");
    free(echo);
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, malformed_query_pair_is_skipped_not_the_rest)
{
    start_server(default_opts());
    struct resp r;
    request(GET("/echo/1?q=%zz&q=ok&s=%41%2") "", &r, 0);
    cr_assert_eq(r.status, 200);
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "q1"), "ok", "the pair after a bad one still counts");
    cr_assert_null(jstr(o, "s"), "a bad value drops its pair");
    cr_assert_str_eq(jstr(o, "id"), "1", "path params survive query decoding");
    json_decref(o);
    resp_free(&r);
    request(GET("/echo/1?%zz=1&s=fine&q=a&q"), &r, 0);
    o = body_json(&r);
    cr_assert_str_eq(jstr(o, "s"), "fine");
    cr_assert_str_eq(jstr(o, "q1"), "a");
    cr_assert_str_eq(jstr(o, "q2"), "", "a name without = has an empty value");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, chunked_body_under_limit_is_assembled)
{
    start_server(default_opts());
    struct resp r;
    request("POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "body"), "hello world");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, keep_alive_two_requests_one_connection)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    struct resp a, b;
    cl_send(&c, GET("/echo/1"));
    cr_assert_eq(cl_response(&c, &a, 0, 2000), 0);
    cl_send(&c, GET("/echo/2"));
    cr_assert_eq(cl_response(&c, &b, 0, 2000), 0, "second request on the same connection");
    json_t *ja = body_json(&a), *jb = body_json(&b);
    cr_assert_str_eq(jstr(ja, "id"), "1");
    cr_assert_str_eq(jstr(jb, "id"), "2");
    cr_assert_str_neq(jstr(ja, "rid"), jstr(jb, "rid"), "each request gets its own id");
    json_decref(ja);
    json_decref(jb);
    resp_free(&a);
    resp_free(&b);
    cl_close(&c);
    stop_server();
}

Test(http, pipelined_answers_keep_order_behind_a_slow_one)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/slow?ms=60") GET("/echo/2") GET("/echo/3"));
    struct resp r[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cl_response(&c, &r[i], 0, 3000), 0, "answer %d", i);
    cr_assert_str_eq(r[0].body, "slow /slow", "the slow answer comes first");
    json_t *j2 = body_json(&r[1]), *j3 = body_json(&r[2]);
    cr_assert_str_eq(jstr(j2, "id"), "2");
    cr_assert_str_eq(jstr(j3, "id"), "3");
    json_decref(j2);
    json_decref(j3);
    for (int i = 0; i < 3; i++)
        resp_free(&r[i]);
    /* still usable afterwards */
    struct resp more;
    cl_send(&c, GET("/"));
    cr_assert_eq(cl_response(&c, &more, 0, 2000), 0);
    cr_assert_str_eq(more.body, "hello");
    resp_free(&more);
    cl_close(&c);
    stop_server();
}

Test(http, pipelined_many_small_requests)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    char all[100 * 64] = "";
    for (int i = 0; i < 100; i++) {
        char one[64];
        snprintf(one, sizeof one, "GET /echo/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        strcat(all, one);
    }
    cl_send(&c, all);
    for (int i = 0; i < 100; i++) {
        struct resp r;
        cr_assert_eq(cl_response(&c, &r, 0, 3000), 0, "answer %d", i);
        json_t *o = body_json(&r);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(jstr(o, "id"), want);
        json_decref(o);
        resp_free(&r);
    }
    cl_close(&c);
    stop_server();
}

Test(http, pipelining_past_the_backpressure_limit_behind_a_slow_one)
{
    /* More requests than the server keeps pending: it stops reading, then resumes. */
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    size_t cap = 200 * 64, len = 0;
    char *all = malloc(cap);
    len += (size_t)snprintf(all, cap, GET("/slow?ms=50"));
    for (int i = 1; i < 200; i++)
        len += (size_t)snprintf(all + len, cap - len, "GET /echo/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    cl_send(&c, all);
    free(all);
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 3000), 0);
    cr_assert_str_eq(r.body, "slow /slow");
    resp_free(&r);
    for (int i = 1; i < 200; i++) {
        cr_assert_eq(cl_response(&c, &r, 0, 3000), 0, "answer %d", i);
        json_t *o = body_json(&r);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(jstr(o, "id"), want);
        json_decref(o);
        resp_free(&r);
    }
    cl_close(&c);
    stop_server();
}

Test(http, large_answers_written_in_parts_and_in_order)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/big?n=3000000") GET("/big?n=1000001") GET("/"));
    size_t sizes[] = {3000000, 1000001};
    for (int k = 0; k < 2; k++) {
        struct resp r;
        cr_assert_eq(cl_response(&c, &r, 0, 5000), 0, "big answer %d", k);
        cr_assert_eq(r.body_len, sizes[k]);
        for (size_t i = 0; i < r.body_len; i += 4099)
            cr_assert_eq(r.body[i], (char)('a' + i % 26), "byte %zu of answer %d", i, k);
        cr_assert_eq(r.body[r.body_len - 1], (char)('a' + (r.body_len - 1) % 26));
        resp_free(&r);
    }
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    cr_assert_str_eq(r.body, "hello");
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, client_leaves_during_a_large_write)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cl_send(&c, GET("/big?n=8000000"));
    usleep(100 * 1000);   /* the server is blocked on a full socket */
    cl_close(&c);
    usleep(100 * 1000);
    struct resp r;
    request(GET("/"), &r, 0);   /* still serving */
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, request_id_echoed_when_valid)
{
    start_server(default_opts());
    struct resp r;
    request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc-123_x.y:z\r\n\r\n", &r, 0);
    char *rid = hdr(&r, "X-Request-ID");
    cr_assert_str_eq(rid, "abc-123_x.y:z");
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "rid"), "abc-123_x.y:z");
    json_decref(o);
    free(rid);
    resp_free(&r);
    stop_server();
}

Test(http, request_id_generated_when_absent_or_invalid)
{
    start_server(default_opts());
    const char *reqs[] = {
        GET("/echo/1"),
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: has space\r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: quote\"d\r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: \r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: "
        "0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n",
    };
    char seen[5][64];
    for (int i = 0; i < 5; i++) {
        struct resp r;
        request(reqs[i], &r, 0);
        char *rid = hdr(&r, "X-Request-ID");
        cr_assert_not_null(rid, "%d", i);
        cr_assert(is_hex(rid, 32), "request %d got generated id \"%s\"", i, rid);
        snprintf(seen[i], sizeof seen[i], "%s", rid);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(seen[j], rid);
        free(rid);
        resp_free(&r);
    }
    stop_server();
}

#define TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

Test(http, traceparent_accepted)
{
    start_server(default_opts());
    struct resp r;
    request("GET /echo/1 HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" TRACE "-" PARENT "-01\r\n\r\n",
            &r, 0);
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "trace"), TRACE);
    cr_assert_str_eq(jstr(o, "parent"), PARENT);
    cr_assert(is_hex(jstr(o, "span"), 16));
    cr_assert_str_neq(jstr(o, "span"), PARENT);
    json_decref(o);
    resp_free(&r);

    /* an invalid one starts a new trace */
    request("GET /echo/1 HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" TRACE "-" PARENT "-01-x\r\n\r\n",
            &r, 0);
    o = body_json(&r);
    cr_assert(is_hex(jstr(o, "trace"), 32));
    cr_assert_str_neq(jstr(o, "trace"), TRACE);
    cr_assert_str_eq(jstr(o, "parent"), "");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, not_found_is_problem_json)
{
    start_server(default_opts());
    struct resp r;
    request("GET /nowhere?x=1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: nf-1\r\n\r\n", &r, 0);
    json_t *o = problem(&r, 404, "not-found");
    cr_assert_str_eq(jstr(o, "instance"), "/nowhere");
    cr_assert_str_eq(jstr(o, "request_id"), "nf-1");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, method_not_allowed_lists_allow)
{
    start_server(default_opts());
    struct resp r;
    request("DELETE /echo/5 HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    json_t *o = problem(&r, 405, "method-not-allowed");
    char *allow = hdr(&r, "Allow");
    cr_assert_str_eq(allow, "GET, POST");
    free(allow);
    json_decref(o);
    resp_free(&r);

    request("GET /items HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    o = problem(&r, 405, "method-not-allowed");
    allow = hdr(&r, "Allow");
    cr_assert_str_eq(allow, "POST");
    free(allow);
    json_decref(o);
    resp_free(&r);

    /* OPTIONS on a known path answers 204 with the list */
    request("OPTIONS /items HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 204);
    allow = hdr(&r, "Allow");
    cr_assert_str_eq(allow, "POST");
    free(allow);
    resp_free(&r);
    stop_server();
}

Test(http, bad_percent_encoding_in_path_is_400)
{
    start_server(default_opts());
    struct resp r;
    request(GET("/echo/%zz"), &r, 0);
    json_t *o = problem(&r, 400, "bad-path");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, head_has_content_length_but_no_body)
{
    start_server(default_opts());
    struct resp get, head, after;
    request(GET("/"), &get, 0);
    struct client c;
    cl_open(&c);
    cl_send(&c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(cl_response(&c, &head, 1, 2000), 0);
    cr_assert_eq(head.status, 200);
    char *l1 = hdr(&get, "Content-Length"), *l2 = hdr(&head, "Content-Length");
    cr_assert_str_eq(l2, l1);
    cr_assert_str_eq(l2, "5");
    free(l1);
    free(l2);
    /* No body bytes follow: the next answer on the connection starts right away. */
    cl_send(&c, GET("/"));
    cr_assert_eq(cl_response(&c, &after, 0, 2000), 0);
    cr_assert_str_eq(after.body, "hello");
    cr_assert_eq(c.len, 0);
    resp_free(&get);
    resp_free(&head);
    resp_free(&after);
    cl_close(&c);
    stop_server();
}

Test(http, no_content_has_no_length_and_no_body)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    struct resp r, next;
    cl_send(&c, GET("/empty") GET("/"));
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 204);
    char *cl = hdr(&r, "Content-Length");
    cr_assert_null(cl);
    cr_assert_eq(cl_response(&c, &next, 0, 2000), 0);
    cr_assert_str_eq(next.body, "hello", "the 204 carried no body bytes");
    resp_free(&r);
    resp_free(&next);
    cl_close(&c);
    stop_server();
}

Test(http, connection_close_honoured)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" GET("/echo/after"));
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    char *conn = hdr(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(cl_sees_close(&c, 2000), "nothing after a closing request is answered");
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, http10_closes_unless_keep_alive)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, "GET / HTTP/1.0\r\n\r\n");
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello");
    resp_free(&r);
    cr_assert(cl_sees_close(&c, 2000));
    cl_close(&c);
    stop_server();
}

Test(http, header_bytes_over_limit_is_431)
{
    start_server(default_opts());   /* max_header_bytes 2048 */
    char big[4000];
    char pad[3000];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    struct client c;
    cl_open(&c);
    cl_send(&c, big);
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    json_t *o = problem(&r, 431, "headers-too-large");
    char *conn = hdr(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(cl_sees_close(&c, 3000));
    json_decref(o);
    resp_free(&r);
    cl_close(&c);

    /* just under the limit is fine */
    pad[1800] = '\0';
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    request(big, &r, 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, long_uri_is_414)
{
    start_server(default_opts());
    char big[4000], path[3000];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(big, sizeof big, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    struct resp r;
    request(big, &r, 0);
    json_t *o = problem(&r, 414, "uri-too-long");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, too_many_headers_is_431)
{
    start_server(default_opts());   /* max_headers 20 */
    char req[2048] = "GET / HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 25; i++) {
        char line[32];
        snprintf(line, sizeof line, "X-H%d: v\r\n", i);
        strcat(req, line);
    }
    strcat(req, "\r\n");
    struct client c;
    cl_open(&c);
    cl_send(&c, req);
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    json_t *o = problem(&r, 431, "too-many-headers");
    cr_assert(cl_sees_close(&c, 3000));
    json_decref(o);
    resp_free(&r);
    cl_close(&c);

    /* exactly the limit is fine: Host + 19 */
    strcpy(req, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 19; i++) {
        char line[32];
        snprintf(line, sizeof line, "X-H%d: v\r\n", i);
        strcat(req, line);
    }
    strcat(req, "\r\n");
    request(req, &r, 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, body_over_limit_by_content_length_is_413)
{
    start_server(default_opts());   /* max_body_bytes 1000 */
    struct client c;
    cl_open(&c);
    /* Refused from the headers alone: the body is never sent. */
    cl_send(&c, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    json_t *o = problem(&r, 413, "body-too-large");
    char *conn = hdr(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(cl_sees_close(&c, 3000));
    json_decref(o);
    resp_free(&r);
    cl_close(&c);

    /* exactly the limit is accepted */
    char req[1200];
    int n = snprintf(req, sizeof req, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    memset(req + n, 'b', 1000);
    req[n + 1000] = '\0';
    request(req, &r, 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, body_over_limit_chunked_is_413)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    char req[4000];
    char data[701];
    memset(data, 'c', 700);
    data[700] = '\0';
    /* two chunks of 700: the second crosses the 1000-byte limit */
    snprintf(req, sizeof req, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "2bc\r\n%s\r\n2bc\r\n%s\r\n0\r\n\r\n", data, data);
    cl_send(&c, req);
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    json_t *o = problem(&r, 413, "body-too-large");
    cr_assert(cl_sees_close(&c, 3000));
    json_decref(o);
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, incomplete_request_times_out_with_408_then_close)
{
    start_server(default_opts());   /* request_timeout_ms 300 */
    struct client c;
    cl_open(&c);
    double t0 = now_ms();
    cl_send(&c, "GET /echo/1 HTTP/1.1\r\nHost: t\r\n");   /* never finished */
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 3000), 0);
    double took = now_ms() - t0;
    json_t *o = problem(&r, 408, "request-timeout");
    cr_assert_geq(took, 250, "408 after %.0f ms, before the deadline", took);
    cr_assert_leq(took, 1500, "408 after %.0f ms", took);
    cr_assert(cl_sees_close(&c, 3000));
    json_decref(o);
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, trickled_request_keeps_its_deadline)
{
    /* Sending a byte at a time does not extend the request deadline. */
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    double t0 = now_ms();
    const char *part = "GET /echo/1 HTTP/1.1\r\nX-Slow: ";
    cl_send(&c, part);
    struct resp r;
    int got = -1;
    for (int i = 0; i < 20 && got != 0; i++) {
        usleep(50 * 1000);
        td_test_send_all(c.fd, "a", 1);
        got = cl_response(&c, &r, 0, 10);
    }
    if (got != 0)
        got = cl_response(&c, &r, 0, 2000);
    cr_assert_eq(got, 0);
    cr_assert_eq(r.status, 408);
    cr_assert_leq(now_ms() - t0, 800, "408 after %.0f ms", now_ms() - t0);
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, idle_keep_alive_connection_closed)
{
    struct td_http_opts o = default_opts();
    o.idle_timeout_ms = 400;
    start_server(o);
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/"));
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    resp_free(&r);
    double t0 = now_ms();
    cr_assert(cl_sees_close(&c, 3000), "idle connection must be closed");
    double took = now_ms() - t0;
    cr_assert_geq(took, 300, "closed after %.0f ms", took);
    cr_assert_leq(took, 2000, "closed after %.0f ms", took);
    cl_close(&c);

    /* A connection that never sends anything is idle too (no 408). */
    cl_open(&c);
    cr_assert(cl_sees_close(&c, 3000));
    cl_close(&c);
    stop_server();
}

Test(http, malformed_request_is_400)
{
    start_server(default_opts());
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost t\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct client c;
        cl_open(&c);
        cl_send(&c, bad[i]);
        struct resp r;
        cr_assert_eq(cl_response(&c, &r, 0, 2000), 0, "no answer to %zu", i);
        cr_assert_eq(r.status, 400, "request %zu: %s", i, r.head);
        json_decref(problem(&r, 400, "malformed-request"));
        cr_assert(cl_sees_close(&c, 3000));
        resp_free(&r);
        cl_close(&c);
    }
    stop_server();
}

/* Sends raw, expects a 400 malformed-request problem with Connection: close, then the
 * server closing the connection. */
static void expect_400_and_close(const char *raw)
{
    struct client c;
    cl_open(&c);
    cl_send(&c, raw);
    struct resp r;
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0, "no answer to: %s", raw);
    json_decref(problem(&r, 400, "malformed-request"));
    char *conn = hdr(&r, "Connection");
    cr_assert_str_eq(conn, "close", "%s", raw);
    free(conn);
    cr_assert(cl_sees_close(&c, 3000), "connection left open after: %s", raw);
    resp_free(&r);
    cl_close(&c);
}

Test(http, http10_with_transfer_encoding_is_400_and_closes)
{
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing, even when the
     * client asks to keep the connection. */
    start_server(default_opts());
    expect_400_and_close("POST /echo/1 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n0\r\n\r\n");
    expect_400_and_close("POST /echo/1 HTTP/1.0\r\nConnection: keep-alive\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                         "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect_400_and_close("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                         "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    /* the same body in HTTP/1.1 is fine */
    struct resp r;
    request("POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, request_line_without_version_is_400_and_closes)
{
    /* HTTP/0.9 style: llhttp accepts it, the server must not route it. */
    start_server(default_opts());
    expect_400_and_close("GET /\r\n\r\n");
    expect_400_and_close("GET /echo/1\r\nHost: t\r\n\r\n" GET("/"));
    stop_server();
}

Test(http, malformed_request_after_a_pending_one_waits_its_turn)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/slow?ms=80") "GARBAGE\r\n\r\n");
    struct resp a, b;
    cr_assert_eq(cl_response(&c, &a, 0, 2000), 0);
    cr_assert_eq(a.status, 200, "the earlier request is answered first: %s", a.head);
    cr_assert_str_eq(a.body, "slow /slow");
    cr_assert_eq(cl_response(&c, &b, 0, 2000), 0);
    json_decref(problem(&b, 400, "malformed-request"));
    cr_assert(cl_sees_close(&c, 3000));
    resp_free(&a);
    resp_free(&b);
    cl_close(&c);
    stop_server();
}

Test(http, request_target_must_be_a_path)
{
    start_server(default_opts());
    struct resp r;
    request("GET http://example.com/echo/abs HTTP/1.1\r\nHost: example.com\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200, "absolute-form keeps its path");
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "id"), "abs");
    json_decref(o);
    resp_free(&r);
    stop_server();
}

Test(http, expect_100_continue)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    struct resp interim, r;
    cr_assert_eq(cl_response(&c, &interim, 0, 2000), 0);
    cr_assert_eq(interim.status, 100);
    cl_send(&c, "abc");
    cr_assert_eq(cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    json_t *o = body_json(&r);
    cr_assert_str_eq(jstr(o, "body"), "abc");
    json_decref(o);
    resp_free(&interim);
    resp_free(&r);
    cl_close(&c);
    stop_server();
}

Test(http, client_gone_before_async_answer)
{
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/slow?ms=150"));
    usleep(30 * 1000);
    cl_close(&c);   /* leaves before the answer */
    double t0 = now_ms();
    while (atomic_load(&S.slow_answered) == 0 && now_ms() - t0 < 2000)
        usleep(10 * 1000);
    cr_assert_eq(atomic_load(&S.slow_answered), 1);
    cr_assert_eq(atomic_load(&S.slow_client_gone), 1, "the handler could tell");
    /* the server is still fine */
    struct resp r;
    request(GET("/"), &r, 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    stop_server();
}

Test(http, close_with_async_request_in_flight)
{
    /* td_http_close while a handler still works: the server is freed after it answers. */
    start_server(default_opts());
    struct client c;
    cl_open(&c);
    cl_send(&c, GET("/slow?ms=100"));
    usleep(20 * 1000);
    stop_server();   /* asserts uv_loop_close == 0 */
    cr_assert_eq(atomic_load(&S.slow_answered), 1);
    cl_close(&c);
}

static void on_drained(void *arg)
{
    (void)arg;
    atomic_store(&S.drained, 1);
}

static void cmd_drain(void)
{
    td_http_drain(S.http, on_drained, NULL);
}

Test(http, drain_finishes_in_flight_request_then_calls_done)
{
    start_server(default_opts());
    struct client busy, idle;
    cl_open(&idle);
    cl_send(&idle, GET("/"));
    struct resp r;
    cr_assert_eq(cl_response(&idle, &r, 0, 2000), 0);
    resp_free(&r);

    cl_open(&busy);
    cl_send(&busy, GET("/slow?ms=200"));
    usleep(50 * 1000);   /* the request is with its handler */
    run_on_loop(cmd_drain);

    cr_assert(cl_sees_close(&idle, 1000), "idle connections close at once on drain");
    cr_assert_eq(td_test_connect(S.port), -1, "no new connections while draining");
    cr_assert_eq(atomic_load(&S.drained), 0, "not drained while a request is in flight");

    cr_assert_eq(cl_response(&busy, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "slow /slow");
    char *conn = hdr(&r, "Connection");
    cr_assert_str_eq(conn, "close", "answers during a drain close their connection");
    free(conn);
    resp_free(&r);
    cr_assert(cl_sees_close(&busy, 2000));
    cl_close(&busy);
    cl_close(&idle);

    double t0 = now_ms();
    while (!atomic_load(&S.drained) && now_ms() - t0 < 2000)
        usleep(5 * 1000);
    cr_assert_eq(atomic_load(&S.drained), 1, "drain never called done");
    stop_server();
}

Test(http, drain_with_nothing_open_is_immediate)
{
    start_server(default_opts());
    run_on_loop(cmd_drain);
    double t0 = now_ms();
    while (!atomic_load(&S.drained) && now_ms() - t0 < 1000)
        usleep(5 * 1000);
    cr_assert_eq(atomic_load(&S.drained), 1);
    stop_server();
}

Test(http, max_connections_enforced)
{
    struct td_http_opts o = default_opts();
    o.max_connections = 2;
    start_server(o);
    struct client a, b, x;
    cl_open(&a);
    cl_open(&b);
    struct resp r;
    cl_send(&a, GET("/"));
    cr_assert_eq(cl_response(&a, &r, 0, 2000), 0);
    resp_free(&r);
    cl_send(&b, GET("/"));
    cr_assert_eq(cl_response(&b, &r, 0, 2000), 0);
    resp_free(&r);
    cl_open(&x);   /* the kernel accepts; the server closes it */
    cr_assert(cl_sees_close(&x, 2000), "third connection over the limit is closed");
    cl_close(&x);
    cl_close(&a);
    usleep(100 * 1000);   /* the server notices a's close */
    cl_open(&x);
    cl_send(&x, GET("/"));
    cr_assert_eq(cl_response(&x, &r, 0, 2000), 0, "room again after one closed");
    resp_free(&r);
    cl_close(&x);
    cl_close(&b);
    stop_server();
}

Test(http, metrics_and_access_log)
{
    start_server(default_opts());
    struct resp r;
    request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: log-me\r\n\r\n", &r, 0);
    resp_free(&r);
    request(GET("/echo/2"), &r, 0);
    resp_free(&r);
    request(GET("/missing"), &r, 0);
    resp_free(&r);
    /* Render on the test thread once the loop has stopped. */
    run_on_loop(cmd_close);
    pthread_join(S.thread, NULL);
    S.running = 0;
    cr_assert_eq(S.loop_close_rc, 0);
    struct td_buf out = {0};
    cr_assert_eq(td_metrics_render(S.metrics, &out), 0);
    cr_assert_not_null(strstr(out.data,
        "td_http_requests_total{route=\"/echo/{id}\",method=\"GET\",status=\"200\"} 2\n"), "%s",
        out.data);
    cr_assert_not_null(strstr(out.data,
        "td_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"), "%s",
        out.data);
    cr_assert_not_null(strstr(out.data,
        "td_http_request_duration_seconds_count{route=\"/echo/{id}\"} 2\n"), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "td_http_connections_total 3\n"), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "td_http_open_connections 0\n"), "%s", out.data);
    td_buf_free(&out);

    char *logs = server_logs();
    int found = 0;
    for (char *line = strtok(logs, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        cr_assert_not_null(o, "log line is not JSON: %s", line);
        if (jstr(o, "request_id") && strcmp(jstr(o, "request_id"), "log-me") == 0) {
            found = 1;
            cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
            cr_assert_str_eq(jstr(o, "method"), "GET");
            cr_assert_str_eq(jstr(o, "path"), "/echo/1");
            cr_assert_str_eq(jstr(o, "route"), "/echo/{id}");
            cr_assert(is_hex(jstr(o, "trace_id"), 32));
            cr_assert(json_is_number(json_object_get(o, "duration_ms")));
        }
        json_decref(o);
    }
    cr_assert(found, "no access log line for request log-me");
    free(logs);
    td_metrics_free(S.metrics);
    close(S.log.fd);
}

Test(http, routes_dump_and_bad_patterns)
{
    start_server(default_opts());
    struct td_buf out = {0};
    /* the loop thread only reads routes; dumping them here is safe */
    cr_assert_eq(td_http_routes_dump(S.http, &out), 0);
    cr_assert_not_null(strstr(out.data, "GET /echo/{id}\n"));
    cr_assert_not_null(strstr(out.data, "POST /items\n"));
    td_buf_free(&out);
    stop_server();
}

Test(http, listen_on_a_busy_port_fails)
{
    start_server(default_opts());
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct td_http_opts o = default_opts();
    o.port = S.port;
    struct td_http *h;
    cr_assert_eq(td_http_new(&loop, &o, &h), 0);
    cr_assert_eq(td_http_listen(h), UV_EADDRINUSE);
    td_http_close(h, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    stop_server();
}

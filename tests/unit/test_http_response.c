/* core/http_response.c: status texts, response headers, serialization, problem+json.
 * Serialization is tested on a bare request; respond/problem need a connection, so they
 * run through a live td_http server (loop in a thread, libcurl as the client). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_internal.h"
#include "tests/support/net_harness.h"

/* ------------------------------------------------------------ without a server */

Test(http_response, status_text)
{
    struct { int code; const char *text; } known[] = {
        {100, "Continue"}, {200, "OK"}, {201, "Created"}, {202, "Accepted"},
        {204, "No Content"}, {304, "Not Modified"}, {400, "Bad Request"},
        {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"},
        {410, "Gone"}, {412, "Precondition Failed"}, {413, "Content Too Large"},
        {414, "URI Too Long"}, {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
        {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        cr_assert_str_eq(td_http_status_text(known[i].code), known[i].text, "%d", known[i].code);
    cr_assert_str_eq(td_http_status_text(299), "Unknown");
    cr_assert_str_eq(td_http_status_text(0), "Unknown");
    cr_assert_str_eq(td_http_status_text(-1), "Unknown");
}

static void bare_req(struct td_http_req *req)
{
    memset(req, 0, sizeof *req);
    snprintf(req->request_id, sizeof req->request_id, "rid-1");
}

static void free_req(struct td_http_req *req)
{
    td_buf_free(&req->resp_headers);
    td_buf_free(&req->out);
}

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

Test(http_response, header_injection_refused)
{
    struct td_http_req req;
    bare_req(&req);
    cr_assert_eq(td_http_add_header(&req, "X-Ok", "fine value"), 0);
    cr_assert_eq(td_http_add_header(&req, "X-Bad", "a\r\nSet-Cookie: evil=1"), -EINVAL);
    cr_assert_eq(td_http_add_header(&req, "X-Bad", "a\nb"), -EINVAL);
    cr_assert_eq(td_http_add_header(&req, "X-Bad", "a\rb"), -EINVAL);
    cr_assert_eq(td_http_add_header(&req, "X-Bad\r\nEvil", "v"), -EINVAL);
    cr_assert_eq(td_http_add_header(&req, "X\nBad", "v"), -EINVAL);
    cr_assert_eq(td_http_add_header(&req, "", "v"), -EINVAL);
    cr_assert_str_eq(req.resp_headers.data, "X-Ok: fine value\r\n", "refused headers add nothing");
    cr_assert_eq(td_http_serialize(&req, 200, "text/plain", "x", 1, 1, DATE), 0);
    cr_assert_null(strstr(req.out.data, "evil"));
    cr_assert_null(strstr(req.out.data, "Evil"));
    free_req(&req);
}

Test(http_response, serialize_full_answer)
{
    struct td_http_req req;
    bare_req(&req);
    td_http_add_header(&req, "Location", "/api/tasks/1");
    cr_assert_eq(td_http_serialize(&req, 201, "application/json", "{\"id\":1}", 8, 1, DATE), 0);
    cr_assert_str_eq(req.out.data,
                     "HTTP/1.1 201 Created\r\n"
                     "Date: " DATE "\r\n"
                     "X-Request-ID: rid-1\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 8\r\n"
                     "Location: /api/tasks/1\r\n"
                     "\r\n"
                     "{\"id\":1}");
    free_req(&req);
}

Test(http_response, serialize_closing_answer)
{
    struct td_http_req req;
    bare_req(&req);
    cr_assert_eq(td_http_serialize(&req, 200, NULL, "abc", 3, 0, DATE), 0);
    cr_assert_not_null(strstr(req.out.data, "\r\nConnection: close\r\n"));
    cr_assert_null(strstr(req.out.data, "\r\nContent-Type"), "no type given: none sent");
    cr_assert_not_null(strstr(req.out.data, "\r\nContent-Length: 3\r\n"));
    cr_assert_eq(strcmp(req.out.data + req.out.len - 7, "\r\n\r\nabc"), 0);
    free_req(&req);
}

Test(http_response, serialize_head_keeps_length_drops_body)
{
    struct td_http_req req;
    bare_req(&req);
    req.is_head = 1;
    cr_assert_eq(td_http_serialize(&req, 200, "text/plain", "hello", 5, 1, DATE), 0);
    cr_assert_not_null(strstr(req.out.data, "\r\nContent-Length: 5\r\n"));
    cr_assert_eq(strcmp(req.out.data + req.out.len - 4, "\r\n\r\n"), 0, "no body: %s", req.out.data);
    free_req(&req);
}

Test(http_response, serialize_bodyless_statuses)
{
    int codes[] = {204, 304, 100};
    for (size_t i = 0; i < 3; i++) {
        struct td_http_req req;
        bare_req(&req);
        cr_assert_eq(td_http_serialize(&req, codes[i], "text/plain", "body", 4, 1, DATE), 0);
        cr_assert_null(strstr(req.out.data, "Content-Length"), "%d: %s", codes[i], req.out.data);
        cr_assert_null(strstr(req.out.data, "\r\nContent-Type"), "%d", codes[i]);
        cr_assert_eq(strcmp(req.out.data + req.out.len - 4, "\r\n\r\n"), 0, "%d", codes[i]);
        free_req(&req);
    }
}

Test(http_response, nosniff_on_every_answer)
{
    int codes[] = {200, 201, 204, 304, 400, 404, 405, 408, 413, 431, 500};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (int head = 0; head < 2; head++)
            for (int keep = 0; keep < 2; keep++) {
                struct td_http_req req;
                bare_req(&req);
                req.is_head = head;
                cr_assert_eq(td_http_serialize(&req, codes[i], "application/problem+json",
                                               "{}", 2, keep, DATE), 0);
                const char *at = strstr(req.out.data, "\r\nX-Content-Type-Options: nosniff\r\n");
                cr_assert_not_null(at, "%d: %s", codes[i], req.out.data);
                cr_assert_null(strstr(at + 3, "X-Content-Type-Options"), "once only");
                cr_assert_lt(at, strstr(req.out.data, "\r\n\r\n"), "in the head");
                free_req(&req);
            }
}

/* No answer leaks the URL that linked to it: the referrer policy is in every head. */
Test(http_response, referrer_policy_on_every_answer)
{
    int codes[] = {200, 201, 204, 304, 400, 401, 404, 405, 408, 413, 429, 431, 500, 503};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (int head = 0; head < 2; head++) {
            struct td_http_req req;
            bare_req(&req);
            req.is_head = head;
            td_http_add_header(&req, "Content-Security-Policy", "default-src 'self'");
            cr_assert_eq(td_http_serialize(&req, codes[i], "text/html; charset=utf-8", "<p>", 3,
                                           1, DATE), 0);
            const char *at = strstr(req.out.data, "\r\nReferrer-Policy: no-referrer\r\n");
            cr_assert_not_null(at, "%d: %s", codes[i], req.out.data);
            cr_assert_null(strstr(at + 3, "Referrer-Policy"), "once only");
            cr_assert_lt(at, strstr(req.out.data, "\r\n\r\n"), "in the head");
            cr_assert_not_null(strstr(req.out.data, "\r\nContent-Security-Policy: default-src 'self'\r\n"),
                               "a handler's own security header is kept");
            free_req(&req);
        }
}

Test(http_response, warm_buffer_serializes_without_growing)
{
    /* Requests are recycled with their buffers: once warm, an answer allocates nothing. */
    struct td_http_req req;
    bare_req(&req);
    snprintf(req.request_id, sizeof req.request_id, "%s",
             "a-request-id-as-long-as-the-server-accepts-0123456789abcdefghijk");
    td_http_serialize(&req, 431, "application/problem+json", "{}", 2, 0, DATE);
    char *data = req.out.data;
    size_t cap = req.out.cap;
    td_buf_reset(&req.out);
    cr_assert_eq(td_http_serialize(&req, 431, "application/problem+json", "{}", 2, 0, DATE), 0);
    cr_assert_eq(req.out.data, data);
    cr_assert_eq(req.out.cap, cap);
    free_req(&req);
}

Test(http_response, serialize_twice_replaces)
{
    struct td_http_req req;
    bare_req(&req);
    td_http_serialize(&req, 500, "text/plain", "first", 5, 1, DATE);
    td_http_serialize(&req, 200, "text/plain", "second", 6, 1, DATE);
    cr_assert_eq(strncmp(req.out.data, "HTTP/1.1 200 OK\r\n", 17), 0);
    cr_assert_null(strstr(req.out.data, "first"));
    cr_assert_eq(strstr(req.out.data, "HTTP/1.1"), req.out.data);
    cr_assert_null(strstr(req.out.data + 1, "HTTP/1.1"));
    free_req(&req);
}

Test(http_response, serialize_large_body_binary_safe)
{
    struct td_http_req req;
    bare_req(&req);
    size_t n = 300000;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i % 251);   /* includes NUL bytes */
    cr_assert_eq(td_http_serialize(&req, 200, "application/octet-stream", body, n, 1, DATE), 0);
    char *end = strstr(req.out.data, "\r\n\r\n");
    cr_assert_not_null(end);
    size_t head = (size_t)(end + 4 - req.out.data);
    cr_assert_eq(req.out.len, head + n);
    cr_assert_eq(memcmp(req.out.data + head, body, n), 0);
    free(body);
    free_req(&req);
}

/* ------------------------------------------------------------ through a live server */

static uv_loop_t loop;
static uv_async_t stop_async;
static struct td_http *http;
static pthread_t thread;
static int port;
static int loop_close_rc = -1;
static atomic_int add_header_results;   /* bitmask of refusals seen by the handler */

static void h_problem(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_problem(req, 422, "validation", "Unprocessable \"task\"",
                    "title: must not be empty\nline two", "\"errors\":[{\"field\":\"title\"}]");
}

static void h_problem_min(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_problem(req, 409, "conflict", "Conflict", NULL, NULL);
}

static void h_headers(struct td_http_req *req, void *arg)
{
    (void)arg;
    int refused = 0;
    if (td_http_add_header(req, "X-Inject", "v\r\nX-Evil: 1") == -EINVAL)
        refused |= 1;
    if (td_http_add_header(req, "X-Evil\r\nX", "v") == -EINVAL)
        refused |= 2;
    if (td_http_add_header(req, "X-Good", "yes") == 0)
        refused |= 4;
    atomic_store(&add_header_results, refused);
    struct td_buf b = {0};
    td_buf_puts(&b, "from a buffer");
    td_http_respond_buf(req, 200, "text/plain", &b);
    /* respond_buf took the bytes (and req is no longer ours) */
    if (b.data || b.len)
        abort();
}

static void on_stop(uv_async_t *a)
{
    td_http_close(http, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *run_loop(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    loop_close_rc = uv_loop_close(&loop);
    return NULL;
}

static void start(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_async_init(&loop, &stop_async, on_stop);
    static struct td_log log = {.level = TD_LOG_ERROR, .format = TD_LOG_JSON, .fd = 2};
    struct td_http_opts o = {.host = "127.0.0.1", .max_header_bytes = 8192, .max_headers = 50,
                             .max_body_bytes = 65536, .request_timeout_ms = 2000,
                             .idle_timeout_ms = 2000, .max_connections = 10, .log = &log};
    cr_assert_eq(td_http_new(&loop, &o, &http), 0);
    cr_assert_eq(td_http_listen(http), 0);
    port = td_http_port(http);
    td_http_route(http, "GET", "/problem/{x}", h_problem, NULL);
    td_http_route(http, "GET", "/conflict", h_problem_min, NULL);
    td_http_route(http, "GET", "/headers", h_headers, NULL);
    cr_assert_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
}

static void stop(void)
{
    uv_async_send(&stop_async);
    pthread_join(thread, NULL);
    cr_assert_eq(loop_close_rc, 0);
}

static json_t *problem_body(const struct td_test_http *r)
{
    json_error_t e;
    json_t *o = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, r->body);
    char *ct = td_test_header(r->headers, "Content-Type");
    cr_assert_str_eq(ct, "application/problem+json");
    free(ct);
    return o;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

Test(http_response, problem_json_fields)
{
    start();
    struct td_test_http r;
    const char *hdrs[] = {"X-Request-ID: prob-7", NULL};
    cr_assert_eq(td_test_http(port, "GET", "/problem/a%20b?x=1", NULL, hdrs, &r), 0);
    cr_assert_eq(r.status, 422);
    json_t *o = problem_body(&r);
    cr_assert_str_eq(jstr(o, "type"), TD_PROBLEM_BASE "validation");
    cr_assert_eq(strncmp(jstr(o, "type"), TD_PROBLEM_BASE, strlen(TD_PROBLEM_BASE)), 0);
    cr_assert_str_eq(jstr(o, "title"), "Unprocessable \"task\"");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 422);
    cr_assert_str_eq(jstr(o, "detail"), "title: must not be empty\nline two");
    cr_assert_str_eq(jstr(o, "instance"), "/problem/a%20b", "the path, without the query");
    cr_assert_str_eq(jstr(o, "request_id"), "prob-7");
    json_t *errs = json_object_get(o, "errors");
    cr_assert(json_is_array(errs));
    cr_assert_str_eq(jstr(json_array_get(errs, 0), "field"), "title");
    char *rid = td_test_header(r.headers, "X-Request-ID");
    cr_assert_str_eq(rid, "prob-7");
    free(rid);
    json_decref(o);
    td_test_http_free(&r);
    stop();
}

Test(http_response, problem_without_detail_or_extra)
{
    start();
    struct td_test_http r;
    cr_assert_eq(td_test_http(port, "GET", "/conflict", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 409);
    json_t *o = problem_body(&r);
    cr_assert_str_eq(jstr(o, "type"), TD_PROBLEM_BASE "conflict");
    cr_assert_str_eq(jstr(o, "title"), "Conflict");
    cr_assert_null(json_object_get(o, "detail"));
    cr_assert_str_eq(jstr(o, "instance"), "/conflict");
    char *rid = td_test_header(r.headers, "X-Request-ID");
    cr_assert_not_null(rid);
    cr_assert_str_eq(jstr(o, "request_id"), rid, "generated id in body and header");
    free(rid);
    cr_assert_eq(json_object_size(o), 5, "type, title, status, instance, request_id");
    json_decref(o);
    td_test_http_free(&r);
    stop();
}

Test(http_response, respond_buf_and_header_refusals)
{
    start();
    struct td_test_http r;
    cr_assert_eq(td_test_http(port, "GET", "/headers", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "from a buffer");
    cr_assert_eq(atomic_load(&add_header_results), 7);
    char *good = td_test_header(r.headers, "X-Good");
    cr_assert_str_eq(good, "yes");
    free(good);
    char *evil = td_test_header(r.headers, "X-Evil");
    cr_assert_null(evil);
    char *inject = td_test_header(r.headers, "X-Inject");
    cr_assert_null(inject);
    td_test_http_free(&r);

    /* HEAD through the server: Content-Length but no body. */
    cr_assert_eq(td_test_http(port, "HEAD", "/headers", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    char *len = td_test_header(r.headers, "Content-Length");
    cr_assert_str_eq(len, "13");
    free(len);
    cr_assert_eq(r.body_len, 0);
    td_test_http_free(&r);
    stop();
}

/* An in-process td_http server on a uv loop in a thread, and a raw-socket client, for the
 * unit tests of core/http*.c: every byte (pipelining, limits, timeouts, half-sent
 * requests) is under the test's control. One server per test: td_test_srv_start, then
 * td_test_srv_stop, which asserts the close callback ran and uv_loop_close succeeded. */
#ifndef TD_TEST_HTTP_HARNESS_H
#define TD_TEST_HTTP_HARNESS_H
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/http.h"
#include "tests/support/api_harness.h"   /* td_test_jstr */

struct td_test_srv {
    uv_loop_t          loop;
    uv_async_t         async;
    pthread_t          thread;
    int                running;
    struct td_http    *http;
    struct td_metrics *metrics;
    struct td_log      log;      /* JSON, into a temporary file (td_test_srv_logs) */
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
extern struct td_test_srv td_srv;

/* Limits small enough to reach in a test: 2048 header bytes, 20 headers, 1000 body bytes,
 * 300 ms request timeout, 2 s idle, 100 connections. */
struct td_http_opts td_test_srv_opts(void);
/* Starts the server with the standard routes:
 *   GET /                 "hello"
 *   GET, POST /echo/{id}  a JSON picture of the parsed request (td_test_srv_echo)
 *   GET /slow?ms=N        answers from a timer N ms later (default 20)
 *   POST /items           201 "made"
 *   GET /empty            204
 *   GET /big?n=BYTES      a body of n bytes ('a' + i % 26)
 * then calls routes(http), when not NULL, for the test's own; the loop thread starts
 * after. o.log and o.metrics are the harness's. */
void td_test_srv_start(struct td_http_opts o, void (*routes)(struct td_http *http));
void td_test_srv_stop(void);
/* Runs fn on the loop thread and waits until it returned. */
void td_test_srv_on_loop(void (*fn)(void));
/* Stops the loop without freeing the metrics or the log (to inspect them on the test
 * thread); td_test_srv_release then frees them. */
void td_test_srv_close_loop(void);
void td_test_srv_release(void);
/* td_http_drain on the loop thread; td_srv.drained becomes 1 when done. */
void td_test_srv_drain(void);
/* Everything logged so far, malloc'd. */
char *td_test_srv_logs(void);
/* The handler behind /echo/{id}, for tests registering it under other paths. */
void td_test_srv_echo(struct td_http_req *req, void *arg);

/* ---- raw client ---- */

struct td_test_client {
    int    fd;
    char  *buf;
    size_t len, cap;
    int    eof;
};

struct td_test_resp {
    int    status;
    char  *head;    /* status line + headers, NUL-terminated */
    char  *body;
    size_t body_len;
};

void td_test_cl_open(struct td_test_client *c);   /* to td_srv.port */
void td_test_cl_close(struct td_test_client *c);
void td_test_cl_send(struct td_test_client *c, const char *s);
/* Reads more bytes; >0 bytes, 0 on EOF/reset, -1 on timeout. */
int  td_test_cl_fill(struct td_test_client *c, int timeout_ms);
/* Reads one response (Content-Length framing; none for HEAD/204). 0, or -1 when the
 * connection closed or timeout_ms passed first. */
int  td_test_cl_response(struct td_test_client *c, struct td_test_resp *r, int head_request,
                         int timeout_ms);
/* 1 when the server closes the connection within timeout_ms with no further bytes. */
int  td_test_cl_sees_close(struct td_test_client *c, int timeout_ms);
/* One request on a fresh connection; asserts an answer came. */
void td_test_request(const char *raw, struct td_test_resp *r, int head_request);

/* A header of the answer, malloc'd, or NULL. */
char *td_test_resp_header(const struct td_test_resp *r, const char *name);
void  td_test_resp_free(struct td_test_resp *r);
json_t *td_test_resp_json(const struct td_test_resp *r);
/* Asserts an RFC 9457 answer with this status and slug; returns the parsed body. */
json_t *td_test_problem(const struct td_test_resp *r, int status, const char *slug);
int  td_test_is_hex(const char *s, size_t n);

#define TD_TEST_GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

#endif

/* core/http.c (the server: set-up, listening, routes, dispatch, metrics and access log,
 * drain and close) through a real td_http server on a uv loop in a thread (the harness
 * in tests/support/http_harness.c), driven with raw sockets. Each test ends by closing
 * the server and asserting uv_loop_close succeeds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http.h"
#include "tests/support/http_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"

/* ------------------------------------------------------------------ tests */

Test(http, simple_get)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/"), &r, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello");
    char *ct = td_test_resp_header(&r, "Content-Type"), *date = td_test_resp_header(&r, "Date"), *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(ct, "text/plain");
    cr_assert_not_null(date);
    cr_assert_not_null(strstr(date, " GMT"), "%s", date);
    cr_assert_null(conn, "keep-alive is the HTTP/1.1 default: no Connection header");
    free(ct);
    free(date);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, not_found_is_problem_json)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("GET /nowhere?x=1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: nf-1\r\n\r\n", &r, 0);
    json_t *o = td_test_problem(&r, 404, "not-found");
    cr_assert_str_eq(td_test_jstr(o, "instance"), "/nowhere");
    cr_assert_str_eq(td_test_jstr(o, "request_id"), "nf-1");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, method_not_allowed_lists_allow)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("DELETE /echo/5 HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    json_t *o = td_test_problem(&r, 405, "method-not-allowed");
    char *allow = td_test_resp_header(&r, "Allow");
    cr_assert_str_eq(allow, "GET, POST");
    free(allow);
    json_decref(o);
    td_test_resp_free(&r);

    td_test_request("GET /items HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    o = td_test_problem(&r, 405, "method-not-allowed");
    allow = td_test_resp_header(&r, "Allow");
    cr_assert_str_eq(allow, "POST");
    free(allow);
    json_decref(o);
    td_test_resp_free(&r);

    /* OPTIONS on a known path answers 204 with the list */
    td_test_request("OPTIONS /items HTTP/1.1\r\nHost: t\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 204);
    allow = td_test_resp_header(&r, "Allow");
    cr_assert_str_eq(allow, "POST");
    free(allow);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, bad_percent_encoding_in_path_is_400)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/echo/%zz"), &r, 0);
    json_t *o = td_test_problem(&r, 400, "bad-path");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, close_with_async_request_in_flight)
{
    /* td_http_close while a handler still works: the server is freed after it answers. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/slow?ms=100"));
    usleep(20 * 1000);
    td_test_srv_stop();   /* asserts uv_loop_close == 0 */
    cr_assert_eq(atomic_load(&td_srv.slow_answered), 1);
    td_test_cl_close(&c);
}

Test(http, drain_finishes_in_flight_request_then_calls_done)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client busy, idle;
    td_test_cl_open(&idle);
    td_test_cl_send(&idle, TD_TEST_GET("/"));
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&idle, &r, 0, 2000), 0);
    td_test_resp_free(&r);

    td_test_cl_open(&busy);
    td_test_cl_send(&busy, TD_TEST_GET("/slow?ms=200"));
    usleep(50 * 1000);   /* the request is with its handler */
    td_test_srv_drain();

    cr_assert(td_test_cl_sees_close(&idle, 1000), "idle connections close at once on drain");
    cr_assert_eq(td_test_connect(td_srv.port), -1, "no new connections while draining");
    cr_assert_eq(atomic_load(&td_srv.drained), 0, "not drained while a request is in flight");

    cr_assert_eq(td_test_cl_response(&busy, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "slow /slow");
    char *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(conn, "close", "answers during a drain close their connection");
    free(conn);
    td_test_resp_free(&r);
    cr_assert(td_test_cl_sees_close(&busy, 2000));
    td_test_cl_close(&busy);
    td_test_cl_close(&idle);

    double t0 = td_test_now_ms();
    while (!atomic_load(&td_srv.drained) && td_test_now_ms() - t0 < 2000)
        usleep(5 * 1000);
    cr_assert_eq(atomic_load(&td_srv.drained), 1, "drain never called done");
    td_test_srv_stop();
}

Test(http, drain_with_nothing_open_is_immediate)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    td_test_srv_drain();
    double t0 = td_test_now_ms();
    while (!atomic_load(&td_srv.drained) && td_test_now_ms() - t0 < 1000)
        usleep(5 * 1000);
    cr_assert_eq(atomic_load(&td_srv.drained), 1);
    td_test_srv_stop();
}

Test(http, metrics_and_access_log)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: log-me\r\n\r\n", &r, 0);
    td_test_resp_free(&r);
    td_test_request(TD_TEST_GET("/echo/2"), &r, 0);
    td_test_resp_free(&r);
    td_test_request(TD_TEST_GET("/missing"), &r, 0);
    td_test_resp_free(&r);
    /* Render on the test thread once the loop has stopped. */
    td_test_srv_close_loop();
    struct td_buf out = {0};
    cr_assert_eq(td_metrics_render(td_srv.metrics, &out), 0);
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

    char *logs = td_test_srv_logs();
    int found = 0;
    for (char *line = strtok(logs, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        cr_assert_not_null(o, "log line is not JSON: %s", line);
        if (td_test_jstr(o, "request_id") && strcmp(td_test_jstr(o, "request_id"), "log-me") == 0) {
            found = 1;
            cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
            cr_assert_str_eq(td_test_jstr(o, "method"), "GET");
            cr_assert_str_eq(td_test_jstr(o, "path"), "/echo/1");
            cr_assert_str_eq(td_test_jstr(o, "route"), "/echo/{id}");
            cr_assert(td_test_is_hex(td_test_jstr(o, "trace_id"), 32));
            cr_assert(json_is_number(json_object_get(o, "duration_ms")));
        }
        json_decref(o);
    }
    cr_assert(found, "no access log line for request log-me");
    free(logs);
    td_test_srv_release();
}

Test(http, routes_dump_and_bad_patterns)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_buf out = {0};
    /* the loop thread only reads routes; dumping them here is safe */
    cr_assert_eq(td_http_routes_dump(td_srv.http, &out), 0);
    cr_assert_not_null(strstr(out.data, "GET /echo/{id}\n"));
    cr_assert_not_null(strstr(out.data, "POST /items\n"));
    td_buf_free(&out);
    td_test_srv_stop();
}

Test(http, listen_on_a_busy_port_fails)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct td_http_opts o = td_test_srv_opts();
    o.port = td_srv.port;
    struct td_http *h;
    cr_assert_eq(td_http_new(&loop, &o, &h), 0);
    cr_assert_eq(td_http_listen(h), UV_EADDRINUSE);
    td_http_close(h, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    td_test_srv_stop();
}

static void quiet_routes(struct td_http *http)
{
    cr_assert_eq(td_http_route_flags(http, "GET", "/probe", TD_ROUTE_QUIET, td_test_srv_echo,
                                     NULL), 0);
}

/* The level of the access line for a request id; NULL when there is none. */
static char *access_level(const char *logs, const char *request_id)
{
    char *copy = strdup(logs), *save = NULL, *level = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !level;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o, "log line is not JSON: %s", line);
        const char *rid = td_test_jstr(o, "request_id");
        if (rid && strcmp(rid, request_id) == 0 && json_object_get(o, "status"))
            level = strdup(td_test_jstr(o, "level"));
        json_decref(o);
    }
    free(copy);
    return level;
}

Test(http, quiet_route_logs_no_access_line_at_info)
{
    td_test_srv_start(td_test_srv_opts(), quiet_routes);   /* log level info */
    struct td_test_resp r;
    td_test_request("GET /probe HTTP/1.1\r\nHost: t\r\nX-Request-ID: quiet-1\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: loud-1\r\n\r\n", &r, 0);
    td_test_resp_free(&r);
    /* the path alone makes nothing quiet any more: only the route's flag does */
    td_test_request("GET /health HTTP/1.1\r\nHost: t\r\nX-Request-ID: loud-2\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 404);
    td_test_resp_free(&r);
    td_test_srv_close_loop();   /* every answer is logged before the loop ends */
    char *logs = td_test_srv_logs();
    char *quiet = access_level(logs, "quiet-1"), *loud = access_level(logs, "loud-1"),
         *other = access_level(logs, "loud-2");
    cr_assert_null(quiet, "quiet route logged at %s:\n%s", quiet, logs);
    cr_assert_str_eq(loud, "info", "%s", logs);
    cr_assert_str_eq(other, "info", "%s", logs);
    free(loud);
    free(other);
    free(logs);
    td_test_srv_release();
}

static void quiet_routes_debug(struct td_http *http)
{
    quiet_routes(http);
    td_srv.log.level = TD_LOG_DEBUG;   /* the loop thread has not started yet */
}

Test(http, quiet_route_logs_at_debug)
{
    td_test_srv_start(td_test_srv_opts(), quiet_routes_debug);
    struct td_test_resp r;
    td_test_request("GET /probe HTTP/1.1\r\nHost: t\r\nX-Request-ID: quiet-2\r\n\r\n", &r, 0);
    td_test_resp_free(&r);
    td_test_srv_close_loop();
    char *logs = td_test_srv_logs();
    char *level = access_level(logs, "quiet-2");
    cr_assert_str_eq(level, "debug", "%s", logs);
    free(level);
    free(logs);
    td_test_srv_release();
}

Test(http, dispatch_answers_carry_nosniff)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    const char *raw[] = {TD_TEST_GET("/nowhere"), "DELETE /items HTTP/1.1\r\nHost: t\r\n\r\n",
                         "OPTIONS /items HTTP/1.1\r\nHost: t\r\n\r\n", TD_TEST_GET("/echo/%zz"),
                         TD_TEST_GET("/empty")};
    int want[] = {404, 405, 204, 400, 204};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        struct td_test_resp r;
        td_test_request(raw[i], &r, 0);
        cr_assert_eq(r.status, want[i], "%s", r.head);
        char *v = td_test_resp_header(&r, "X-Content-Type-Options");
        cr_assert_str_eq(v, "nosniff", "%s", r.head);
        free(v);
        td_test_resp_free(&r);
    }
    td_test_srv_stop();
}

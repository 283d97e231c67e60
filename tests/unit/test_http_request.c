/* core/http_request.c (request accessors: path, query, headers, parameters, body, ids,
 * trace context, peer) through a real td_http server on a uv loop in a thread (the
 * harness in tests/support/http_harness.c); the /echo/{id} handler answers with a JSON
 * picture of what the accessors returned. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http_internal.h"   /* a bare request for the unmatched case */
#include "tests/support/http_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"

/* ------------------------------------------------------------------ tests */

Test(http_request, request_details_reach_the_handler)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("POST /echo/a%20b?q=1&q=two%21&s=x+y HTTP/1.1\r\nHost: t\r\nX-Test:  padded  \r\n"
            "Content-Length: 5\r\n\r\nhello", &r, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "method"), "POST");
    cr_assert_str_eq(td_test_jstr(o, "path"), "/echo/a%20b");
    cr_assert_str_eq(td_test_jstr(o, "query"), "q=1&q=two%21&s=x+y");
    cr_assert_str_eq(td_test_jstr(o, "id"), "a b");
    cr_assert_str_eq(td_test_jstr(o, "route"), "/echo/{id}");
    cr_assert_str_eq(td_test_jstr(o, "xtest"), "padded", "OWS trimmed");
    cr_assert_str_eq(td_test_jstr(o, "q1"), "1");
    cr_assert_str_eq(td_test_jstr(o, "q2"), "two!");
    cr_assert_str_eq(td_test_jstr(o, "s"), "x y");
    cr_assert_str_eq(td_test_jstr(o, "body"), "hello");
    char *echo = td_test_resp_header(&r, "X-Echo");
    cr_assert_str_eq(echo, "yes");
    free(echo);
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http_request, malformed_query_pair_is_skipped_not_the_rest)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/echo/1?q=%zz&q=ok&s=%41%2") "", &r, 0);
    cr_assert_eq(r.status, 200);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "q1"), "ok", "the pair after a bad one still counts");
    cr_assert_null(td_test_jstr(o, "s"), "a bad value drops its pair");
    cr_assert_str_eq(td_test_jstr(o, "id"), "1", "path params survive query decoding");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_request(TD_TEST_GET("/echo/1?%zz=1&s=fine&q=a&q"), &r, 0);
    o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "s"), "fine");
    cr_assert_str_eq(td_test_jstr(o, "q1"), "a");
    cr_assert_str_eq(td_test_jstr(o, "q2"), "", "a name without = has an empty value");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http_request, request_id_echoed_when_valid)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc-123_x.y:z\r\n\r\n", &r, 0);
    char *rid = td_test_resp_header(&r, "X-Request-ID");
    cr_assert_str_eq(rid, "abc-123_x.y:z");
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "rid"), "abc-123_x.y:z");
    json_decref(o);
    free(rid);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http_request, request_id_generated_when_absent_or_invalid)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    const char *reqs[] = {
        TD_TEST_GET("/echo/1"),
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: has space\r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: quote\"d\r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: \r\n\r\n",
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: "
        "0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n",
    };
    char seen[5][64];
    for (int i = 0; i < 5; i++) {
        struct td_test_resp r;
        td_test_request(reqs[i], &r, 0);
        char *rid = td_test_resp_header(&r, "X-Request-ID");
        cr_assert_not_null(rid, "%d", i);
        cr_assert(td_test_is_hex(rid, 32), "request %d got generated id \"%s\"", i, rid);
        snprintf(seen[i], sizeof seen[i], "%s", rid);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(seen[j], rid);
        free(rid);
        td_test_resp_free(&r);
    }
    td_test_srv_stop();
}

#define TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

Test(http_request, traceparent_accepted)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" TRACE "-" PARENT "-01\r\n\r\n",
            &r, 0);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "trace"), TRACE);
    cr_assert_str_eq(td_test_jstr(o, "parent"), PARENT);
    cr_assert(td_test_is_hex(td_test_jstr(o, "span"), 16));
    cr_assert_str_neq(td_test_jstr(o, "span"), PARENT);
    json_decref(o);
    td_test_resp_free(&r);

    /* an invalid one starts a new trace */
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" TRACE "-" PARENT "-01-x\r\n\r\n",
            &r, 0);
    o = td_test_resp_json(&r);
    cr_assert(td_test_is_hex(td_test_jstr(o, "trace"), 32));
    cr_assert_str_neq(td_test_jstr(o, "trace"), TRACE);
    cr_assert_str_eq(td_test_jstr(o, "parent"), "");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http_request, client_gone_before_async_answer)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/slow?ms=150"));
    usleep(30 * 1000);
    td_test_cl_close(&c);   /* leaves before the answer */
    double t0 = td_test_now_ms();
    while (atomic_load(&td_srv.slow_answered) == 0 && td_test_now_ms() - t0 < 2000)
        usleep(10 * 1000);
    cr_assert_eq(atomic_load(&td_srv.slow_answered), 1);
    cr_assert_eq(atomic_load(&td_srv.slow_client_gone), 1, "the handler could tell");
    /* the server is still fine */
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/"), &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http_request, peer_is_the_clients_address)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/echo/1"), &r, 0);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "peer"), "127.0.0.1");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

static void flagged_routes(struct td_http *http)
{
    cr_assert_eq(td_http_route_flags(http, "GET", "/flagged/{id}", TD_ROUTE_QUIET | 1u << 3,
                                     td_test_srv_echo, NULL), 0);
    cr_assert_eq(td_http_route_flags(http, "GET", "/flagged/{id}", 0, td_test_srv_echo, NULL),
                 -EEXIST, "flags do not make a second route");
}

Test(http_request, route_flags_of_the_matched_route)
{
    td_test_srv_start(td_test_srv_opts(), flagged_routes);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/flagged/1"), &r, 0);
    json_t *o = td_test_resp_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(o, "flags")), TD_ROUTE_QUIET | 1u << 3);
    json_decref(o);
    td_test_resp_free(&r);
    td_test_request(TD_TEST_GET("/echo/1"), &r, 0);
    o = td_test_resp_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(o, "flags")), 0, "td_http_route is flags 0");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();

    /* no route matched (the server answers 404/405 itself): 0 */
    struct td_http_req bare;
    memset(&bare, 0, sizeof bare);
    cr_assert_eq(td_http_req_route_flags(&bare), 0u);
}

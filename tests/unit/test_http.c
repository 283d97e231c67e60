/* core/http.c through a real td_http server on a uv loop in a thread (the harness in
 * tests/support/http_harness.c), driven with raw sockets so every byte (pipelining,
 * limits, timeouts, half-sent requests) is under the test's control. Each test ends by
 * closing the server and asserting uv_loop_close succeeds. */
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

Test(http, request_details_reach_the_handler)
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

Test(http, malformed_query_pair_is_skipped_not_the_rest)
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

Test(http, chunked_body_under_limit_is_assembled)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "body"), "hello world");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, keep_alive_two_requests_one_connection)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    struct td_test_resp a, b;
    td_test_cl_send(&c, TD_TEST_GET("/echo/1"));
    cr_assert_eq(td_test_cl_response(&c, &a, 0, 2000), 0);
    td_test_cl_send(&c, TD_TEST_GET("/echo/2"));
    cr_assert_eq(td_test_cl_response(&c, &b, 0, 2000), 0, "second request on the same connection");
    json_t *ja = td_test_resp_json(&a), *jb = td_test_resp_json(&b);
    cr_assert_str_eq(td_test_jstr(ja, "id"), "1");
    cr_assert_str_eq(td_test_jstr(jb, "id"), "2");
    cr_assert_str_neq(td_test_jstr(ja, "rid"), td_test_jstr(jb, "rid"), "each request gets its own id");
    json_decref(ja);
    json_decref(jb);
    td_test_resp_free(&a);
    td_test_resp_free(&b);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, pipelined_answers_keep_order_behind_a_slow_one)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/slow?ms=60") TD_TEST_GET("/echo/2") TD_TEST_GET("/echo/3"));
    struct td_test_resp r[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(td_test_cl_response(&c, &r[i], 0, 3000), 0, "answer %d", i);
    cr_assert_str_eq(r[0].body, "slow /slow", "the slow answer comes first");
    json_t *j2 = td_test_resp_json(&r[1]), *j3 = td_test_resp_json(&r[2]);
    cr_assert_str_eq(td_test_jstr(j2, "id"), "2");
    cr_assert_str_eq(td_test_jstr(j3, "id"), "3");
    json_decref(j2);
    json_decref(j3);
    for (int i = 0; i < 3; i++)
        td_test_resp_free(&r[i]);
    /* still usable afterwards */
    struct td_test_resp more;
    td_test_cl_send(&c, TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&c, &more, 0, 2000), 0);
    cr_assert_str_eq(more.body, "hello");
    td_test_resp_free(&more);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, pipelined_many_small_requests)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    char all[100 * 64] = "";
    for (int i = 0; i < 100; i++) {
        char one[64];
        snprintf(one, sizeof one, "GET /echo/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        strcat(all, one);
    }
    td_test_cl_send(&c, all);
    for (int i = 0; i < 100; i++) {
        struct td_test_resp r;
        cr_assert_eq(td_test_cl_response(&c, &r, 0, 3000), 0, "answer %d", i);
        json_t *o = td_test_resp_json(&r);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(td_test_jstr(o, "id"), want);
        json_decref(o);
        td_test_resp_free(&r);
    }
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, pipelining_past_the_backpressure_limit_behind_a_slow_one)
{
    /* More requests than the server keeps pending: it stops reading, then resumes. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    size_t cap = 200 * 64, len = 0;
    char *all = malloc(cap);
    len += (size_t)snprintf(all, cap, TD_TEST_GET("/slow?ms=50"));
    for (int i = 1; i < 200; i++)
        len += (size_t)snprintf(all + len, cap - len, "GET /echo/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    td_test_cl_send(&c, all);
    free(all);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 3000), 0);
    cr_assert_str_eq(r.body, "slow /slow");
    td_test_resp_free(&r);
    for (int i = 1; i < 200; i++) {
        cr_assert_eq(td_test_cl_response(&c, &r, 0, 3000), 0, "answer %d", i);
        json_t *o = td_test_resp_json(&r);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(td_test_jstr(o, "id"), want);
        json_decref(o);
        td_test_resp_free(&r);
    }
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, large_answers_written_in_parts_and_in_order)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/big?n=3000000") TD_TEST_GET("/big?n=1000001") TD_TEST_GET("/"));
    size_t sizes[] = {3000000, 1000001};
    for (int k = 0; k < 2; k++) {
        struct td_test_resp r;
        cr_assert_eq(td_test_cl_response(&c, &r, 0, 5000), 0, "big answer %d", k);
        cr_assert_eq(r.body_len, sizes[k]);
        for (size_t i = 0; i < r.body_len; i += 4099)
            cr_assert_eq(r.body[i], (char)('a' + i % 26), "byte %zu of answer %d", i, k);
        cr_assert_eq(r.body[r.body_len - 1], (char)('a' + (r.body_len - 1) % 26));
        td_test_resp_free(&r);
    }
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_assert_str_eq(r.body, "hello");
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, client_leaves_during_a_large_write)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    td_test_cl_send(&c, TD_TEST_GET("/big?n=8000000"));
    usleep(100 * 1000);   /* the server is blocked on a full socket */
    td_test_cl_close(&c);
    usleep(100 * 1000);
    struct td_test_resp r;
    td_test_request(TD_TEST_GET("/"), &r, 0);   /* still serving */
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, request_id_echoed_when_valid)
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

Test(http, request_id_generated_when_absent_or_invalid)
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

Test(http, traceparent_accepted)
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

Test(http, head_has_content_length_but_no_body)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp get, head, after;
    td_test_request(TD_TEST_GET("/"), &get, 0);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(td_test_cl_response(&c, &head, 1, 2000), 0);
    cr_assert_eq(head.status, 200);
    char *l1 = td_test_resp_header(&get, "Content-Length"), *l2 = td_test_resp_header(&head, "Content-Length");
    cr_assert_str_eq(l2, l1);
    cr_assert_str_eq(l2, "5");
    free(l1);
    free(l2);
    /* No body bytes follow: the next answer on the connection starts right away. */
    td_test_cl_send(&c, TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&c, &after, 0, 2000), 0);
    cr_assert_str_eq(after.body, "hello");
    cr_assert_eq(c.len, 0);
    td_test_resp_free(&get);
    td_test_resp_free(&head);
    td_test_resp_free(&after);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, no_content_has_no_length_and_no_body)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    struct td_test_resp r, next;
    td_test_cl_send(&c, TD_TEST_GET("/empty") TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 204);
    char *cl = td_test_resp_header(&r, "Content-Length");
    cr_assert_null(cl);
    cr_assert_eq(td_test_cl_response(&c, &next, 0, 2000), 0);
    cr_assert_str_eq(next.body, "hello", "the 204 carried no body bytes");
    td_test_resp_free(&r);
    td_test_resp_free(&next);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, connection_close_honoured)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" TD_TEST_GET("/echo/after"));
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    char *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(td_test_cl_sees_close(&c, 2000), "nothing after a closing request is answered");
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, http10_closes_unless_keep_alive)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, "GET / HTTP/1.0\r\n\r\n");
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello");
    td_test_resp_free(&r);
    cr_assert(td_test_cl_sees_close(&c, 2000));
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, header_bytes_over_limit_is_431)
{
    td_test_srv_start(td_test_srv_opts(), NULL);   /* max_header_bytes 2048 */
    char big[4000];
    char pad[3000];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, big);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    json_t *o = td_test_problem(&r, 431, "headers-too-large");
    char *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(td_test_cl_sees_close(&c, 3000));
    json_decref(o);
    td_test_resp_free(&r);
    td_test_cl_close(&c);

    /* just under the limit is fine */
    pad[1800] = '\0';
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    td_test_request(big, &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, long_uri_is_414)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    char big[4000], path[3000];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(big, sizeof big, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    struct td_test_resp r;
    td_test_request(big, &r, 0);
    json_t *o = td_test_problem(&r, 414, "uri-too-long");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, too_many_headers_is_431)
{
    td_test_srv_start(td_test_srv_opts(), NULL);   /* max_headers 20 */
    char req[2048] = "GET / HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 25; i++) {
        char line[32];
        snprintf(line, sizeof line, "X-H%d: v\r\n", i);
        strcat(req, line);
    }
    strcat(req, "\r\n");
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, req);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    json_t *o = td_test_problem(&r, 431, "too-many-headers");
    cr_assert(td_test_cl_sees_close(&c, 3000));
    json_decref(o);
    td_test_resp_free(&r);
    td_test_cl_close(&c);

    /* exactly the limit is fine: Host + 19 */
    strcpy(req, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 19; i++) {
        char line[32];
        snprintf(line, sizeof line, "X-H%d: v\r\n", i);
        strcat(req, line);
    }
    strcat(req, "\r\n");
    td_test_request(req, &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, body_over_limit_by_content_length_is_413)
{
    td_test_srv_start(td_test_srv_opts(), NULL);   /* max_body_bytes 1000 */
    struct td_test_client c;
    td_test_cl_open(&c);
    /* Refused from the headers alone: the body is never sent. */
    td_test_cl_send(&c, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    json_t *o = td_test_problem(&r, 413, "body-too-large");
    char *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(conn, "close");
    free(conn);
    cr_assert(td_test_cl_sees_close(&c, 3000));
    json_decref(o);
    td_test_resp_free(&r);
    td_test_cl_close(&c);

    /* exactly the limit is accepted */
    char req[1200];
    int n = snprintf(req, sizeof req, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    memset(req + n, 'b', 1000);
    req[n + 1000] = '\0';
    td_test_request(req, &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, body_over_limit_chunked_is_413)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    char req[4000];
    char data[701];
    memset(data, 'c', 700);
    data[700] = '\0';
    /* two chunks of 700: the second crosses the 1000-byte limit */
    snprintf(req, sizeof req, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "2bc\r\n%s\r\n2bc\r\n%s\r\n0\r\n\r\n", data, data);
    td_test_cl_send(&c, req);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    json_t *o = td_test_problem(&r, 413, "body-too-large");
    cr_assert(td_test_cl_sees_close(&c, 3000));
    json_decref(o);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, incomplete_request_times_out_with_408_then_close)
{
    td_test_srv_start(td_test_srv_opts(), NULL);   /* request_timeout_ms 300 */
    struct td_test_client c;
    td_test_cl_open(&c);
    double t0 = td_test_now_ms();
    td_test_cl_send(&c, "GET /echo/1 HTTP/1.1\r\nHost: t\r\n");   /* never finished */
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 3000), 0);
    double took = td_test_now_ms() - t0;
    json_t *o = td_test_problem(&r, 408, "request-timeout");
    cr_assert_geq(took, 250, "408 after %.0f ms, before the deadline", took);
    cr_assert_leq(took, 1500, "408 after %.0f ms", took);
    cr_assert(td_test_cl_sees_close(&c, 3000));
    json_decref(o);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, trickled_request_keeps_its_deadline)
{
    /* Sending a byte at a time does not extend the request deadline. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    double t0 = td_test_now_ms();
    const char *part = "GET /echo/1 HTTP/1.1\r\nX-Slow: ";
    td_test_cl_send(&c, part);
    struct td_test_resp r;
    int got = -1;
    for (int i = 0; i < 20 && got != 0; i++) {
        usleep(50 * 1000);
        td_test_send_all(c.fd, "a", 1);
        got = td_test_cl_response(&c, &r, 0, 10);
    }
    if (got != 0)
        got = td_test_cl_response(&c, &r, 0, 2000);
    cr_assert_eq(got, 0);
    cr_assert_eq(r.status, 408);
    cr_assert_leq(td_test_now_ms() - t0, 800, "408 after %.0f ms", td_test_now_ms() - t0);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, idle_keep_alive_connection_closed)
{
    struct td_http_opts o = td_test_srv_opts();
    o.idle_timeout_ms = 400;
    td_test_srv_start(o, NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/"));
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    td_test_resp_free(&r);
    double t0 = td_test_now_ms();
    cr_assert(td_test_cl_sees_close(&c, 3000), "idle connection must be closed");
    double took = td_test_now_ms() - t0;
    cr_assert_geq(took, 300, "closed after %.0f ms", took);
    cr_assert_leq(took, 2000, "closed after %.0f ms", took);
    td_test_cl_close(&c);

    /* A connection that never sends anything is idle too (no 408). */
    td_test_cl_open(&c);
    cr_assert(td_test_cl_sees_close(&c, 3000));
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, malformed_request_is_400)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost t\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct td_test_client c;
        td_test_cl_open(&c);
        td_test_cl_send(&c, bad[i]);
        struct td_test_resp r;
        cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0, "no answer to %zu", i);
        cr_assert_eq(r.status, 400, "request %zu: %s", i, r.head);
        json_decref(td_test_problem(&r, 400, "malformed-request"));
        cr_assert(td_test_cl_sees_close(&c, 3000));
        td_test_resp_free(&r);
        td_test_cl_close(&c);
    }
    td_test_srv_stop();
}

/* Sends raw, expects a 400 malformed-request problem with Connection: close, then the
 * server closing the connection. */
static void expect_400_and_close(const char *raw)
{
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, raw);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0, "no answer to: %s", raw);
    json_decref(td_test_problem(&r, 400, "malformed-request"));
    char *conn = td_test_resp_header(&r, "Connection");
    cr_assert_str_eq(conn, "close", "%s", raw);
    free(conn);
    cr_assert(td_test_cl_sees_close(&c, 3000), "connection left open after: %s", raw);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
}

Test(http, http10_with_transfer_encoding_is_400_and_closes)
{
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing, even when the
     * client asks to keep the connection. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    expect_400_and_close("POST /echo/1 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n0\r\n\r\n");
    expect_400_and_close("POST /echo/1 HTTP/1.0\r\nConnection: keep-alive\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                         "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect_400_and_close("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                         "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    /* the same body in HTTP/1.1 is fine */
    struct td_test_resp r;
    td_test_request("POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, request_line_without_version_is_400_and_closes)
{
    /* HTTP/0.9 style: llhttp accepts it, the server must not route it. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    expect_400_and_close("GET /\r\n\r\n");
    expect_400_and_close("GET /echo/1\r\nHost: t\r\n\r\n" TD_TEST_GET("/"));
    td_test_srv_stop();
}

Test(http, malformed_request_after_a_pending_one_waits_its_turn)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, TD_TEST_GET("/slow?ms=80") "GARBAGE\r\n\r\n");
    struct td_test_resp a, b;
    cr_assert_eq(td_test_cl_response(&c, &a, 0, 2000), 0);
    cr_assert_eq(a.status, 200, "the earlier request is answered first: %s", a.head);
    cr_assert_str_eq(a.body, "slow /slow");
    cr_assert_eq(td_test_cl_response(&c, &b, 0, 2000), 0);
    json_decref(td_test_problem(&b, 400, "malformed-request"));
    cr_assert(td_test_cl_sees_close(&c, 3000));
    td_test_resp_free(&a);
    td_test_resp_free(&b);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, request_target_must_be_a_path)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_resp r;
    td_test_request("GET http://example.com/echo/abs HTTP/1.1\r\nHost: example.com\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200, "absolute-form keeps its path");
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "id"), "abs");
    json_decref(o);
    td_test_resp_free(&r);
    td_test_srv_stop();
}

Test(http, expect_100_continue)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    struct td_test_resp interim, r;
    cr_assert_eq(td_test_cl_response(&c, &interim, 0, 2000), 0);
    cr_assert_eq(interim.status, 100);
    td_test_cl_send(&c, "abc");
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    json_t *o = td_test_resp_json(&r);
    cr_assert_str_eq(td_test_jstr(o, "body"), "abc");
    json_decref(o);
    td_test_resp_free(&interim);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

Test(http, client_gone_before_async_answer)
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

Test(http, max_connections_enforced)
{
    struct td_http_opts o = td_test_srv_opts();
    o.max_connections = 2;
    td_test_srv_start(o, NULL);
    struct td_test_client a, b, x;
    td_test_cl_open(&a);
    td_test_cl_open(&b);
    struct td_test_resp r;
    td_test_cl_send(&a, TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&a, &r, 0, 2000), 0);
    td_test_resp_free(&r);
    td_test_cl_send(&b, TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&b, &r, 0, 2000), 0);
    td_test_resp_free(&r);
    td_test_cl_open(&x);   /* the kernel accepts; the server closes it */
    cr_assert(td_test_cl_sees_close(&x, 2000), "third connection over the limit is closed");
    td_test_cl_close(&x);
    td_test_cl_close(&a);
    usleep(100 * 1000);   /* the server notices a's close */
    td_test_cl_open(&x);
    td_test_cl_send(&x, TD_TEST_GET("/"));
    cr_assert_eq(td_test_cl_response(&x, &r, 0, 2000), 0, "room again after one closed");
    td_test_resp_free(&r);
    td_test_cl_close(&x);
    td_test_cl_close(&b);
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

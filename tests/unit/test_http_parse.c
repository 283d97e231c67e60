/* core/http_parse.c (the request line, headers and body as llhttp delivers them: framing,
 * the header, URI and body limits, Expect: 100-continue) through a real td_http server on a uv loop in a thread (the
 * harness in tests/support/http_harness.c), driven with raw sockets so every byte is under
 * the test's control. Each test ends by closing the server and asserting uv_loop_close
 * succeeds. */
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

Test(http_parse, chunked_body_under_limit_is_assembled)
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

Test(http_parse, header_bytes_over_limit_is_431)
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

Test(http_parse, long_uri_is_414)
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

Test(http_parse, too_many_headers_is_431)
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

Test(http_parse, body_over_limit_by_content_length_is_413)
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

Test(http_parse, body_over_limit_chunked_is_413)
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

Test(http_parse, malformed_request_is_400)
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

Test(http_parse, http10_with_transfer_encoding_is_400_and_closes)
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

Test(http_parse, request_line_without_version_is_400_and_closes)
{
    /* HTTP/0.9 style: llhttp accepts it, the server must not route it. */
    td_test_srv_start(td_test_srv_opts(), NULL);
    expect_400_and_close("GET /\r\n\r\n");
    expect_400_and_close("GET /echo/1\r\nHost: t\r\n\r\n" TD_TEST_GET("/"));
    td_test_srv_stop();
}

Test(http_parse, request_target_must_be_a_path)
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

Test(http_parse, expect_100_continue)
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

/* An upgrade request its handler answers normally (no td_http_take) is the last one of its
 * connection: what follows it is another protocol's bytes, never parsed as a request. */
Test(http_parse, upgrade_answered_normally_closes_and_reads_nothing_after)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
                        "GET /empty HTTP/1.1\r\nHost: t\r\n\r\n");
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 2000), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "hello");
    td_test_resp_free(&r);
    cr_expect(td_test_cl_sees_close(&c, 3000), "the connection stayed open");
    cr_expect_eq(c.len, 0, "a second answer came: %.*s", (int)c.len, c.buf);
    td_test_cl_close(&c);
    td_test_srv_stop();
}

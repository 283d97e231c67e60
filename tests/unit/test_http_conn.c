/* core/http_conn.c (connections: keep-alive, pipelining, backpressure, timeouts,
 * partial writes, linger) through a real td_http server on a uv loop in a thread (the
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

Test(http_conn, keep_alive_two_requests_one_connection)
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

Test(http_conn, pipelined_answers_keep_order_behind_a_slow_one)
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

Test(http_conn, pipelined_many_small_requests)
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

Test(http_conn, pipelining_past_the_backpressure_limit_behind_a_slow_one)
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

Test(http_conn, large_answers_written_in_parts_and_in_order)
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

Test(http_conn, client_leaves_during_a_large_write)
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

Test(http_conn, head_has_content_length_but_no_body)
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

Test(http_conn, no_content_has_no_length_and_no_body)
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

Test(http_conn, connection_close_honoured)
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

Test(http_conn, http10_closes_unless_keep_alive)
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

Test(http_conn, incomplete_request_times_out_with_408_then_close)
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

Test(http_conn, trickled_request_keeps_its_deadline)
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

Test(http_conn, idle_keep_alive_connection_closed)
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

Test(http_conn, malformed_request_after_a_pending_one_waits_its_turn)
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

Test(http_conn, max_connections_enforced)
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

/* The answer to raw on a fresh connection carries X-Content-Type-Options: nosniff. */
static void expect_nosniff(const char *raw, int status)
{
    struct td_test_client c;
    td_test_cl_open(&c);
    td_test_cl_send(&c, raw);
    struct td_test_resp r;
    cr_assert_eq(td_test_cl_response(&c, &r, 0, 3000), 0, "no answer to: %.60s", raw);
    cr_assert_eq(r.status, status, "%s", r.head);
    char *v = td_test_resp_header(&r, "X-Content-Type-Options");
    cr_assert_str_eq(v, "nosniff", "%s", r.head);
    free(v);
    td_test_resp_free(&r);
    td_test_cl_close(&c);
}

Test(http_conn, the_servers_own_answers_carry_nosniff)
{
    td_test_srv_start(td_test_srv_opts(), NULL);
    char big[4000], pad[3000];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    expect_nosniff("GARBAGE\r\n\r\n", 400);
    expect_nosniff("GET /\r\n\r\n", 400);
    expect_nosniff("GET /echo/1 HTTP/1.1\r\nHost: t\r\n", 408);   /* never finished */
    expect_nosniff("POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n", 413);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    expect_nosniff(big, 431);
    snprintf(big, sizeof big, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", pad);
    expect_nosniff(big, 414);
    expect_nosniff(TD_TEST_GET("/"), 200);
    td_test_srv_stop();
}

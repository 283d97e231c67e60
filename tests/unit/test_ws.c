#define _GNU_SOURCE
/* core/ws.c: the hand-off from the HTTP server
 * (bytes sent with the request included), frames both ways, limits (1009, 1002), the
 * bounded queue, pings and the idle timeout, and the 1001 shutdown. A td_http server on
 * its loop thread (tests/support/http_harness.h) with a /ws route, and the raw client of
 * tests/support/ws_harness.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/ws.h"
#include "tests/support/http_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/ws_harness.h"

static struct td_ws *ws;
static struct td_ws_opts ws_opts;
static atomic_int closed_code, closed_calls, flood_refused, shut_done;

static void on_closed(struct td_ws_conn *c, int code, void *arg)
{
    (void)c;
    (void)arg;
    atomic_store(&closed_code, code);
    atomic_fetch_add(&closed_calls, 1);
}

/* /ws: accepts and says welcome. /flood: accepts and queues 64 KiB messages until the
 * queue refuses one. */
static void ws_route(struct td_http_req *req, void *arg)
{
    (void)arg;
    if (td_ws_check(req) != 0)
        return;
    struct td_ws_conn *c;
    if (td_ws_accept(ws, req, on_closed, NULL, &c) == 0)
        td_ws_send_text(c, "welcome", 7);
}

static void flood_route(struct td_http_req *req, void *arg)
{
    (void)arg;
    struct td_ws_conn *c;
    if (td_ws_check(req) != 0 || td_ws_accept(ws, req, on_closed, NULL, &c) != 0)
        return;
    static char big[65536];
    memset(big, 'f', sizeof big);
    struct td_ws_msg *m = td_ws_msg_new(big, sizeof big);
    for (int i = 0; i < 1000; i++) {
        int rc = td_ws_send(c, m);
        if (rc == -ENOBUFS) {
            atomic_store(&flood_refused, i + 1);
            break;
        }
        if (rc)
            break;
    }
    td_ws_msg_unref(m);
}

static void routes(struct td_http *http)
{
    cr_assert_eq(td_ws_new(&td_srv.loop, &ws_opts, &ws), 0);
    td_http_route(http, "GET", "/ws", ws_route, NULL);
    td_http_route(http, "GET", "/flood", flood_route, NULL);
}

static void start_capped(int ping_ms, int idle_ms, int max_connections)
{
    ws_opts = (struct td_ws_opts){.max_message = 1024, .ping_interval_ms = ping_ms,
                                  .idle_timeout_ms = idle_ms, .queue_max = 256 * 1024,
                                  .max_connections = max_connections};
    td_test_srv_start(td_test_srv_opts(), routes);
}

static void start_with(int ping_ms, int idle_ms)
{
    start_capped(ping_ms, idle_ms, 0);
}

static void free_ws(void)
{
    td_ws_free(ws);
    ws = NULL;
}

static void stop(void)
{
    td_test_srv_on_loop(free_ws);
    td_test_srv_stop();
}

static void open_ok(struct td_test_ws *c, const char *path)
{
    cr_assert_eq(td_test_ws_open(c, td_srv.port, path, NULL, 0), 101, "%s", c->body);
    cr_expect(c->accept_ok, "%s", c->head);
}

Test(ws, frames_flow_both_ways_and_a_close_is_answered)
{
    start_with(30000, 60000);
    struct td_test_ws c;
    open_ok(&c, "/ws");
    char *p = NULL;
    size_t len;
    cr_assert_eq(td_test_ws_recv(&c, 5000, &p, &len), 1);
    cr_expect_str_eq(p, "welcome");
    free(p);
    cr_assert_eq(td_test_ws_send(&c, 9, "hi", 2, 1), 0);
    cr_assert_eq(td_test_ws_recv(&c, 5000, &p, &len), 10, "no pong");
    cr_expect_str_eq(p, "hi");
    free(p);
    cr_assert_eq(td_test_ws_send(&c, 8, "\x03\xe8", 2, 1), 0);
    cr_expect_eq(td_test_ws_wait_close(&c, 5000), 1000);
    td_test_ws_free(&c);
    for (int i = 0; i < 200 && !atomic_load(&closed_calls); i++)
        usleep(10000);
    cr_expect_eq(atomic_load(&closed_calls), 1);
    cr_expect_eq(atomic_load(&closed_code), 1000);
    cr_expect_eq(td_http_open_connections(td_srv.http), 0, "the HTTP server let go of it");
    stop();
}

Test(ws, bytes_sent_right_behind_the_handshake_reach_the_websocket)
{
    start_with(30000, 60000);
    int fd = td_test_connect(td_srv.port);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    /* a masked ping "ab" in the same write */
    memcpy(req + n, "\x89\x82\x01\x02\x03\x04", 6);
    req[n + 6] = 'a' ^ 1;
    req[n + 7] = 'b' ^ 2;
    td_test_send_all(fd, req, (size_t)n + 8);
    size_t got = 0;
    char *all = td_test_recv_all(fd, 1000, &got);
    cr_assert(all && got > 0);
    cr_expect(memmem(all, got, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28), "no accept key");
    cr_expect(memmem(all, got, "\x8a\x02" "ab", 4), "the ping sent with the request got no pong");
    free(all);
    close(fd);
    stop();
}

Test(ws, oversized_and_unmasked_frames_are_refused)
{
    start_with(30000, 60000);
    struct td_test_ws c;
    open_ok(&c, "/ws");
    char big[2000];
    memset(big, 'x', sizeof big);
    cr_assert_eq(td_test_ws_send(&c, 1, big, sizeof big, 1), 0);
    cr_expect_eq(td_test_ws_wait_close(&c, 5000), 1009);
    td_test_ws_free(&c);
    open_ok(&c, "/ws");
    cr_assert_eq(td_test_ws_send(&c, 1, "x", 1, 0), 0);
    cr_expect_eq(td_test_ws_wait_close(&c, 5000), 1002);
    td_test_ws_free(&c);
    stop();
}

Test(ws, a_client_that_does_not_read_is_refused_more_and_closed)
{
    start_with(30000, 60000);
    struct td_test_ws c;
    cr_assert_eq(td_test_ws_open(&c, td_srv.port, "/flood", NULL, 4096), 101);
    for (int i = 0; i < 300 && !atomic_load(&flood_refused); i++)
        usleep(10000);
    int refused = atomic_load(&flood_refused);
    cr_expect(refused > 0 && refused < 1000, "the queue took %d messages of 64 KiB", refused);
    /* nothing read: the close frame cannot arrive, so the socket is cut after the grace */
    for (int i = 0; i < 400 && !atomic_load(&closed_calls); i++)
        usleep(10000);
    cr_expect_eq(atomic_load(&closed_calls), 1, "not closed after the grace");
    cr_expect_eq(atomic_load(&closed_code), 1008);
    td_test_ws_free(&c);
    stop();
}

Test(ws, clients_are_pinged_and_silent_ones_closed)
{
    start_with(100, 400);
    struct td_test_ws c;
    open_ok(&c, "/ws");
    c.auto_pong = 0;
    int code = td_test_ws_wait_close(&c, 5000);
    cr_expect_eq(code, 1001, "idle close: %d", code);
    cr_expect_geq(c.pings, 1, "no ping");
    td_test_ws_free(&c);
    /* one that answers stays */
    open_ok(&c, "/ws");
    char *p = NULL;
    size_t len;
    double until = td_test_now_ms() + 1000;
    while (td_test_now_ms() < until) {
        int op = td_test_ws_recv(&c, 100, &p, &len);
        free(p);
        p = NULL;
        cr_assert_neq(op, 8, "closed although it answered pings");
        cr_assert_neq(op, -2);
    }
    cr_expect_geq(c.pings, 3);
    td_test_ws_free(&c);
    stop();
}

static void on_shut(void *arg)
{
    (void)arg;
    atomic_store(&shut_done, 1);
}

static void shut(void)
{
    td_ws_shutdown(ws, on_shut, NULL);
}

Test(ws, shutdown_says_going_away_and_waits_for_the_clients)
{
    start_with(30000, 60000);
    struct td_test_ws a, b;
    open_ok(&a, "/ws");
    open_ok(&b, "/ws");
    td_test_srv_on_loop(shut);
    cr_expect_eq(td_test_ws_wait_close(&a, 5000), 1001);
    cr_expect_eq(td_test_ws_wait_close(&b, 5000), 1001);
    for (int i = 0; i < 300 && !atomic_load(&shut_done); i++)
        usleep(10000);
    cr_expect(atomic_load(&shut_done), "shutdown never finished");
    td_test_ws_free(&a);
    td_test_ws_free(&b);
    /* new handshakes are refused meanwhile */
    struct td_test_ws c;
    td_test_ws_open(&c, td_srv.port, "/ws", NULL, 0);
    cr_expect_eq(c.status, 503);
    td_test_ws_free(&c);
    stop();
}

/* An idle connection holds no wslay context; one is made for each frame and dropped at a
 * frame boundary only: a frame split across writes, and a message split across frames,
 * survive the pings and the idle time between their parts. */
Test(ws, frames_split_across_writes_and_pauses_arrive_whole)
{
    start_with(100, 5000);
    struct td_test_ws c;
    open_ok(&c, "/ws");
    char *p = NULL;
    size_t len;
    cr_assert_eq(td_test_ws_recv(&c, 5000, &p, &len), 1);
    free(p);
    /* "hello" masked with 0: a text frame, FIN clear (a first fragment), in three writes */
    const unsigned char part1[] = {0x01, 0x85, 0, 0};
    const unsigned char part2[] = {0, 0, 'h', 'e'};
    const unsigned char part3[] = {'l', 'l', 'o'};
    td_test_send_all(c.fd, part1, sizeof part1);
    usleep(300 * 1000);
    td_test_send_all(c.fd, part2, sizeof part2);
    usleep(300 * 1000);
    td_test_send_all(c.fd, part3, sizeof part3);
    usleep(300 * 1000);
    /* the last fragment: a continuation with FIN */
    cr_assert_eq(td_test_ws_send(&c, 0x80, "!", 1, 1), 0);
    usleep(300 * 1000);
    cr_assert_eq(td_test_ws_send(&c, 9, "ok", 2, 1), 0);
    int op;
    do {
        op = td_test_ws_recv(&c, 2000, &p, &len);
        cr_assert(op != 8 && op >= 0, "closed (%d, code %d)", op, c.close_code);
        free(p);
        p = NULL;
    } while (op != 10);
    cr_expect_geq(c.pings, 2);
    td_test_ws_free(&c);
    stop();
}

Test(ws, the_upgrade_carries_the_security_headers_of_every_answer)
{
    start_with(30000, 60000);
    struct td_test_ws c;
    open_ok(&c, "/ws");
    cr_expect(strcasestr(c.head, "\r\nX-Content-Type-Options: nosniff\r\n"), "%s", c.head);
    cr_expect(strcasestr(c.head, "\r\nReferrer-Policy: no-referrer\r\n"), "%s", c.head);
    td_test_ws_free(&c);
    stop();
}

/* Upgraded connections no longer count against the HTTP server's --max-connections:
 * the WebSockets have a cap of their own, and one closed makes room again. */
Test(ws, past_the_cap_an_upgrade_is_refused_until_one_closes)
{
    start_capped(30000, 60000, 2);
    struct td_test_ws a, b, c;
    open_ok(&a, "/ws");
    open_ok(&b, "/ws");
    cr_assert_eq(td_test_ws_open(&c, td_srv.port, "/ws", NULL, 0), 503, "%s", c.head);
    cr_expect(strstr(c.body, "too-many-connections"), "%s", c.body);
    td_test_ws_free(&c);
    cr_assert_eq(td_test_ws_send(&a, 8, "\x03\xe8", 2, 1), 0);
    cr_expect_eq(td_test_ws_wait_close(&a, 5000), 1000);
    td_test_ws_free(&a);
    for (int i = 0; i < 200 && atomic_load(&closed_calls) < 1; i++)
        usleep(10000);
    open_ok(&c, "/ws");
    td_test_ws_free(&c);
    td_test_ws_free(&b);
    stop();
}

/* HTTP limits and timeouts against a real `todod all` on a real PostgreSQL. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--request-timeout", "700ms",
                          "--max-body-bytes", "64KiB", "--idle-timeout", "1500ms", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(http_limits, .init = start, .fini = stop, .timeout = 60);

static int status_of(const char *resp)
{
    int status = 0;
    if (resp)
        sscanf(resp, "HTTP/1.1 %d", &status);
    return status;
}

Test(http_limits, header_of_100_kb_gets_431_then_close)
{
    int fd = td_test_connect(todod.port);
    cr_assert(fd >= 0);
    size_t n = 100 * 1024;
    char *req = malloc(n + 128);
    int head = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + head, 'a', n);
    strcpy(req + head + n, "\r\n\r\n");
    td_test_send_all(fd, req, strlen(req));   /* the server may stop reading part-way */
    size_t len;
    char *resp = td_test_recv_all(fd, 3000, &len);
    cr_expect_eq(status_of(resp), 431, "got: %.200s", resp);
    cr_expect(strstr(resp, "application/problem+json") != NULL);
    cr_expect(strstr(resp, "Connection: close") != NULL);
    cr_expect(strstr(resp, "\r\nX-Content-Type-Options: nosniff\r\n") != NULL, "%.300s", resp);
    free(resp);
    free(req);
    close(fd);
}

Test(http_limits, too_many_headers_get_431)
{
    int fd = td_test_connect(todod.port);
    char req[8192];
    int n = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 150; i++)
        n += sprintf(req + n, "X-H%d: v\r\n", i);
    n += sprintf(req + n, "\r\n");
    td_test_send_all(fd, req, (size_t)n);
    char *resp = td_test_recv_response(fd, 3000);
    cr_expect_eq(status_of(resp), 431, "got: %.200s", resp);
    free(resp);
    close(fd);
}

Test(http_limits, body_over_the_limit_gets_413)
{
    int fd = td_test_connect(todod.port);
    const char *req = "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n";
    td_test_send_all(fd, req, strlen(req));
    char *resp = td_test_recv_response(fd, 3000);
    cr_expect_eq(status_of(resp), 413, "got: %.200s", resp);
    cr_expect(strstr(resp, "\"status\":413") != NULL, "%s", resp);
    cr_expect(strstr(resp, "\r\nX-Content-Type-Options: nosniff\r\n") != NULL, "%.300s", resp);
    free(resp);
    close(fd);
}

Test(http_limits, trickling_client_gets_408)
{
    int fd = td_test_connect(todod.port);
    const char *part = "GET /health HTTP/1.1\r\nHost: x\r\n";
    /* One byte every 100 ms: each byte is "activity", but the request never completes
     * within the 700 ms request deadline. */
    for (size_t i = 0; i < strlen(part); i++) {
        if (td_test_send_all(fd, part + i, 1) != 0)
            break;
        usleep(100 * 1000);
        if (i > 12)
            break;
    }
    char *resp = td_test_recv_response(fd, 3000);
    cr_expect_eq(status_of(resp), 408, "got: %.200s", resp);
    free(resp);
    size_t len;
    char *rest = td_test_recv_all(fd, 3000, &len);
    cr_expect_eq(len, 0, "connection should close after 408");
    free(rest);
    close(fd);
}

Test(http_limits, idle_keep_alive_connection_is_closed)
{
    int fd = td_test_connect(todod.port);
    const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    td_test_send_all(fd, req, strlen(req));
    char *resp = td_test_recv_response(fd, 3000);
    cr_expect_eq(status_of(resp), 200);
    free(resp);
    size_t len;
    char *rest = td_test_recv_all(fd, 4000, &len);   /* returns at close (1.5 s idle) */
    cr_expect_eq(len, 0);
    free(rest);
    /* Closed, not merely quiet: a write now fails or reads EOF. */
    char c;
    cr_expect(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "socket still open after idle timeout");
    close(fd);
}

Test(http_limits, pipelined_requests_are_answered_in_order)
{
    int fd = td_test_connect(todod.port);
    const char *reqs =
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: first\r\n\r\n"
        "GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-ID: second\r\n\r\n"
        "GET /ready HTTP/1.1\r\nHost: x\r\nX-Request-ID: third\r\n\r\n";
    td_test_send_all(fd, reqs, strlen(reqs));
    const char *ids[] = {"first", "second", "third"};
    int want[] = {200, 404, 200};
    for (int i = 0; i < 3; i++) {
        char *resp = td_test_recv_response(fd, 5000);
        cr_assert(resp, "answer %d missing", i);
        cr_expect_eq(status_of(resp), want[i], "answer %d: %.200s", i, resp);
        char id_line[64];
        snprintf(id_line, sizeof id_line, "X-Request-ID: %s\r\n", ids[i]);
        cr_expect(strstr(resp, id_line) != NULL, "answer %d out of order: %.300s", i, resp);
        free(resp);
    }
    close(fd);
}

Test(http_limits, malformed_request_gets_400_problem)
{
    int fd = td_test_connect(todod.port);
    const char *req = "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n";
    td_test_send_all(fd, req, strlen(req));
    char *resp = td_test_recv_response(fd, 3000);
    cr_expect_eq(status_of(resp), 400, "got: %.200s", resp);
    cr_expect(strstr(resp, "application/problem+json") != NULL);
    free(resp);
    close(fd);
}

Test(http_limits, unknown_route_404_and_wrong_method_405_with_allow)
{
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/no/such/thing", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 404);
    cr_expect(strstr(r.body, "https://todod.dev/problems/not-found") != NULL, "%s", r.body);
    td_test_http_free(&r);
    cr_assert_eq(td_test_http(todod.port, "DELETE", "/health", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 405);
    char *allow = td_test_header(r.headers, "Allow");
    cr_expect(allow && strstr(allow, "GET"), "Allow: %s", allow ? allow : "(none)");
    free(allow);
    td_test_http_free(&r);
}

Test(http_limits, http10_keep_alive_is_said_explicitly)
{
    int fd = td_test_connect(todod.port);
    const char *reqs = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                       "GET /health HTTP/1.0\r\n\r\n";
    td_test_send_all(fd, reqs, strlen(reqs));
    char *first = td_test_recv_response(fd, 3000), *second = td_test_recv_response(fd, 3000);
    cr_assert(first && second, "both answers expected");
    cr_expect(strstr(first, "Connection: keep-alive\r\n") != NULL, "%s", first);
    cr_expect(strstr(second, "Connection: close\r\n") != NULL, "%s", second);
    free(first);
    free(second);
    close(fd);
}

Test(http_limits, faulty_framing_gets_400_then_close)
{
    /* RFC 9112 6.1 (Transfer-Encoding in HTTP/1.0) and a request line without a version */
    const char *reqs[] = {
        "POST /health HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        "GET /health\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        int fd = td_test_connect(todod.port);
        cr_assert(fd >= 0);
        td_test_send_all(fd, reqs[i], strlen(reqs[i]));
        size_t len;
        char *resp = td_test_recv_all(fd, 3000, &len);   /* returns at close */
        cr_expect_eq(status_of(resp), 400, "request %zu got: %.200s", i, resp);
        cr_expect(resp && strstr(resp, "application/problem+json") != NULL);
        cr_expect(resp && strstr(resp, "Connection: close\r\n") != NULL);
        free(resp);
        close(fd);
    }
}

/* core/curl.c: libcurl multi on a libuv loop, against real servers on this machine (the
 * receivers of tests/support/receiver_harness.h): POST with headers, status codes, the
 * bound on the answer, the time-out, refusal of loopback addresses (also behind a name),
 * SMTP, cancellation at close. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "core/curl.h"
#include "tests/support/loop_harness.h"
#include "tests/support/receiver_harness.h"

struct got {
    int    done;
    int    status;
    long   code;
    char   body[256];
    char   error[400];
};

static void on_done(const struct td_curl_result *r, void *arg)
{
    struct got *g = arg;
    g->done++;
    g->status = r->status;
    g->code = r->code;
    snprintf(g->body, sizeof g->body, "%.*s", (int)r->body_len, r->body);
    snprintf(g->error, sizeof g->error, "%s", r->error);
}

static uv_loop_t loop;
static struct td_curl *c;

static void setup(void)
{
    uv_loop_init(&loop);
    cr_assert_eq(td_curl_new(&loop, &c), 0);
}

static void teardown(void)
{
    td_curl_close(c);
    td_test_run_for(&loop, 50);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

TestSuite(curl, .init = setup, .fini = teardown, .timeout = 30);

static char url[128];

static const char *at(int port, const char *path)
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return url;
}

Test(curl, posts_the_body_and_headers_and_reads_the_status)
{
    struct td_test_hook h = {.answer_size = 5};
    int statuses[] = {201};
    td_test_hook_start(&h, statuses, 1);
    const char *headers[] = {"Content-Type: application/json", "X-Test: yes", NULL};
    struct td_curl_req req = {.url = at(h.port, "/hook"), .headers = headers, .post = 1,
                              .body = "{\"a\":1}", .body_len = 7, .max_response = 100,
                              .allow_private = 1, .timeout_ms = 5000};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_expect_eq(td_curl_active(c), 1);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 10000), "no answer");
    cr_expect_eq(g.status, 0, "%s", g.error);
    cr_expect_eq(g.code, 201);
    cr_expect_str_eq(g.body, "xxxxx");
    cr_expect_eq(td_curl_active(c), 0);
    cr_assert_eq(td_test_hook_count(&h), 1);
    cr_expect(strncmp(h.reqs[0].head, "POST /hook HTTP/1.1\r\n", 21) == 0, "%s", h.reqs[0].head);
    char *v = td_test_hook_header(&h.reqs[0], "X-Test");
    cr_expect_str_eq(v ? v : "", "yes");
    free(v);
    cr_expect_str_eq(h.reqs[0].body, "{\"a\":1}");
    td_test_hook_stop(&h);
}

Test(curl, several_transfers_run_at_once_and_statuses_come_back)
{
    struct td_test_hook h = {0};
    int statuses[] = {500, 404, 200};
    td_test_hook_start(&h, statuses, 3);
    struct got g[3] = {0};
    int done = 0;
    for (int i = 0; i < 3; i++) {
        struct td_curl_req req = {.url = at(h.port, "/"), .post = 1, .body = "x", .body_len = 1,
                                  .max_response = 10, .allow_private = 1};
        cr_assert_eq(td_curl_send(c, &req, on_done, &g[i]), 0);
    }
    for (int i = 0; i < 200 && done < 3; i++) {
        td_test_run_for(&loop, 50);
        done = g[0].done + g[1].done + g[2].done;
    }
    cr_assert_eq(done, 3);
    long sum = g[0].code + g[1].code + g[2].code;
    cr_expect_eq(sum, 1104, "codes %ld %ld %ld", g[0].code, g[1].code, g[2].code);
    td_test_hook_stop(&h);
}

Test(curl, redirects_are_not_followed)
{
    struct td_test_hook h = {0};
    int statuses[] = {302, 200};
    td_test_hook_start(&h, statuses, 2);
    struct td_curl_req req = {.url = at(h.port, "/hook"), .post = 1, .body = "x", .body_len = 1,
                              .max_response = 100, .allow_private = 1};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 10000));
    cr_expect_eq(g.status, 0, "%s", g.error);
    cr_expect_eq(g.code, 302);
    td_test_run_for(&loop, 200);
    cr_expect_eq(td_test_hook_count(&h), 1, "the redirect was followed");
    td_test_hook_stop(&h);
}

Test(curl, an_answer_longer_than_the_bound_stops_with_efbig)
{
    struct td_test_hook h = {.answer_size = 100000};
    int statuses[] = {200};
    td_test_hook_start(&h, statuses, 1);
    struct td_curl_req req = {.url = at(h.port, "/"), .max_response = 1000, .allow_private = 1};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 10000));
    cr_expect_eq(g.status, -EFBIG, "%d %s", g.status, g.error);
    cr_expect_eq(g.code, 200);
    cr_expect(strstr(g.error, "1000 bytes"), "%s", g.error);
    td_test_hook_stop(&h);
}

Test(curl, loopback_is_refused_by_address_also_behind_a_name)
{
    struct td_test_hook h = {0};
    int statuses[] = {200};
    td_test_hook_start(&h, statuses, 1);
    struct got g = {0}, n = {0};
    struct td_curl_req req = {.url = at(h.port, "/"), .post = 1, .body = "x", .body_len = 1,
                              .max_response = 10};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    char named[128];
    snprintf(named, sizeof named, "http://localhost:%d/", h.port);
    req.url = named;
    cr_assert_eq(td_curl_send(c, &req, on_done, &n), 0);
    int both = 0;
    for (int i = 0; i < 200 && both < 2; i++) {
        td_test_run_for(&loop, 50);
        both = g.done + n.done;
    }
    cr_assert_eq(both, 2);
    cr_expect_eq(g.status, -EACCES, "%d %s", g.status, g.error);
    cr_expect(strstr(g.error, "loopback address 127.0.0.1"), "%s", g.error);
    cr_expect_eq(n.status, -EACCES, "localhost: %d %s", n.status, n.error);
    cr_expect(strstr(n.error, "loopback address"), "%s", n.error);
    cr_expect_eq(td_test_hook_count(&h), 0, "the receiver was reached");
    td_test_hook_stop(&h);
}

Test(curl, a_silent_server_times_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    struct td_curl_req req = {.url = at(ntohs(a.sin_port), "/"), .timeout_ms = 300,
                              .max_response = 10, .allow_private = 1};
    struct got g = {0};
    double t0 = td_test_now_ms();
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 5000));
    cr_expect_eq(g.status, -ETIMEDOUT, "%d %s", g.status, g.error);
    cr_expect_lt(td_test_now_ms() - t0, 2000);
    close(fd);
}

Test(curl, schemes_outside_the_list_are_refused)
{
    struct td_curl_req req = {.url = "file:///etc/passwd", .max_response = 10};
    struct got g = {0};
    int rc = td_curl_send(c, &req, on_done, &g);
    if (rc == 0)
        cr_assert(td_test_run_until(&loop, &g.done, 1, 5000));
    cr_expect(rc == -EINVAL || g.status == -EINVAL, "rc %d status %d %s", rc, g.status, g.error);
}

Test(curl, smtp_delivers_a_message)
{
    struct td_test_smtp s = {0};
    td_test_smtp_start(&s);
    char smtp[64];
    snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%d", s.port);
    const char *msg = "Subject: hi\r\n\r\nhello\r\n.dot line\r\n";
    struct td_curl_req req = {.url = smtp, .protocols = "smtp,smtps", .mail_from = "<a@x.test>",
                              .mail_rcpt = "<b@y.test>", .body = msg, .body_len = strlen(msg),
                              .max_response = 1000, .allow_private = 1, .timeout_ms = 5000};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 10000));
    cr_expect_eq(g.status, 0, "%s", g.error);
    cr_assert_eq(td_test_smtp_wait(&s, 1, 2000), 1);
    cr_expect_str_eq(s.from[0], "a@x.test");
    cr_expect_str_eq(s.rcpt[0], "b@y.test");
    cr_expect(strstr(s.data[0], "\r\n..dot line\r\n"), "not dot-stuffed: %s", s.data[0]);
    td_test_smtp_stop(&s);
}

Test(curl, smtp_a_refused_recipient_is_an_error)
{
    struct td_test_smtp s = {.reject_rcpt = 1};
    td_test_smtp_start(&s);
    char smtp[64];
    snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%d", s.port);
    struct td_curl_req req = {.url = smtp, .protocols = "smtp", .mail_from = "<a@x.test>",
                              .mail_rcpt = "<nobody@y.test>", .body = "x\r\n", .body_len = 3,
                              .max_response = 1000, .allow_private = 1};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    cr_assert(td_test_run_until(&loop, &g.done, 1, 10000));
    cr_expect_neq(g.status, 0);
    cr_expect_eq(g.code, 550, "code %ld (%s)", g.code, g.error);
    cr_expect_eq(td_test_smtp_wait(&s, 1, 300), 0);
    td_test_smtp_stop(&s);
}

Test(curl, close_cancels_what_is_in_flight)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&a, &len);
    struct td_curl_req req = {.url = at(ntohs(a.sin_port), "/"), .max_response = 10,
                              .allow_private = 1};
    struct got g = {0};
    cr_assert_eq(td_curl_send(c, &req, on_done, &g), 0);
    td_test_run_for(&loop, 100);
    td_curl_close(c);
    c = NULL;
    cr_expect_eq(g.done, 1);
    cr_expect_eq(g.status, -ECANCELED);
    close(fd);
}

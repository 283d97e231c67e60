/* core/ws_handshake.c: Sec-WebSocket-Accept (RFC 6455 4.2.2) and td_ws_check, which
 * answers what is not a WebSocket opening handshake before any upgrade. A td_http server
 * on its loop thread (tests/support/http_harness.h) with a route that only checks. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/ws.h"
#include "tests/support/http_harness.h"
#include "tests/support/net_harness.h"

/* 200 "ok" when the handshake would be accepted. */
static void check_route(struct td_http_req *req, void *arg)
{
    (void)arg;
    if (td_ws_check(req) == 0)
        td_http_respond(req, 200, "text/plain", "ok", 2);
}

static void routes(struct td_http *http)
{
    td_http_route(http, "GET", "/ws", check_route, NULL);
}

Test(ws_handshake, accept_key_follows_rfc_6455)
{
    char out[29];
    cr_assert_eq(td_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    cr_expect_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_expect_eq(td_ws_accept_key(NULL, out), -EINVAL);
    cr_expect_eq(td_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL, "short");
    cr_expect_eq(td_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!=", out), -EINVAL, "not padded");
    cr_expect_eq(td_ws_accept_key("dGhlIHNhbXBsZSBub25j*Q==", out), -EINVAL, "bad character");
    cr_expect_eq(td_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", out), -EINVAL, "not 16 bytes");
    char b64[16];
    td_base64_encode((const unsigned char *)"\xfb\xff", 2, b64, 0);
    cr_expect_str_eq(b64, "+/8=");
    td_base64_encode((const unsigned char *)"\xfb\xff", 2, b64, 1);
    cr_expect_str_eq(b64, "-_8");
}

static char *exchange(const char *raw)
{
    int fd = td_test_connect(td_srv.port);
    td_test_send_all(fd, raw, strlen(raw));
    char *resp = td_test_recv_response(fd, 5000);
    close(fd);
    return resp;
}

#define HS(extra) "GET /ws HTTP/1.1\r\nHost: x\r\n" extra "\r\n"

Test(ws_handshake, only_a_websocket_version_13_handshake_passes)
{
    td_test_srv_start(td_test_srv_opts(), routes);
    static const struct { const char *raw; const char *status; const char *has; } cases[] = {
        {HS("Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"),
         "HTTP/1.1 200", "ok"},
        {HS(""), "HTTP/1.1 426", "Upgrade: websocket"},
        {HS("Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"), "HTTP/1.1 426", "upgrade-required"},
        {HS("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 8\r\n"), "HTTP/1.1 426", "Sec-WebSocket-Version: 13"},
        {HS("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\n"
            "Sec-WebSocket-Version: 13\r\n"), "HTTP/1.1 400", "websocket-key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *resp = exchange(cases[i].raw);
        cr_expect(resp && !strncmp(resp, cases[i].status, 12), "case %zu: %s", i, resp);
        cr_expect(resp && strstr(resp, cases[i].has), "case %zu lacks %s: %s", i, cases[i].has, resp);
        free(resp);
    }
    td_test_srv_stop();
}

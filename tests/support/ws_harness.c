/* A raw RFC 6455 client (ws_harness.h). */
#define _GNU_SOURCE
#include "tests/support/ws_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more into ws->in; 1 read, 0 timeout, -1 closed. */
static int fill(struct td_test_ws *ws, long long deadline)
{
    long long left = deadline - ms_now();
    if (left < 0)
        left = 0;
    struct pollfd p = {ws->fd, POLLIN, 0};
    int r = poll(&p, 1, (int)left);
    if (r <= 0)
        return 0;
    if (ws->incap - ws->inlen < 65536) {
        size_t cap = ws->incap ? ws->incap * 2 : 131072;
        ws->in = realloc(ws->in, cap);
        ws->incap = cap;
    }
    ssize_t n = recv(ws->fd, ws->in + ws->inlen, ws->incap - ws->inlen, 0);
    if (n <= 0)
        return -1;
    ws->inlen += (size_t)n;
    return 1;
}

static void consume(struct td_test_ws *ws, size_t n)
{
    memmove(ws->in, ws->in + n, ws->inlen - n);
    ws->inlen -= n;
}

int td_test_ws_open(struct td_test_ws *ws, int port, const char *path,
                    const char *const *headers, int rcvbuf)
{
    memset(ws, 0, sizeof *ws);
    ws->auto_pong = 1;
    ws->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (ws->fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(ws->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(ws->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    int one = 1;
    setsockopt(ws->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    char key[32];
    td_base64_encode(raw, sizeof raw, key, 0);
    char req[8192];
    int k = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                     path, port, key);
    for (const char *const *h = headers; h && *h; h++)
        k += snprintf(req + k, sizeof req - (size_t)k, "%s\r\n", *h);
    k += snprintf(req + k, sizeof req - (size_t)k, "\r\n");
    if (write_all(ws->fd, req, (size_t)k))
        return -1;
    long long deadline = ms_now() + 10000;
    char *end;
    for (;;) {
        if (ws->inlen && (end = memmem(ws->in, ws->inlen, "\r\n\r\n", 4)))
            break;
        if (fill(ws, deadline) <= 0)
            return -1;
    }
    size_t hl = (size_t)(end - ws->in) + 4;
    ws->head = strndup(ws->in, hl);
    consume(ws, hl);
    ws->status = atoi(ws->head + 9);
    /* The accept key we expect. */
    unsigned char cat[64], md[SHA_DIGEST_LENGTH];
    int cl = snprintf((char *)cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1(cat, (size_t)cl, md);
    char want[32];
    td_base64_encode(md, sizeof md, want, 0);
    char *acc = strcasestr(ws->head, "\r\nSec-WebSocket-Accept: ");
    ws->accept_ok = acc && strncmp(acc + 24, want, strlen(want)) == 0;
    if (ws->status != 101) {
        char *clh = strcasestr(ws->head, "\r\nContent-Length: ");
        size_t want_len = clh ? (size_t)atol(clh + 18) : 0;
        while (ws->inlen < want_len && fill(ws, deadline) > 0)
            ;
        size_t bl = ws->inlen < want_len ? ws->inlen : want_len;
        ws->body = strndup(ws->in, bl);
        consume(ws, bl);
    } else {
        ws->body = strdup("");
    }
    return ws->status;
}

int td_test_ws_send_header(struct td_test_ws *ws, int opcode, uint64_t len, int masked)
{
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | (opcode & 15));
    unsigned char m = masked ? 0x80 : 0;
    if (len < 126) {
        h[n++] = (unsigned char)(m | len);
    } else if (len < 65536) {
        h[n++] = m | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char)(len >> (8 * i));
    }
    if (masked) {
        memcpy(h + n, "\x12\x34\x56\x78", 4);
        n += 4;
    }
    return write_all(ws->fd, h, n);
}

int td_test_ws_send(struct td_test_ws *ws, int opcode, const void *data, size_t len, int masked)
{
    if (td_test_ws_send_header(ws, opcode, len, masked))
        return -1;
    unsigned char *p = malloc(len ? len : 1);
    memcpy(p, data, len);
    if (masked)
        for (size_t i = 0; i < len; i++)
            p[i] ^= (unsigned char)"\x12\x34\x56\x78"[i % 4];
    int rc = write_all(ws->fd, p, len);
    free(p);
    return rc;
}

int td_test_ws_recv(struct td_test_ws *ws, int timeout_ms, char **payload, size_t *plen)
{
    long long deadline = ms_now() + timeout_ms;
    for (;;) {
        if (ws->inlen >= 2) {
            unsigned char *b = (unsigned char *)ws->in;
            size_t hl = 2;
            uint64_t len = b[1] & 127;
            int masked = b[1] & 128;
            if (len == 126)
                hl = 4;
            else if (len == 127)
                hl = 10;
            if (masked)
                hl += 4;
            if (ws->inlen >= hl) {
                if (len == 126)
                    len = (uint64_t)b[2] << 8 | b[3];
                else if (len == 127) {
                    len = 0;
                    for (int i = 0; i < 8; i++)
                        len = len << 8 | b[2 + i];
                }
                if (ws->inlen >= hl + len) {
                    int op = b[0] & 15;
                    char *p = malloc(len + 1);
                    memcpy(p, ws->in + hl, len);
                    p[len] = '\0';
                    consume(ws, hl + len);
                    if (op == 9) {
                        ws->pings++;
                        if (ws->auto_pong)
                            td_test_ws_send(ws, 10, p, len, 1);
                    }
                    if (op == 8)
                        ws->close_code = len >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
                    *payload = p;
                    if (plen)
                        *plen = len;
                    return op;
                }
            }
        }
        int r = fill(ws, deadline);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (!ws->close_code)
                ws->close_code = 1006;
            return -2;
        }
    }
}

json_t *td_test_ws_next(struct td_test_ws *ws, int timeout_ms)
{
    long long deadline = ms_now() + timeout_ms;
    for (;;) {
        long long left = deadline - ms_now();
        if (left <= 0)
            return NULL;
        char *p = NULL;
        size_t len;
        int op = td_test_ws_recv(ws, (int)left, &p, &len);
        if (op < 0)
            return NULL;
        if (op == 1) {
            json_t *j = json_loadb(p, len, 0, NULL);
            free(p);
            return j;
        }
        free(p);
        if (op == 8)
            return NULL;
    }
}

int td_test_ws_wait_close(struct td_test_ws *ws, int timeout_ms)
{
    long long deadline = ms_now() + timeout_ms;
    for (;;) {
        long long left = deadline - ms_now();
        if (left <= 0)
            return -1;
        char *p = NULL;
        size_t len;
        int op = td_test_ws_recv(ws, (int)left, &p, &len);
        if (op == -1)
            return -1;
        if (op == -2)
            return ws->close_code;
        if (op == 8) {
            td_test_ws_send(ws, 8, p, len >= 2 ? 2 : 0, 1);
            free(p);
            return ws->close_code;
        }
        free(p);
    }
}

void td_test_ws_free(struct td_test_ws *ws)
{
    if (ws->fd > 0)
        close(ws->fd);
    free(ws->head);
    free(ws->body);
    free(ws->in);
    memset(ws, 0, sizeof *ws);
}

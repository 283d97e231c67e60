/* WebSocket load client for bench/ws.sh, on libuv.
 *
 *   ws idle    PORT TOKENS N        opens N connections (tokens round-robin from the file
 *                                   TOKENS, one per line), waits for every hello, prints
 *                                   "open N" and holds them until stdin closes.
 *   ws latency PORT TOKEN WRITES    one connection; WRITES times: POST /api/tasks (a
 *                                   blocking socket), time until the update arrives on
 *                                   the WebSocket; prints p50/p99/max in ms.
 *   ws fanout  PORT TOKEN CONNS WRITES
 *                                   CONNS connections of one user; per write, the time
 *                                   until the last of them got the update.
 *
 * Frames are read just enough to find text messages; pings are answered. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

struct conn {
    uv_tcp_t     tcp;
    uv_connect_t creq;
    char        *in;
    size_t       len, cap;
    int          upgraded, hellos, updates;
};

static uv_loop_t *loop;
static struct conn *conns;
static int nconns, nopen, nhello, updates_seen;
static const char *token_of(int i);
static char **tokens;
static int ntokens;
static int port;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)sug;
    if (c->cap - c->len < 4096) {
        c->cap = c->cap ? c->cap * 2 : 8192;
        c->in = realloc(c->in, c->cap);
    }
    *b = uv_buf_init(c->in + c->len, (unsigned)(c->cap - c->len));
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_bytes(struct conn *c, const void *p, size_t n)
{
    uv_write_t *w = malloc(sizeof *w + n);
    memcpy(w + 1, p, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* Parses what arrived: the 101 head, then frames. */
static void parse(struct conn *c)
{
    size_t off = 0;
    if (!c->upgraded) {
        char *e = memmem(c->in, c->len, "\r\n\r\n", 4);
        if (!e)
            return;
        if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "refused: %.*s\n", (int)(e - c->in), c->in);
            exit(1);
        }
        c->upgraded = 1;
        off = (size_t)(e - c->in) + 4;
    }
    for (;;) {
        unsigned char *b = (unsigned char *)c->in + off;
        size_t avail = c->len - off;
        if (avail < 2)
            break;
        size_t hl = 2;
        uint64_t n = b[1] & 127;
        if (n == 126)
            hl = 4;
        else if (n == 127)
            hl = 10;
        if (avail < hl)
            break;
        if (n == 126)
            n = (uint64_t)b[2] << 8 | b[3];
        else if (n == 127) {
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | b[2 + i];
        }
        if (avail < hl + n)
            break;
        int op = b[0] & 15;
        if (op == 1) {
            if (memmem(b + hl, n, "\"hello\"", 7)) {
                c->hellos++;
                nhello++;
            } else if (memmem(b + hl, n, "\"task\"", 6)) {
                c->updates++;
                updates_seen++;
            }
        } else if (op == 9 && n <= 125) {   /* pong with the same payload, masked by zeros */
            unsigned char f[2 + 4 + 125] = {0x8a, (unsigned char)(0x80 | n), 0, 0, 0, 0};
            memcpy(f + 6, b + hl, n);
            send_bytes(c, f, 6 + n);
        }
        off += hl + n;
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        fprintf(stderr, "connection lost: %s\n", uv_strerror((int)n));
        exit(1);
    }
    c->len += (size_t)n;
    parse(c);
}

static void on_connected(uv_connect_t *r, int status)
{
    struct conn *c = r->data;
    if (status) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        exit(1);
    }
    nopen++;
    int i = (int)(c - conns);
    char req[4096];
    int k = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
                     port, token_of(i));
    send_bytes(c, req, (size_t)k);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static const char *token_of(int i)
{
    return tokens[i % ntokens];
}

static void open_all(int n)
{
    conns = calloc((size_t)n, sizeof *conns);
    nconns = n;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c->creq.data = c;
        uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, on_connected);
        /* a few hundred at a time: the listen backlog is finite */
        if (i % 200 == 199)
            while (nhello < i - 100)
                uv_run(loop, UV_RUN_ONCE);
    }
    while (nhello < n)
        uv_run(loop, UV_RUN_ONCE);
}

/* One POST /api/tasks on a blocking socket; the answer is read and dropped. Returns when
 * the answer was complete (the server closes after it). */
static double post_task(const char *token, int i)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        perror("connect");
        exit(1);
    }
    char body[64], req[4096];
    int bl = snprintf(body, sizeof body, "{\"title\":\"bench %d\"}", i);
    int k = snprintf(req, sizeof req,
                     "POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                     token, bl, body);
    if (write(fd, req, (size_t)k) != k)
        exit(1);
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return now_ms();
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples)\n", what, v[n / 2],
           v[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1], v[n - 1], n);
}

/* Writes and times until every connection has seen one more update. */
static void timed_writes(const char *token, int writes, const char *what)
{
    double *lat = calloc((size_t)writes, sizeof *lat), *rt = calloc((size_t)writes, sizeof *rt);
    for (int w = 0; w < writes; w++) {
        int want = updates_seen + nconns;
        double t0 = now_ms();
        double answered = post_task(token, w);
        while (updates_seen < want)
            uv_run(loop, UV_RUN_ONCE);
        lat[w] = now_ms() - t0;
        rt[w] = answered - t0;
        usleep(20000);
    }
    report(what, lat, writes);
    report("  of which the POST itself (connect, request, answer)", rt, writes);
    free(lat);
    free(rt);
}

static void load_tokens(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        tokens = realloc(tokens, sizeof *tokens * (size_t)(ntokens + 1));
        tokens[ntokens++] = strdup(line);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: ws idle|latency|fanout PORT TOKENS|TOKEN N [WRITES]\n");
        return 2;
    }
    loop = uv_default_loop();
    port = atoi(argv[2]);
    if (!strcmp(argv[1], "idle")) {
        load_tokens(argv[3]);
        open_all(atoi(argv[4]));
        printf("open %d\n", nconns);
        fflush(stdout);
        char b[16];
        while (read(0, b, sizeof b) > 0)   /* hold until stdin closes; pings still answered */
            ;
        return 0;
    }
    tokens = &argv[3];
    ntokens = 1;
    if (!strcmp(argv[1], "latency")) {
        open_all(1);
        timed_writes(argv[3], atoi(argv[4]), "POST-to-WebSocket (upper bound of commit-to-client)");
    } else {
        open_all(atoi(argv[4]));
        timed_writes(argv[3], argc > 5 ? atoi(argv[5]) : 50, "fan-out: POST until the last of the user's connections has it");
    }
    return 0;
}

#define _GNU_SOURCE   /* memmem */
#include "tests/support/receiver_harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/loop_harness.h"

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one connection within 100 ms, or -1. */
static int accept_one(int fd, atomic_int *stop)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (atomic_load(stop) || poll(&p, 1, 100) <= 0)
        return -1;
    return accept(fd, NULL, NULL);
}

/* Reads until needle appears (or 5 s of silence); the bytes in *buf, *len. */
static int read_until(int c, char **buf, size_t *len, const char *needle)
{
    for (;;) {
        if (*buf && memmem(*buf, *len, needle, strlen(needle)))
            return 0;
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        char tmp[4096];
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0)
            return -1;
        char *g = realloc(*buf, *len + (size_t)n + 1);
        if (!g)
            return -1;
        memcpy(g + *len, tmp, (size_t)n);
        *len += (size_t)n;
        g[*len] = '\0';
        *buf = g;
    }
}

static void write_str(int c, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        /* MSG_NOSIGNAL: a client that hangs up early (a bounded answer) must not raise
         * SIGPIPE in the test process. */
        ssize_t w = send(c, s + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* ---------- HTTP ---------- */

char *td_test_hook_header(const struct td_test_hook_req *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = r->head; p && *p; ) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return strndup(v, (size_t)(eol - v));
        }
        p = eol + 2;
    }
    return NULL;
}

static void serve_http(struct td_test_hook *h, int c)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_until(c, &buf, &len, "\r\n\r\n")) {
        free(buf);
        return;
    }
    char *end = strstr(buf, "\r\n\r\n");
    size_t head_len = (size_t)(end - buf) + 4;
    struct td_test_hook_req r = {.head = strndup(buf, head_len)};
    char *cl = td_test_hook_header(&r, "Content-Length");
    size_t want = cl ? strtoul(cl, NULL, 10) : 0;
    free(cl);
    while (len < head_len + want) {
        char tmp[4096];
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0)
            break;
        char *g = realloc(buf, len + (size_t)n + 1);
        memcpy(g + len, tmp, (size_t)n);
        len += (size_t)n;
        g[len] = '\0';
        buf = g;
    }
    r.body_len = len - head_len;
    r.body = strndup(buf + head_len, r.body_len);
    r.at_ms = td_test_now_ms();
    free(buf);
    pthread_mutex_lock(&h->lock);
    int i = h->count;
    if (i < TD_TEST_RECV_MAX)
        h->reqs[i] = r;
    else {
        free(r.head);
        free(r.body);
    }
    h->count++;
    pthread_mutex_unlock(&h->lock);
    int status = h->statuses[i < h->nstatuses ? i : h->nstatuses - 1];
    char head[200];
    snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
             status, h->answer_size, status / 100 == 3 ? "Location: /moved\r\n" : "");
    write_str(c, head);
    for (size_t k = 0; k < h->answer_size; k += 1024) {
        char chunk[1025];
        size_t n = h->answer_size - k < 1024 ? h->answer_size - k : 1024;
        memset(chunk, 'x', n);
        chunk[n] = '\0';
        write_str(c, chunk);
    }
}

static void *hook_main(void *arg)
{
    struct td_test_hook *h = arg;
    while (!atomic_load(&h->stop)) {
        int c = accept_one(h->fd, &h->stop);
        if (c < 0)
            continue;
        serve_http(h, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

void td_test_hook_start(struct td_test_hook *h, const int *statuses, int n)
{
    int answer = (int)h->answer_size;
    memset(h, 0, sizeof *h);
    h->answer_size = (size_t)answer;
    for (int i = 0; i < n && i < TD_TEST_RECV_MAX; i++)
        h->statuses[h->nstatuses++] = statuses[i];
    pthread_mutex_init(&h->lock, NULL);
    h->fd = listen_any(&h->port);
    cr_assert_geq(h->fd, 0, "the test receiver cannot listen");
    cr_assert_eq(pthread_create(&h->thread, NULL, hook_main, h), 0);
}

int td_test_hook_count(struct td_test_hook *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int td_test_hook_wait(struct td_test_hook *h, int want, int ms)
{
    double until = td_test_now_ms() + ms;
    int n;
    while ((n = td_test_hook_count(h)) < want && td_test_now_ms() < until)
        usleep(20 * 1000);
    return n;
}

void td_test_hook_stop(struct td_test_hook *h)
{
    if (h->fd <= 0)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->fd);
    h->fd = 0;
    for (int i = 0; i < h->count && i < TD_TEST_RECV_MAX; i++) {
        free(h->reqs[i].head);
        free(h->reqs[i].body);
    }
    pthread_mutex_destroy(&h->lock);
}

/* ---------- SMTP ---------- */

/* The argument of "MAIL FROM:<a>" or "RCPT TO:<a>". */
static char *angle(const char *line)
{
    const char *a = strchr(line, '<'), *b = a ? strchr(a, '>') : NULL;
    return a && b ? strndup(a + 1, (size_t)(b - a - 1)) : strdup("");
}

static void serve_smtp(struct td_test_smtp *s, int c)
{
    write_str(c, "220 test ESMTP\r\n");
    char *buf = NULL, *from = NULL, *rcpt = NULL;
    size_t len = 0;
    for (;;) {
        if (read_until(c, &buf, &len, "\r\n"))
            break;
        char *eol = strstr(buf, "\r\n");
        char *line = strndup(buf, (size_t)(eol - buf));
        len -= (size_t)(eol + 2 - buf);
        memmove(buf, eol + 2, len + 1);
        for (char *p = line; *p && *p != ' ' && *p != ':'; p++)
            *p = (char)toupper((unsigned char)*p);
        if (!strncmp(line, "EHLO", 4) || !strncmp(line, "HELO", 4)) {
            write_str(c, "250-test\r\n250 8BITMIME\r\n");
        } else if (!strncmp(line, "MAIL", 4)) {
            free(from);
            from = angle(line);
            write_str(c, "250 ok\r\n");
        } else if (!strncmp(line, "RCPT", 4)) {
            free(rcpt);
            rcpt = angle(line);
            write_str(c, s->reject_rcpt ? "550 no such user\r\n" : "250 ok\r\n");
        } else if (!strncmp(line, "DATA", 4)) {
            write_str(c, "354 go on\r\n");
            if (read_until(c, &buf, &len, "\r\n.\r\n")) {
                free(line);
                break;
            }
            char *dot = memmem(buf, len, "\r\n.\r\n", 5);
            char *data = strndup(buf, (size_t)(dot - buf) + 2);
            len -= (size_t)(dot + 5 - buf);
            memmove(buf, dot + 5, len + 1);
            pthread_mutex_lock(&s->lock);
            if (s->count < TD_TEST_RECV_MAX) {
                s->from[s->count] = from;
                s->rcpt[s->count] = rcpt;
                s->data[s->count] = data;
                from = rcpt = NULL;
            } else {
                free(data);
            }
            s->count++;
            pthread_mutex_unlock(&s->lock);
            write_str(c, "250 queued\r\n");
        } else if (!strncmp(line, "QUIT", 4)) {
            write_str(c, "221 bye\r\n");
            free(line);
            break;
        } else {
            write_str(c, "250 ok\r\n");   /* RSET, NOOP */
        }
        free(line);
    }
    free(buf);
    free(from);
    free(rcpt);
}

static void *smtp_main(void *arg)
{
    struct td_test_smtp *s = arg;
    while (!atomic_load(&s->stop)) {
        int c = accept_one(s->fd, &s->stop);
        if (c < 0)
            continue;
        serve_smtp(s, c);
        close(c);
    }
    return NULL;
}

void td_test_smtp_start(struct td_test_smtp *s)
{
    int reject = s->reject_rcpt;
    memset(s, 0, sizeof *s);
    s->reject_rcpt = reject;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = listen_any(&s->port);
    cr_assert_geq(s->fd, 0, "the test SMTP server cannot listen");
    cr_assert_eq(pthread_create(&s->thread, NULL, smtp_main, s), 0);
}

int td_test_smtp_wait(struct td_test_smtp *s, int want, int ms)
{
    double until = td_test_now_ms() + ms;
    int n;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        n = s->count;
        pthread_mutex_unlock(&s->lock);
        if (n >= want || td_test_now_ms() >= until)
            return n;
        usleep(20 * 1000);
    }
}

void td_test_smtp_stop(struct td_test_smtp *s)
{
    if (s->fd <= 0)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    s->fd = 0;
    for (int i = 0; i < s->count && i < TD_TEST_RECV_MAX; i++) {
        free(s->from[i]);
        free(s->rcpt[i]);
        free(s->data[i]);
    }
    pthread_mutex_destroy(&s->lock);
}

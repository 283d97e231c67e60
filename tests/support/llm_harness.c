#define _GNU_SOURCE   /* memmem, strcasestr */
#include "tests/support/llm_harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void write_all(int c, const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(c, s + off, n - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

static char *header(const char *head, const char *name)
{
    const char *p = strcasestr(head, name);
    if (!p)
        return NULL;
    p += strlen(name);
    while (*p == ' ')
        p++;
    return strndup(p, strcspn(p, "\r\n"));
}

static void serve(struct td_test_llm *s, int c)
{
    char *buf = NULL;
    size_t len = 0, head_len = 0, want = 0;
    for (;;) {
        if (!head_len && buf) {
            char *end = memmem(buf, len, "\r\n\r\n", 4);
            if (end) {
                head_len = (size_t)(end - buf) + 4;
                char *cl = header(buf, "\r\ncontent-length:");
                want = cl ? strtoul(cl, NULL, 10) : 0;
                free(cl);
            }
        }
        if (head_len && len >= head_len + want)
            break;
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            goto out;
        char tmp[8192];
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0)
            goto out;
        char *g = realloc(buf, len + (size_t)n + 1);
        if (!g)
            goto out;
        memcpy(g + len, tmp, (size_t)n);
        len += (size_t)n;
        g[len] = '\0';
        buf = g;
    }
    pthread_mutex_lock(&s->lock);
    int i = s->count++;
    if (i < TD_TEST_LLM_MAX) {
        s->bodies[i] = strndup(buf + head_len, want);
        char save = buf[head_len];
        buf[head_len] = '\0';
        s->auth[i] = header(buf, "\r\nauthorization:");
        buf[head_len] = save;
    }
    pthread_mutex_unlock(&s->lock);
    const struct td_test_llm_answer *a = &s->answers[i < s->nanswers ? i : s->nanswers - 1];
    for (int waited = 0; waited < a->delay_ms && !atomic_load(&s->stop); waited += 20)
        usleep(20000);
    char head[256];
    size_t blen = strlen(a->body);
    int hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", a->status, blen);
    write_all(c, head, (size_t)hn);
    write_all(c, a->body, blen);
out:
    free(buf);
}

static void *run(void *arg)
{
    struct td_test_llm *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve(s, c);
        close(c);
    }
    return NULL;
}

void td_test_llm_start(struct td_test_llm *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(s->fd >= 0 && bind(s->fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(s->fd, 16) == 0 && getsockname(s->fd, (struct sockaddr *)&a, &len) == 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->lock, NULL);
    atomic_store(&s->stop, 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, run, s), 0);
}

int td_test_llm_count(struct td_test_llm *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void td_test_llm_stop(struct td_test_llm *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    for (int i = 0; i < TD_TEST_LLM_MAX; i++) {
        free(s->bodies[i]);
        free(s->auth[i]);
        s->bodies[i] = s->auth[i] = NULL;
    }
    pthread_mutex_destroy(&s->lock);
}

#define _GNU_SOURCE   /* strcasestr */
#include "tests/support/net_harness.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int td_test_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int td_test_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *td_test_recv_all(int fd, int timeout_ms, size_t *len_out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            break;
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *td_test_recv_response(int fd, int timeout_ms)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - buf), body = 0;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < end)
                body = strtoul(cl + 17, NULL, 10);
            if (len >= head + body) {
                buf[head + body] = '\0';
                return buf;
            }
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            break;
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        /* Byte by byte past the head would be slow; the tests' bodies are small. */
        ssize_t n = recv(fd, buf + len, 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    free(buf);
    return NULL;
}

struct sink {
    char  *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = size * n;
    s->data = realloc(s->data, s->len + add + 1);
    memcpy(s->data + s->len, ptr, add);
    s->len += add;
    s->data[s->len] = '\0';
    return add;
}

int td_test_http(int port, const char *method, const char *path, const char *body,
                 const char *const *extra_headers, struct td_test_http *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct sink head = {0}, data = {0};
    struct curl_slist *hdrs = NULL;
    int has_type = 0;
    for (int i = 0; extra_headers && extra_headers[i]; i++) {
        hdrs = curl_slist_append(hdrs, extra_headers[i]);
        has_type |= strncasecmp(extra_headers[i], "content-type:", 13) == 0;
    }
    if (body && !has_type)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &data);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(head.data);
        free(data.data);
        return -1;
    }
    out->status = (int)status;
    out->headers = head.data ? head.data : strdup("");
    out->body = data.data ? data.data : strdup("");
    out->body_len = data.len;
    return 0;
}

void td_test_http_free(struct td_test_http *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

char *td_test_header(const char *headers, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            return strndup(v, (size_t)(line + len - v));
        }
        line = eol ? eol + 2 : NULL;
    }
    return NULL;
}

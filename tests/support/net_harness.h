/* Raw HTTP over TCP for tests that need control of every byte (limits, pipelining,
 * trickling clients), plus a one-call request helper. */
#ifndef TD_TEST_NET_HARNESS_H
#define TD_TEST_NET_HARNESS_H
#include <stddef.h>

int  td_test_connect(int port);                 /* blocking TCP socket to 127.0.0.1 */
int  td_test_send_all(int fd, const void *data, size_t len);   /* 0 or -errno */
/* Reads until the peer closes or timeout_ms passes without data; returns malloc'd bytes. */
char *td_test_recv_all(int fd, int timeout_ms, size_t *len);
/* Reads exactly one HTTP response (by Content-Length); malloc'd; NULL on timeout/close. */
char *td_test_recv_response(int fd, int timeout_ms);

struct td_test_http {
    int   status;
    char *headers;   /* raw header block, malloc'd */
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
};
/* One request with libcurl (a real HTTP client). body may be NULL. extra_headers is a
 * NULL-terminated list of "Name: value" or NULL. Returns 0 or -1 (connection failed). */
int  td_test_http(int port, const char *method, const char *path, const char *body,
                  const char *const *extra_headers, struct td_test_http *out);
void td_test_http_free(struct td_test_http *r);
/* Value of a header in a raw header block (case-insensitive name), malloc'd or NULL. */
char *td_test_header(const char *headers, const char *name);

#endif

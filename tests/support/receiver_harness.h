/* Receivers for what todod sends out, each a real socket server on a thread of the test:
 * an HTTP server answering each request with the next status of a script (the webhook
 * receiver that fails, then accepts), and an SMTP server speaking enough of RFC 5321 for
 * libcurl (EHLO, MAIL, RCPT, DATA, QUIT). Both keep what they got. */
#ifndef TD_TEST_RECEIVER_HARNESS_H
#define TD_TEST_RECEIVER_HARNESS_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define TD_TEST_RECV_MAX 16

struct td_test_hook_req {
    char   *head;    /* request line and headers, malloc'd */
    char   *body;    /* malloc'd, NUL-terminated */
    size_t  body_len;
    double  at_ms;   /* when it arrived (td_test_now_ms) */
};

struct td_test_hook {
    int              port;
    int              fd;
    pthread_t        thread;
    atomic_int       stop;
    int              statuses[TD_TEST_RECV_MAX];   /* answer i gets statuses[min(i, n-1)] */
    int              nstatuses;
    size_t           answer_size;                  /* bytes of body in each answer */
    pthread_mutex_t  lock;
    int              count;                        /* requests received */
    struct td_test_hook_req reqs[TD_TEST_RECV_MAX];
};

/* Listens on 127.0.0.1 (a free port) and answers statuses in turn (a 3xx with
 * "Location: /moved"). Asserts it started. */
void td_test_hook_start(struct td_test_hook *h, const int *statuses, int n);
/* Requests received so far (locked read). */
int  td_test_hook_count(struct td_test_hook *h);
/* Waits until count reaches want or ms pass; returns the count. */
int  td_test_hook_wait(struct td_test_hook *h, int want, int ms);
void td_test_hook_stop(struct td_test_hook *h);
/* A header's value in a received head (case-insensitive), malloc'd or NULL. */
char *td_test_hook_header(const struct td_test_hook_req *r, const char *name);

struct td_test_smtp {
    int             port;
    int             fd;
    pthread_t       thread;
    atomic_int      stop;
    int             reject_rcpt;   /* answer RCPT with 550 */
    pthread_mutex_t lock;
    int             count;         /* messages accepted */
    char           *from[TD_TEST_RECV_MAX];
    char           *rcpt[TD_TEST_RECV_MAX];
    char           *data[TD_TEST_RECV_MAX];   /* the message without the final "." line */
};

void td_test_smtp_start(struct td_test_smtp *s);
int  td_test_smtp_wait(struct td_test_smtp *s, int want, int ms);
void td_test_smtp_stop(struct td_test_smtp *s);

#endif

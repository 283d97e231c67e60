/* The webhook and email channels of the notify role. A fired webhook or email reminder
 * is a row of reminder_deliveries (proto/sql/0011_reminder_channels.sql); deliver.c claims
 * due rows (FOR UPDATE SKIP LOCKED, with a lease, so replicas share them and a process
 * that died leaves them to the next), sends each through core/curl.h, and records every
 * attempt: delivered, retry later (exponential backoff from --delivery-retry-initial,
 * doubling up to --delivery-retry-max, at most --delivery-max-attempts), or failed.
 * webhook.c and email.c build the requests and say what an answer means. */
#ifndef TD_ROLE_NOTIFY_DELIVER_H
#define TD_ROLE_NOTIFY_DELIVER_H
#include <stddef.h>
#include <uv.h>
#include "core/curl.h"
#include "core/svc.h"

struct notify;
struct notify_conf;

#define NOTIFY_DELIVER_BATCH 32       /* rows per claim */
#define NOTIFY_DELIVER_MAX_INFLIGHT 128
#define NOTIFY_DELIVER_RECHECK_MS 30000
#define NOTIFY_DELIVER_ANSWER_MAX 65536   /* bytes of a receiver's answer read at most */

enum notify_outcome { NOTIFY_DELIVERED, NOTIFY_RETRY, NOTIFY_FAILED };

struct notify_deliver {
    struct notify  *n;
    struct td_curl *curl;       /* owned; closed by fini */
    uv_timer_t     *timer;      /* owned; freed in its close callback */
    long long       armed_at;   /* Unix ms (notify_now_ms) the timer is armed for; 0: not */
    int             claiming;   /* a claim (or next) statement is in flight */
    int             again;      /* woken while claiming: claim again after */
    int             inflight;   /* deliveries claimed and not yet recorded */
    int             stopping;
    long long       delivered, retried, failed;   /* by this process (tests) */
};

int  notify_deliver_init(struct notify_deliver *d, struct notify *n);
/* Claims what is due now (a fire made deliveries, or the role starts). */
void notify_deliver_wake(struct notify_deliver *d);
void notify_deliver_fini(struct notify_deliver *d);
/* The channels this process sends, as a PostgreSQL text[] literal for todod_notify_fire:
 * in_app and webhook always, email when --smtp-url is set. */
const char *notify_deliver_channels(const struct notify_conf *conf);
/* The backoff after a failed attempt (from 1): initial * 2^(attempt-1), at most max. */
long long notify_deliver_backoff_ms(const struct notify_conf *conf, int attempt);
extern const struct td_stmt_def notify_deliver_stmts[];

/* webhook.c: the Stripe-style signature "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * "<t>." + body)>" into out (at least 80 bytes). 0 or -EINVAL. */
int notify_webhook_signature(const char *secret, long long t, const char *body, size_t len,
                             char *out, size_t outlen);
/* POSTs the event (JSON text) to url with X-Todod-Signature and X-Todod-Event-Id. */
int notify_webhook_send(struct td_curl *curl, const struct notify_conf *conf, const char *url,
                        const char *secret, const char *event, td_curl_cb cb, void *arg);
/* 2xx delivered; 3xx (redirects are not followed), a refused address, a bad URL and 4xx
 * other than 408 and 429 failed; anything else retry. err: one line. */
enum notify_outcome notify_webhook_outcome(const struct td_curl_result *r, char *err,
                                           size_t errlen);

/* email.c: the message (RFC 5322, UTF-8 text) for the event to to; malloc'd in *out. */
int notify_email_message(const char *from, const char *to, const char *event, long long now_ms,
                         char **out, size_t *len);
/* Sends it over --smtp-url. */
int notify_email_send(struct td_curl *curl, const struct notify_conf *conf, const char *to,
                      const char *event, td_curl_cb cb, void *arg);
/* Accepted: delivered; a 5xx reply or a refused address: failed; else retry. */
enum notify_outcome notify_email_outcome(const struct td_curl_result *r, char *err,
                                         size_t errlen);

#endif

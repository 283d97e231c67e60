/* The delivery queue of the webhook and email channels (roles/notify/deliver.h).
 *
 * One timer, like the fire timer in notify.c: it sleeps until the earliest instant a
 * delivery is due (todod_delivery_next), at most NOTIFY_DELIVER_RECHECK_MS; a fire that
 * made deliveries wakes it at once. A claim takes due rows FOR UPDATE SKIP LOCKED and
 * leases them (state sending, attempts + 1) for twice the transfer time-out; each is sent
 * through core/curl.h and its answer recorded by todod_delivery_result in one statement
 * (with reminder_sent when delivered). A process that stops with transfers in flight
 * leaves their rows leased: the next claim after the lease sends them again (a receiver
 * tells repeats by X-Todod-Event-Id). */
#include "roles/notify/deliver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "roles/notify/notify.h"

const struct td_stmt_def notify_deliver_stmts[] = {
    {"notify_delivery_claim",
     "SELECT id::text, channel, target, secret, body, attempt FROM todod_delivery_claim("
     "to_timestamp($1::double precision / 1000), $2::interval, $3::integer)", 3},
    {"notify_delivery_next", "SELECT todod_delivery_next()", 0},
    {"notify_delivery_result",
     "SELECT todod_delivery_result($1::uuid, $2::integer, to_timestamp($3::double precision / "
     "1000), $4, $5::integer, $6, $7::interval)", 7},
    {0},
};

/* One claimed delivery, from its claim to its recorded answer. */
struct send {
    struct notify_deliver *d;
    char                   id[40];
    int                    attempt;
    long long              retry_ms;
    char                   channel[16];
};

static const char *const outcome_names[] = {"delivered", "retry", "failed"};

const char *notify_deliver_channels(const struct notify_conf *conf)
{
    return conf && conf->smtp_url ? "{in_app,webhook,email}" : "{in_app,webhook}";
}

long long notify_deliver_backoff_ms(const struct notify_conf *conf, int attempt)
{
    long long ms = conf->retry_initial_ms;
    for (int i = 1; i < attempt && ms < conf->retry_max_ms; i++)
        ms *= 2;
    return ms < conf->retry_max_ms ? ms : conf->retry_max_ms;
}

static void claim(struct notify_deliver *d);

static void on_timer(uv_timer_t *t)
{
    struct notify_deliver *d = t->data;
    d->armed_at = 0;
    claim(d);
}

/* Arms the timer for at (Unix ms) unless it is armed earlier already. */
static void arm(struct notify_deliver *d, long long at)
{
    if (d->stopping || !d->timer)
        return;
    long long now = notify_now_ms();
    if (at > now + NOTIFY_DELIVER_RECHECK_MS)
        at = now + NOTIFY_DELIVER_RECHECK_MS;
    if (d->armed_at && d->armed_at <= at)
        return;
    d->armed_at = at;
    uv_timer_start(d->timer, on_timer, at > now ? (uint64_t)(at - now) : 0, 0);
}

static void on_recorded(int status, struct td_db_res *res, void *arg)
{
    struct send *s = arg;
    struct notify_deliver *d = s->d;
    d->inflight--;
    if (status == 0 && !d->stopping) {
        const char *state = td_db_res_value(res, 0, 0);
        if (state && strcmp(state, "pending") == 0)
            arm(d, notify_now_ms() + s->retry_ms);
    } else if (status != -ECANCELED && !d->stopping) {
        td_log_warn(d->n->svc->log, "notify: recording delivery %s failed (%s); it is sent "
                    "again when its lease ends", s->id, res ? td_db_res_error(res) : "no database");
    }
    free(s);
    if (d->again && !d->stopping)
        notify_deliver_wake(d);
}

static void record(struct send *s, enum notify_outcome o, long code, const char *err)
{
    struct notify_deliver *d = s->d;
    const struct notify_conf *conf = d->n->conf;
    char why[600];
    if (o == NOTIFY_RETRY && s->attempt >= conf->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts: %s", s->attempt, err);
        err = why;
        o = NOTIFY_FAILED;
    }
    s->retry_ms = notify_deliver_backoff_ms(conf, s->attempt);
    struct td_metrics *m = d->n->svc->metrics;
    if (m) {
        char labels[80];
        snprintf(labels, sizeof labels, "channel=\"%s\",outcome=\"%s\"", s->channel,
                 outcome_names[o]);
        td_metric_add(td_metrics_series(m, "td_notify_delivery_attempts_total", labels), 1);
    }
    if (o == NOTIFY_DELIVERED)
        d->delivered++;
    else if (o == NOTIFY_RETRY)
        d->retried++;
    else
        d->failed++;
    char attempt[16], now[24], code_s[16], retry[40];
    snprintf(attempt, sizeof attempt, "%d", s->attempt);
    snprintf(now, sizeof now, "%lld", notify_now_ms());
    snprintf(code_s, sizeof code_s, "%ld", code);
    snprintf(retry, sizeof retry, "%lld milliseconds", s->retry_ms);
    const char *p[] = {s->id, attempt, now, outcome_names[o], code ? code_s : NULL, err, retry};
    if (td_db_exec(d->n->svc->db, "notify_delivery_result", 7, p, on_recorded, s)) {
        d->inflight--;
        free(s);   /* the lease ends and the row is claimed again */
    }
}

static void on_sent(const struct td_curl_result *r, void *arg)
{
    struct send *s = arg;
    if (r->status == -ECANCELED || s->d->stopping) {
        s->d->inflight--;
        free(s);
        return;
    }
    char err[500];
    enum notify_outcome o = strcmp(s->channel, "email") == 0
                                ? notify_email_outcome(r, err, sizeof err)
                                : notify_webhook_outcome(r, err, sizeof err);
    record(s, o, r->code, err);
}

static void start(struct notify_deliver *d, struct td_db_res *res, int row)
{
    struct send *s = calloc(1, sizeof *s);
    if (!s)
        return;   /* the lease ends and the row is claimed again */
    s->d = d;
    snprintf(s->id, sizeof s->id, "%s", td_db_res_value(res, row, 0));
    snprintf(s->channel, sizeof s->channel, "%s", td_db_res_value(res, row, 1));
    const char *target = td_db_res_value(res, row, 2);
    const char *secret = td_db_res_value(res, row, 3);   /* NULL: none now */
    const char *body = td_db_res_value(res, row, 4);
    s->attempt = atoi(td_db_res_value(res, row, 5));
    d->inflight++;
    int rc;
    if (strcmp(s->channel, "email") == 0)
        rc = notify_email_send(d->curl, d->n->conf, target, body, on_sent, s);
    else if (!secret)
        rc = -ENOKEY;
    else
        rc = notify_webhook_send(d->curl, d->n->conf, target, secret, body, on_sent, s);
    if (rc == 0)
        return;
    const char *why = rc == -ENOKEY ? "channel not configured: the user has no webhook secret"
                    : rc == -ENOTCONN ? "channel not configured: email needs --smtp-url"
                    : rc == -EINVAL ? "cannot build the request (bad URL or event)"
                    : "cannot start the request";
    record(s, rc == -ENOMEM || rc == -EIO ? NOTIFY_RETRY : NOTIFY_FAILED, 0, why);
}

static void on_next(int status, struct td_db_res *res, void *arg)
{
    struct notify_deliver *d = arg;
    d->claiming = 0;
    if (d->stopping || status == -ECANCELED)
        return;
    if (d->again) {
        d->again = 0;
        claim(d);
        return;
    }
    const char *v = status == 0 ? td_db_res_value(res, 0, 0) : NULL;
    if (v && *v)
        arm(d, strtoll(v, NULL, 10));
    else
        arm(d, notify_now_ms() + (status ? 1000 : NOTIFY_DELIVER_RECHECK_MS));
}

static void on_claimed(int status, struct td_db_res *res, void *arg)
{
    struct notify_deliver *d = arg;
    if (d->stopping || status == -ECANCELED) {
        d->claiming = 0;
        return;
    }
    if (status) {
        d->claiming = 0;
        td_log_warn(d->n->svc->log, "notify: claiming deliveries failed (%s); again in 1 s",
                    res ? td_db_res_error(res) : "no database");
        arm(d, notify_now_ms() + 1000);
        return;
    }
    int rows = td_db_res_rows(res);
    for (int i = 0; i < rows; i++)
        start(d, res, i);
    if (rows >= NOTIFY_DELIVER_BATCH)
        d->again = 1;
    if (td_db_exec(d->n->svc->db, "notify_delivery_next", 0, NULL, on_next, d)) {
        d->claiming = 0;
        arm(d, notify_now_ms() + 1000);
    }
}

static void claim(struct notify_deliver *d)
{
    if (d->stopping)
        return;
    if (d->claiming || d->inflight >= NOTIFY_DELIVER_MAX_INFLIGHT) {
        d->again = 1;   /* after the claim in flight, or when a result is recorded */
        return;
    }
    d->again = 0;
    char now[24], lease[40], lim[16];
    snprintf(now, sizeof now, "%lld", notify_now_ms());
    snprintf(lease, sizeof lease, "%lld milliseconds",
             2LL * d->n->conf->delivery_timeout_ms + 1000);
    snprintf(lim, sizeof lim, "%d", NOTIFY_DELIVER_BATCH);
    const char *p[] = {now, lease, lim};
    d->claiming = 1;
    if (td_db_exec(d->n->svc->db, "notify_delivery_claim", 3, p, on_claimed, d)) {
        d->claiming = 0;
        arm(d, notify_now_ms() + 1000);
    }
}

void notify_deliver_wake(struct notify_deliver *d)
{
    claim(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

int notify_deliver_init(struct notify_deliver *d, struct notify *n)
{
    d->n = n;
    if (n->svc->metrics)
        td_metrics_describe(n->svc->metrics, "td_notify_delivery_attempts_total",
                            TD_METRIC_COUNTER, "Webhook and email delivery attempts by "
                            "channel and outcome (delivered, retry, failed).", NULL, 0);
    int rc = td_curl_new(n->svc->loop, &d->curl);
    if (rc)
        return rc;
    d->timer = malloc(sizeof *d->timer);
    if (!d->timer)
        return -ENOMEM;
    rc = uv_timer_init(n->svc->loop, d->timer);
    if (rc) {
        free(d->timer);
        d->timer = NULL;
        return rc;
    }
    d->timer->data = d;
    return 0;
}

void notify_deliver_fini(struct notify_deliver *d)
{
    d->stopping = 1;
    td_curl_close(d->curl);   /* transfers in flight end now (-ECANCELED): leased rows */
    d->curl = NULL;
    if (d->timer) {
        uv_timer_stop(d->timer);
        uv_close((uv_handle_t *)d->timer, on_timer_closed);
        d->timer = NULL;
    }
}

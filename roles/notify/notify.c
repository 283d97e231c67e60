/* The notify role's hooks, its task-events consumer and its timer.
 *
 * The consumer runs one statement per event, todod_notify_schedule, which claims the inbox
 * row and replaces (or cancels) the task's scheduled reminder rows in the same
 * transaction: a redelivered event changes nothing. It answers the task's earliest
 * scheduled instant, and the timer is re-armed when that is earlier than the one it waits
 * for. No cron: the timer sleeps until the earliest instant the database holds, at most
 * NOTIFY_RECHECK_MS (what another replica scheduled is found within that).
 *
 * At expiry (and once at start, which is the catch-up after a stop) one statement,
 * todod_notify_fire, claims the due rows FOR UPDATE SKIP LOCKED, so replicas never fire a
 * row twice, and answers the earliest instant left, which arms the timer again. */
#include "roles/notify/notify.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/consume.h"
#include "core/curl.h"
#include "core/failpoint.h"
#include "core/outbox.h"

long long (*notify_clock)(void);

long long notify_now_ms(void)
{
    if (notify_clock)
        return notify_clock();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CONF(field) offsetof(struct notify_conf, field)
static const struct td_setting notify_rows[] = {
    {"reminder-horizon", "TODOD_REMINDER_HORIZON", "DURATION", TD_SET_DURATION,
     CONF(horizon_ms), 1000, 86400000, "1440m", NULL,
     "notify: a reminder whose instant passed longer ago than this (while down) is recorded "
     "as missed instead of fired late", "expected a duration from 1s to 1440m", NULL},
    {"webhook-allow-private", "TODOD_WEBHOOK_ALLOW_PRIVATE", NULL, TD_SET_BOOL,
     CONF(webhook_allow_private), 0, 0, "false", NULL,
     "notify: let webhooks reach loopback, private, link-local and unique-local addresses "
     "(refused by default, checked on the address connected)", NULL, NULL},
    {"delivery-timeout", "TODOD_DELIVERY_TIMEOUT", "DURATION", TD_SET_DURATION,
     CONF(delivery_timeout_ms), 100, 120000, "10s", NULL,
     "notify: one webhook or email attempt, whole, at most this long",
     "expected a duration from 100ms to 120s", NULL},
    {"delivery-retry-initial", "TODOD_DELIVERY_RETRY_INITIAL", "DURATION", TD_SET_DURATION,
     CONF(retry_initial_ms), 10, 3600000, "1s", NULL,
     "notify: wait after a failed webhook or email attempt; doubles each attempt",
     "expected a duration from 10ms to 60m", NULL},
    {"delivery-retry-max", "TODOD_DELIVERY_RETRY_MAX", "DURATION", TD_SET_DURATION,
     CONF(retry_max_ms), 10, 86400000, "5m", NULL,
     "notify: the longest wait between attempts", "expected a duration from 10ms to 1440m",
     NULL},
    {"delivery-max-attempts", "TODOD_DELIVERY_MAX_ATTEMPTS", "N", TD_SET_INT,
     CONF(max_attempts), 1, 100, "8", NULL,
     "notify: attempts of a webhook or email delivery before it fails",
     "expected a whole number from 1 to 100", NULL},
    {"smtp-url", "TODOD_SMTP_URL", "URL", TD_SET_STRING, CONF(smtp_url), 0, 0, NULL, NULL,
     "notify: smtp://host:port or smtps://host:port for the email channel (unset: email "
     "reminders fail with \"channel not configured\")", NULL, NULL},
    {"smtp-from", "TODOD_SMTP_FROM", "ADDRESS", TD_SET_STRING, CONF(smtp_from), 0, 0, NULL,
     NULL, "notify: the sender of reminder emails (required with --smtp-url)", NULL, NULL},
    {"smtp-user", "TODOD_SMTP_USER", "NAME", TD_SET_STRING, CONF(smtp_user), 0, 0, NULL, NULL,
     "notify: SMTP AUTH user name (default: no AUTH)", NULL, NULL},
    {"smtp-password-file", "TODOD_SMTP_PASSWORD_FILE", "FILE", TD_SET_SECRET_FILE,
     CONF(smtp_password), 0, 0, NULL, NULL, "notify: SMTP AUTH password, read from a file",
     NULL, NULL},
    {0},
};

static int notify_check(void *block, int argc, char **argv, char *err, size_t errlen)
{
    (void)argc;
    (void)argv;
    struct notify_conf *c = block;
    char why[200];
    if (c->smtp_url && td_curl_url_check(c->smtp_url, "smtp,smtps", why, sizeof why)) {
        snprintf(err, errlen, "--smtp-url: %s", why);
        return -EINVAL;
    }
    if (c->smtp_url && !c->smtp_from) {
        snprintf(err, errlen, "--smtp-url needs --smtp-from (the sender address)");
        return -EINVAL;
    }
    if (c->smtp_from && (!strchr(c->smtp_from, '@') || strpbrk(c->smtp_from, " <>\r\n\t,") ||
                         strlen(c->smtp_from) > 254)) {
        snprintf(err, errlen, "--smtp-from: expected a bare address such as todod@example.com");
        return -EINVAL;
    }
    if (c->retry_max_ms < c->retry_initial_ms) {
        snprintf(err, errlen, "--delivery-retry-max must be at least --delivery-retry-initial");
        return -EINVAL;
    }
    return 0;
}
const struct td_settings_group notify_settings = {
    .name = "notify", .rows = notify_rows, .block_size = sizeof(struct notify_conf),
    .check = notify_check,
};

static void fire(struct notify *n);

static void on_timer(uv_timer_t *t)
{
    struct notify *n = t->data;
    n->armed_at = 0;
    fire(n);
}

void notify_arm(struct notify *n, long long at)
{
    if (n->stopping || !n->timer || at <= 0)
        return;
    if (n->firing) {   /* the fire's answer arms the timer: remember the earlier instant */
        if (!n->pending || at < n->pending)
            n->pending = at;
        return;
    }
    if (n->armed_at && n->armed_at <= at)
        return;
    long long delay = at - notify_now_ms();
    n->armed_at = at;
    uv_timer_start(n->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

static void arm_in(struct notify *n, long long ms)
{
    if (n->stopping || !n->timer)
        return;
    n->armed_at = notify_now_ms() + ms;
    uv_timer_start(n->timer, on_timer, (uint64_t)ms, 0);
}

static void on_fired(int status, struct td_db_res *res, void *arg)
{
    struct notify *n = arg;
    n->firing = 0;
    long long pending = n->pending;
    n->pending = 0;
    if (n->stopping || status == -ECANCELED)
        return;
    if (status != 0) {
        td_log_warn(n->svc->log, "notify: firing reminders failed (%s); again in %d ms",
                    res ? td_db_res_error(res) : "the database is not there", NOTIFY_RETRY_MS);
        arm_in(n, NOTIFY_RETRY_MS);
        return;
    }
    const char *v = td_db_res_value(res, 0, 0);
    long count = 0;
    long long next = 0;
    if (v) {
        char *bar;
        count = strtol(v, &bar, 10);
        if (*bar == '|' && bar[1])
            next = strtoll(bar + 1, NULL, 10);
    }
    n->fired += count;
    if (count > 0) {
        td_outbox_wake(n->svc->outbox);   /* publish the todo.reminder.due events now */
        notify_deliver_wake(&n->deliver);   /* webhook and email deliveries it made */
    }
    if (count >= NOTIFY_FIRE_BATCH) {
        arm_in(n, 0);   /* more are due */
        return;
    }
    if (pending && (!next || pending < next))
        next = pending;
    long long now = notify_now_ms();
    if (next && next <= now)
        arm_in(n, NOTIFY_BUSY_MS);   /* due but locked by another replica, or a clock step */
    else if (next && next <= now + NOTIFY_RECHECK_MS)
        notify_arm(n, next);
    else   /* nothing or nothing soon: our consumer re-arms earlier when that changes */
        arm_in(n, NOTIFY_RECHECK_MS);
}

static void fire(struct notify *n)
{
    if (n->stopping || n->firing)
        return;
    char now[32], horizon[32], late[32], lim[16];
    const char *channels = notify_deliver_channels(n->conf);
    snprintf(now, sizeof now, "%lld", notify_now_ms());
    snprintf(horizon, sizeof horizon, "%d milliseconds", n->conf ? n->conf->horizon_ms : 86400000);
    snprintf(late, sizeof late, "%d milliseconds", NOTIFY_LATE_MS);
    snprintf(lim, sizeof lim, "%d", NOTIFY_FIRE_BATCH);
    const char *params[] = {now, horizon, late, lim, channels};
    n->firing = 1;
    if (td_db_exec(n->svc->db, "notify_fire", 5, params, on_fired, n)) {
        n->firing = 0;
        arm_in(n, NOTIFY_RETRY_MS);
    }
}

/* The statement answers the task's earliest scheduled instant (ms), if any. */
static void on_scheduled(struct td_db_res *res, void *arg)
{
    const char *v = td_db_res_value(res, 0, 0);
    if (v && *v >= '0' && *v <= '9')
        notify_arm(arg, strtoll(v, NULL, 10));
}

static void on_task_event(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct notify *n = arg;
    json_error_t e;
    json_t *root = json_loadb(msg->value, msg->len, 0, &e);
    const char *id = root ? json_string_value(json_object_get(root, "id")) : NULL;
    if (!id) {
        char why[200];
        snprintf(why, sizeof why, root ? "a task event needs an id" : "not JSON: %s", e.text);
        json_decref(root);
        td_bus_done(d, TD_BUS_REJECT, why);
        return;
    }
    /* The statement reads the event itself; the text goes as it came. */
    char *text = strndup(msg->value, msg->len);
    const char *params[] = {NOTIFY_GROUP, id, text};
    if (text)
        td_consume_exec(&n->calls, n->svc->db, d, "notify_schedule", 3, params, on_scheduled, n);
    else
        td_bus_done(d, TD_BUS_RETRY, "out of memory");
    free(text);
    json_decref(root);
}

static const struct td_stmt_def notify_stmts_rows[] = {
    {"notify_schedule", "SELECT todod_notify_schedule($1, $2::uuid, $3::jsonb)", 3},
    {"notify_fire", "SELECT todod_notify_fire(to_timestamp($1::double precision / 1000), "
                    "$2::interval, $3::interval, $4::integer, $5::text[])", 5},
    {0},
};
extern const struct td_stmt_def notify_route_stmts[];     /* routes.c */
extern const struct td_route_def notify_route_rows[];
static const struct td_stmt_def *const notify_stmts[] = {notify_stmts_rows, notify_route_stmts,
                                                         notify_deliver_stmts, NULL};
static const struct td_route_def *const notify_routes[] = {notify_route_rows, NULL};
static const struct td_sub_def notify_subs[] = {
    {"task-events", NOTIFY_GROUP, on_task_event, 1},
    {0},
};

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static int notify_init(struct td_svc *svc, void *state)
{
    struct notify *n = state;
    n->svc = svc;
    n->conf = td_config_group(svc->cfg, &notify_settings);
    n->timer = malloc(sizeof *n->timer);
    if (!n->timer)
        return -ENOMEM;
    int rc = uv_timer_init(svc->loop, n->timer);
    if (rc) {
        free(n->timer);
        n->timer = NULL;
        return rc;
    }
    n->timer->data = n;
    rc = notify_deliver_init(&n->deliver, n);
    if (rc)
        return rc;
    return td_failpoint("notify.init");   /* on failure core calls notify_fini */
}

/* The catch-up: rows whose instant passed while no notify ran fire now (late), or are
 * recorded as missed past the horizon; the answer arms the timer. */
static int notify_start(void *state)
{
    struct notify *n = state;
    fire(n);
    notify_deliver_wake(&n->deliver);   /* deliveries left by a stop */
    return 0;
}

static void notify_fini(void *state)
{
    struct notify *n = state;
    n->stopping = 1;
    td_consume_release(&n->calls);
    notify_deliver_fini(&n->deliver);
    if (n->timer) {
        uv_timer_stop(n->timer);
        uv_close((uv_handle_t *)n->timer, on_timer_closed);
        n->timer = NULL;
    }
}

const struct td_role td_role_notify = {
    .name = "notify",
    .needs = TD_NEED_DB | TD_NEED_BUS | TD_NEED_HTTP | TD_NEED_RELAY,
    .state_size = sizeof(struct notify),
    .routes = notify_routes,
    .subs = notify_subs,
    .stmts = notify_stmts,
    .settings = &notify_settings,
    .init = notify_init,
    .start = notify_start,
    .fini = notify_fini,
};

/* roles/notify/deliver.c: webhook and email reminders are delivered, retried with backoff
 * and recorded. The notify role runs alone in the test process (role_harness.h); the
 * receivers are real socket servers on threads of the test (receiver_harness.h): a
 * webhook receiver that fails twice and then accepts, and an SMTP server. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roles/notify/notify.h"
#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/json_schema.h"
#include "tests/support/receiver_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_notify;
static const struct td_role *const roles[] = {&td_role_notify};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_hook hook;
static struct td_test_smtp smtp;
static char user[37], email[80];
static const char *secret = "whsec_0123456789abcdef";

static void init(void)
{
    pg = td_test_roles_pg();
}

static void fini(void)
{
    td_test_roles_stop(&S);
    td_test_hook_stop(&hook);
    td_test_smtp_stop(&smtp);
}

TestSuite(notify_deliver, .init = init, .fini = fini, .timeout = 90);

/* An account with the webhook url (NULL: none) and the secret; its id in user. */
static void account(const char *url)
{
    char id[37];
    td_test_uuid(id);
    snprintf(email, sizeof email, "d%.8s@example.test", id);
    char *u = td_test_pg_queryf(pg,
        "INSERT INTO users (email, name, webhook_url, webhook_secret) VALUES ('%s', 'D', %s%s%s, '%s') "
        "RETURNING id", email, url ? "'" : "", url ? url : "NULL", url ? "'" : "", secret);
    cr_assert(u);
    snprintf(user, sizeof user, "%s", u);
    free(u);
}

/* Runs notify with the delivery settings of the test: fast retries; smtp_port 0: no SMTP. */
static void run(int allow_private, int max_attempts, int smtp_port)
{
    td_test_roles_config(&S, roles, 1, 0);
    struct notify_conf *c = td_config_group(&S.cfg, &notify_settings);
    cr_assert(c);
    c->webhook_allow_private = allow_private;
    c->retry_initial_ms = 200;
    c->retry_max_ms = 1000;
    c->max_attempts = max_attempts;
    c->delivery_timeout_ms = 3000;
    if (smtp_port) {
        char url[64];
        snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp_port);
        c->smtp_url = strdup(url);
        c->smtp_from = strdup("todod@example.test");
    }
    td_test_roles_run(&S);
}

/* A pending task of the user, due in 2 s with a reminder 1 s before on channel, and its
 * created event (which notify consumes); the task id in id. */
static void task(const char *channel, char id[37])
{
    td_test_uuid(id);
    char *ev = td_test_pg_queryf(pg,
        "WITH t AS (INSERT INTO tasks (id, user_id, title, due_at, reminders) "
        "  VALUES ('%s', '%s', 'call mum', now() + interval '2 seconds', "
        "  '[{\"offset\":\"PT1S\",\"channel\":\"%s\"}]') RETURNING *) "
        "SELECT todod_emit(t, 'created', NULL) FROM t", id, user, channel);
    cr_assert(ev);
    free(ev);
    free(td_test_pg_query(pg, "NOTIFY todod_outbox"));
}

static long wait_state(const char *task_id, const char *state, int ms)
{
    char *sql = td_test_fmt("SELECT count(*) FROM reminders WHERE task_id = '%s' AND state = '%s'",
                            task_id, state);
    long n = td_test_wait_count(pg, 1, ms, sql);
    free(sql);
    return n;
}

static char *reminder_error(const char *task_id)
{
    return td_test_pg_queryf(pg, "SELECT coalesce(error, '') FROM reminders WHERE task_id = '%s'",
                             task_id);
}

/* The receiver's check, written from the README: HMAC-SHA256(secret, "<t>." + body). */
static void expect_signed(const struct td_test_hook_req *r)
{
    char *sig = td_test_hook_header(r, "X-Todod-Signature");
    cr_assert(sig, "no X-Todod-Signature");
    long long t = 0;
    char v1[80] = "";
    cr_assert_eq(sscanf(sig, "t=%lld,v1=%64s", &t, v1), 2, "signature header: %s", sig);
    cr_expect(llabs(t - (long long)time(NULL)) < 60, "t=%lld is not now", t);
    char *text = td_test_fmt("%lld.%s", t, r->body);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)text, strlen(text), mac, &len);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    cr_expect_str_eq(v1, hex, "the signature does not verify with the secret");
    free(text);
    free(sig);
}

Test(notify_deliver, a_webhook_that_fails_twice_then_accepts_gets_three_signed_attempts)
{
    int statuses[] = {500, 503, 200};
    td_test_hook_start(&hook, statuses, 3);
    char url[80], id[37];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/todo", hook.port);
    account(url);
    run(1, 5, 0);
    task("webhook", id);
    cr_assert_eq(td_test_hook_wait(&hook, 3, 20000), 3, "not three attempts");
    cr_assert_eq(wait_state(id, "sent", 10000), 1, "the reminder did not end sent");
    usleep(500 * 1000);
    cr_expect_eq(td_test_hook_count(&hook), 3, "attempts after the 2xx");
    char *first_id = td_test_hook_header(&hook.reqs[0], "X-Todod-Event-Id");
    cr_assert(first_id);
    for (int i = 0; i < 3; i++) {
        const struct td_test_hook_req *r = &hook.reqs[i];
        cr_expect(strncmp(r->head, "POST /hooks/todo HTTP/1.1\r\n", 27) == 0, "%s", r->head);
        char *ct = td_test_hook_header(r, "Content-Type");
        cr_expect_str_eq(ct ? ct : "", "application/json");
        free(ct);
        expect_signed(r);
        char *eid = td_test_hook_header(r, "X-Todod-Event-Id");
        cr_expect_str_eq(eid ? eid : "", first_id, "the event id changed between attempts");
        free(eid);
        json_t *ev = json_loads(r->body, 0, NULL);
        cr_assert(ev, "not JSON: %s", r->body);
        cr_expect_str_eq(td_test_jstr(ev, "id"), first_id);
        cr_expect_str_eq(td_test_jstr(ev, "type"), "todo.reminder.due");
        cr_expect_str_eq(td_test_jstr(ev, "data.event_type"), "reminder_triggered");
        cr_expect_str_eq(td_test_jstr(ev, "data.notification_type"), "webhook");
        cr_expect_str_eq(td_test_jstr(ev, "data.task_id"), id);
        json_decref(ev);
    }
    /* exponential backoff: 200 ms, then 400 ms */
    double gap1 = hook.reqs[1].at_ms - hook.reqs[0].at_ms, gap2 = hook.reqs[2].at_ms - hook.reqs[1].at_ms;
    cr_expect(gap1 >= 180 && gap1 < 3000, "first retry after %.0f ms", gap1);
    cr_expect(gap2 >= 380 && gap2 < 3000, "second retry after %.0f ms", gap2);
    cr_expect_gt(gap2, gap1, "the wait did not grow");
    char *attempts = td_test_pg_queryf(pg,
        "SELECT string_agg(a.attempt || ':' || a.outcome || ':' || coalesce(a.code::text, '-'), ',' "
        "ORDER BY a.attempt) FROM reminder_delivery_attempts a JOIN reminder_deliveries d "
        "ON d.id = a.delivery_id JOIN reminders r ON r.id = d.reminder_id WHERE r.task_id = '%s'", id);
    cr_expect_str_eq(attempts, "1:retry:500,2:retry:503,3:delivered:200");
    free(attempts);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminder_deliveries d JOIN reminders r "
                                     "ON r.id = d.reminder_id WHERE r.task_id = '%s' AND "
                                     "d.state = 'delivered' AND d.attempts = 3", id), 1);
    char *kinds = td_test_pg_queryf(pg,
        "SELECT string_agg(event->'data'->>'event_type' || coalesce('@' || (event->'data'->>'attempt'), ''), "
        "',' ORDER BY created_at, event->'data'->>'event_type') FROM outbox "
        "WHERE topic = 'reminders' AND event->>'subject' = '%s'", id);
    cr_expect_str_eq(kinds, "reminder_scheduled,reminder_triggered,reminder_sent@3");
    free(kinds);
    /* the three reminder events fit the contracts (proto/events) */
    char *all = td_test_pg_queryf(pg, "SELECT json_agg(event)::text FROM outbox WHERE topic = "
                                      "'reminders' AND event->>'subject' = '%s'", id);
    json_t *evs = json_loads(all ? all : "null", 0, NULL);
    json_t *envelope = td_test_schema_load("proto/events/cloudevent.schema.json");
    json_t *schema = td_test_schema_load("proto/events/reminder-event.schema.json");
    cr_assert_eq(json_array_size(evs), 3);
    for (size_t i = 0; i < 3; i++) {
        char why[512];
        json_t *ev = json_array_get(evs, i);
        cr_expect_eq(td_test_schema_validate(envelope, ev, why, sizeof why), 0, "%s", why);
        cr_expect_eq(td_test_schema_validate(schema, json_object_get(ev, "data"), why, sizeof why),
                     0, "%s: %s", td_test_jstr(ev, "data.event_type"), why);
    }
    json_decref(envelope);
    json_decref(schema);
    json_decref(evs);
    free(all);
    cr_expect_eq(td_test_roles_metric(&S, "td_notify_delivery_attempts_total{channel=\"webhook\","
                                          "outcome=\"retry\"}"), 2);
    cr_expect_eq(td_test_roles_metric(&S, "td_notify_delivery_attempts_total{channel=\"webhook\","
                                          "outcome=\"delivered\"}"), 1);
    free(first_id);
}

Test(notify_deliver, a_loopback_url_is_refused_without_the_allow_setting)
{
    int statuses[] = {200};
    td_test_hook_start(&hook, statuses, 1);
    char url[80], id[37];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    account(url);
    run(0, 5, 0);
    task("webhook", id);
    cr_assert_eq(wait_state(id, "failed", 10000), 1, "the reminder did not fail");
    char *err = reminder_error(id);
    cr_expect(strstr(err, "refused to connect to a loopback address 127.0.0.1"), "%s", err);
    cr_expect(strstr(err, "--webhook-allow-private"), "%s", err);
    free(err);
    cr_expect_eq(td_test_hook_count(&hook), 0, "the receiver was reached");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM reminder_delivery_attempts a JOIN "
                                     "reminder_deliveries d ON d.id = a.delivery_id JOIN reminders r "
                                     "ON r.id = d.reminder_id WHERE r.task_id = '%s'", id), 1,
                 "refusal is not retried");
}

Test(notify_deliver, a_4xx_gives_up_at_once_and_retries_are_bounded)
{
    int gone[] = {410};
    td_test_hook_start(&hook, gone, 1);
    char url[80], a[37], b[37];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    account(url);
    run(1, 2, 0);
    task("webhook", a);
    cr_assert_eq(wait_state(a, "failed", 10000), 1);
    char *err = reminder_error(a);
    cr_expect_str_eq(err, "webhook: HTTP 410");
    free(err);
    cr_expect_eq(td_test_hook_count(&hook), 1);
    td_test_hook_stop(&hook);
    int broken[] = {500};
    td_test_hook_start(&hook, broken, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    free(td_test_pg_queryf(pg, "UPDATE users SET webhook_url = '%s' WHERE id = '%s'", url, user));
    task("webhook", b);
    cr_assert_eq(wait_state(b, "failed", 10000), 1);
    err = reminder_error(b);
    cr_expect_str_eq(err, "webhook: gave up after 2 attempts: HTTP 500");
    free(err);
    cr_expect_eq(td_test_hook_count(&hook), 2);
}

Test(notify_deliver, an_email_reminder_reaches_the_smtp_server)
{
    td_test_smtp_start(&smtp);
    char id[37];
    account(NULL);
    run(0, 3, smtp.port);
    task("email", id);
    cr_assert_eq(td_test_smtp_wait(&smtp, 1, 15000), 1, "no message");
    cr_assert_eq(wait_state(id, "sent", 10000), 1, "the reminder did not end sent");
    cr_expect_str_eq(smtp.rcpt[0], email);
    cr_expect_str_eq(smtp.from[0], "todod@example.test");
    cr_expect(strstr(smtp.data[0], "Subject: Reminder: call mum\r\n"), "%s", smtp.data[0]);
    char *to = td_test_fmt("To: %s\r\n", email);
    cr_expect(strstr(smtp.data[0], to), "%s", smtp.data[0]);
    free(to);
    cr_expect(strstr(smtp.data[0], id), "the task id is not in the message");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE event->>'subject' = '%s' "
                                     "AND event->'data'->>'event_type' = 'reminder_sent'", id), 1);
}

Test(notify_deliver, a_delivery_left_by_a_stop_is_sent_after_the_restart)
{
    int statuses[] = {204};
    td_test_hook_start(&hook, statuses, 1);
    char url[80], id[37];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    account(url);
    td_test_uuid(id);
    /* as todod_notify_fire leaves it: fired, its delivery pending (or leased by a process
     * that died: lease over) */
    free(td_test_pg_queryf(pg,
        "WITH r AS (INSERT INTO reminders (task_id, user_id, title, remind_at, channel, state, fired_at) "
        "  VALUES ('%s', '%s', 'call mum', now() - interval '1 minute', 'webhook', 'delivering', now()) "
        "  RETURNING *) "
        "INSERT INTO reminder_deliveries (reminder_id, user_id, channel, target, event, state, attempts, "
        "  next_at, lease_until) SELECT r.id, r.user_id, 'webhook', '%s', "
        "  todod_reminder_event(r, 'reminder_triggered', now()), 'sending', 1, now(), "
        "  now() - interval '1 second' FROM r", id, user, url));
    run(1, 5, 0);
    cr_assert_eq(td_test_hook_wait(&hook, 1, 10000), 1, "not sent after the restart");
    cr_assert_eq(wait_state(id, "sent", 10000), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT attempts FROM reminder_deliveries d JOIN reminders r "
                                     "ON r.id = d.reminder_id WHERE r.task_id = '%s'", id), 2);
}

static long long clock_offset_ms;

static long long shifted_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

/* A retry an hour away is a row, not a timer: after a restart an hour later (by notify's
 * clock) it is sent. */
Test(notify_deliver, a_long_backoff_is_kept_in_the_database_and_resumed_by_the_clock)
{
    int statuses[] = {502, 200};
    td_test_hook_start(&hook, statuses, 2);
    char url[80], id[37];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    account(url);
    td_test_roles_config(&S, roles, 1, 0);
    struct notify_conf *c = td_config_group(&S.cfg, &notify_settings);
    c->webhook_allow_private = 1;
    c->retry_initial_ms = 3600000;
    c->retry_max_ms = 3600000;
    td_test_roles_run(&S);
    task("webhook", id);
    cr_assert_eq(td_test_hook_wait(&hook, 1, 10000), 1);
    char *sql = td_test_fmt("SELECT count(*) FROM reminder_deliveries d JOIN reminders r ON "
                            "r.id = d.reminder_id WHERE r.task_id = '%s' AND d.state = 'pending'", id);
    cr_assert_eq(td_test_wait_count(pg, 1, 5000, sql), 1);
    free(sql);
    long wait_s = td_test_pg_long(pg, "SELECT extract(epoch FROM d.next_at - a.finished_at)::bigint "
                                      "FROM reminder_deliveries d JOIN reminders r ON r.id = d.reminder_id "
                                      "JOIN reminder_delivery_attempts a ON a.delivery_id = d.id "
                                      "WHERE r.task_id = '%s'", id);
    cr_expect_eq(wait_s, 3600, "the retry is %ld s away", wait_s);
    char *err = reminder_error(id);
    cr_expect_str_eq(err, "attempt 1: HTTP 502");
    free(err);
    cr_expect_eq(wait_state(id, "delivering", 100), 1);
    td_test_roles_stop(&S);
    clock_offset_ms = 3600000 + 1000;
    notify_clock = shifted_clock;
    run(1, 5, 0);
    cr_assert_eq(td_test_hook_wait(&hook, 2, 10000), 2, "not sent an hour later");
    cr_assert_eq(wait_state(id, "sent", 10000), 1);
}

/* The webhook and email channels end to end, on `todod all`: an account sets its webhook
 * URL and gets its secret over the API, a task's reminders fire, the webhook receiver (it
 * fails twice, then accepts) gets three signed attempts that verify with that secret, and
 * the email reaches the test's SMTP server at the account's address. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"
#include "tests/support/receiver_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;
static struct td_test_hook hook;
static struct td_test_smtp smtp;

static void start(void)
{
    td_test_pg_start(&pg);
    int statuses[] = {500, 503, 200};
    td_test_hook_start(&hook, statuses, 3);
    td_test_smtp_start(&smtp);
    char smtp_url[64];
    snprintf(smtp_url, sizeof smtp_url, "smtp://127.0.0.1:%d", smtp.port);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", "--webhook-allow-private",
                          "--delivery-retry-initial", "300ms", "--smtp-url", smtp_url,
                          "--smtp-from", "reminders@todod.test", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0);
    td_test_hook_stop(&hook);
    td_test_smtp_stop(&smtp);
    td_test_pg_destroy(&pg);
}

TestSuite(reminder_channels, .init = start, .fini = stop, .timeout = 120);

static int verifies(const char *secret, const struct td_test_hook_req *r)
{
    char *sig = td_test_hook_header(r, "X-Todod-Signature");
    long long t = 0;
    char v1[80] = "";
    int ok = sig && sscanf(sig, "t=%lld,v1=%64s", &t, v1) == 2;
    free(sig);
    if (!ok)
        return 0;
    char *text = td_test_fmt("%lld.%s", t, r->body);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)text, strlen(text), mac, &len);
    free(text);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return strcmp(hex, v1) == 0;
}

Test(reminder_channels, webhook_and_email_reminders_are_delivered)
{
    char id[37], mail[64];
    td_test_uuid(id);
    snprintf(mail, sizeof mail, "r%.8s@example.test", id);
    struct td_test_user u;
    td_test_signup(todod.port, mail, "correct horse battery", "R", &u);
    char *patch = td_test_fmt("{\"webhook_url\":\"http://127.0.0.1:%d/todo\"}", hook.port);
    cr_assert_eq(td_test_api_json(todod.port, u.token, "PATCH", "/api/me", patch, NULL, NULL), 200);
    free(patch);
    json_t *s = NULL;
    cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", "/api/me/webhook-secret", NULL, NULL, &s), 201);
    char secret[128];
    snprintf(secret, sizeof secret, "%s", td_test_jstr(s, "webhook_secret"));
    json_decref(s);
    char at[32];
    time_t t = time(NULL) + 2;
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    char *body = td_test_fmt("{\"title\":\"Call Bob\",\"reminders\":[{\"at\":\"%s\",\"channel\":\"webhook\"},"
                             "{\"at\":\"%s\",\"channel\":\"email\"},{\"at\":\"%s\",\"channel\":\"sms\"}]}",
                             at, at, at);
    json_t *task = td_test_create_task(todod.port, u.token, body);
    free(body);
    cr_assert_eq(td_test_hook_wait(&hook, 3, 30000), 3, "not three webhook attempts");
    for (int i = 0; i < 3; i++)
        cr_expect(verifies(secret, &hook.reqs[i]), "attempt %d does not verify", i + 1);
    cr_assert_eq(td_test_smtp_wait(&smtp, 1, 20000), 1, "no email");
    cr_expect_str_eq(smtp.rcpt[0], mail);
    cr_expect_str_eq(smtp.from[0], "reminders@todod.test");
    cr_expect(strstr(smtp.data[0], "Subject: Reminder: Call Bob\r\n"), "%s", smtp.data[0]);
    char *sql = td_test_fmt("SELECT count(*) FROM reminders WHERE task_id = '%s' AND state = 'sent'",
                            td_test_jstr(task, "id"));
    cr_expect_eq(td_test_wait_count(&pg, 2, 10000, sql), 2, "webhook and email not both sent");
    free(sql);
    char *sms = td_test_pg_queryf(&pg, "SELECT state || ': ' || error FROM reminders WHERE "
                                       "task_id = '%s' AND channel = 'sms'", td_test_jstr(task, "id"));
    cr_expect_str_eq(sms, "failed: channel not configured");
    free(sms);
    json_decref(task);
}

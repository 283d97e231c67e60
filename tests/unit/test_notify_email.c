/* roles/notify/email.c: the message and what an SMTP answer means; sending it is in
 * test_notify_deliver.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "roles/notify/deliver.h"

static const char *event =
    "{\"id\":\"7d3c6f7e-0000-4000-8000-000000000001\",\"type\":\"todo.reminder.due\","
    "\"data\":{\"title\":\"%s\",\"due_at\":\"2027-01-31T14:00:00Z\","
    "\"remind_at\":\"2027-01-31T13:45:00Z\",\"task_id\":\"7d3c6f7e-0000-4000-8000-0000000000aa\"}}";

static char *message(const char *title)
{
    char ev[1024];
    snprintf(ev, sizeof ev, event, title);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(notify_email_message("todod@example.test", "ann@example.test", ev,
                                       1801404000000LL, &out, &len), 0);
    cr_assert_eq(strlen(out), len);
    return out;
}

Test(notify_email, the_message_has_headers_and_the_reminder)
{
    char *m = message("call mum");
    cr_expect(strncmp(m, "From: todod@example.test\r\nTo: ann@example.test\r\n", 48) == 0, "%s", m);
    cr_expect(strstr(m, "\r\nSubject: Reminder: call mum\r\n"), "%s", m);
    cr_expect(strstr(m, "\r\nDate: Sun, 31 Jan 2027 14:00:00 +0000\r\n"), "%s", m);
    cr_expect(strstr(m, "Message-ID: <7d3c6f7e-0000-4000-8000-000000000001@todod>\r\n"), "%s", m);
    cr_expect(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"), "%s", m);
    cr_expect(strstr(m, "\r\n\r\nReminder: call mum\r\nDue: 2027-01-31T14:00:00Z\r\n"), "%s", m);
    cr_expect(strstr(m, "Task: 7d3c6f7e-0000-4000-8000-0000000000aa\r\n"), "%s", m);
    free(m);
}

Test(notify_email, a_title_cannot_add_headers_and_utf8_is_encoded)
{
    char *m = message("pay rent\\r\\nBcc: evil@example.test");
    cr_expect_null(strstr(m, "\r\nBcc:"), "a header was injected: %s", m);
    free(m);
    m = message("Geburtstag \u00e4\u00f6\u00fc");
    /* "Reminder: Geburtstag äöü" in base64 */
    cr_expect(strstr(m, "Subject: =?UTF-8?B?UmVtaW5kZXI6IEdlYnVydHN0YWcgw6TDtsO8?=\r\n"), "%s", m);
    free(m);
}

Test(notify_email, an_event_without_a_title_is_refused)
{
    char *out = NULL;
    size_t len;
    cr_expect_eq(notify_email_message("a@x", "b@y", "{\"data\":{}}", 0, &out, &len), -EINVAL);
    cr_expect_eq(notify_email_message("a@x", "b@y", "not json", 0, &out, &len), -EINVAL);
    cr_expect_null(out);
}

Test(notify_email, answers_decide_delivered_retry_or_failed)
{
    char err[200];
    struct td_curl_result ok = {.status = 0, .code = 250, .error = ""};
    cr_expect_eq(notify_email_outcome(&ok, err, sizeof err), NOTIFY_DELIVERED);
    struct td_curl_result no_user = {.status = -EPROTO, .code = 550, .error = "RCPT failed"};
    cr_expect_eq(notify_email_outcome(&no_user, err, sizeof err), NOTIFY_FAILED);
    cr_expect_str_eq(err, "SMTP 550: RCPT failed");
    struct td_curl_result busy = {.status = -EPROTO, .code = 451, .error = "try later"};
    cr_expect_eq(notify_email_outcome(&busy, err, sizeof err), NOTIFY_RETRY);
    struct td_curl_result down = {.status = -ECONNREFUSED, .code = 0, .error = "refused"};
    cr_expect_eq(notify_email_outcome(&down, err, sizeof err), NOTIFY_RETRY);
    cr_expect_str_eq(err, "refused");
}

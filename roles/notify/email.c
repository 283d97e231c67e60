/* The email channel: the reminder as a short UTF-8 text message, sent over SMTP through
 * core/curl.h to --smtp-url, from --smtp-from, to the account's email address. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "roles/notify/deliver.h"
#include "roles/notify/notify.h"

/* A header's text on one line: CR, LF and other controls become spaces. */
static void put_line(struct td_buf *b, const char *s)
{
    for (; s && *s; s++)
        td_buf_printf(b, "%c", (unsigned char)*s < ' ' ? ' ' : *s);
}

/* Subject: RFC 2047 base64 words when it is not plain ASCII. */
static void put_subject(struct td_buf *b, const char *title)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int ascii = 1;
    for (const char *p = title; *p; p++)
        if ((unsigned char)*p >= 0x80)
            ascii = 0;
    if (ascii) {
        td_buf_printf(b, "Subject: Reminder: ");
        put_line(b, title);
        td_buf_printf(b, "\r\n");
        return;
    }
    char text[1024];
    snprintf(text, sizeof text, "Reminder: %s", title);
    size_t n = strlen(text);
    while (n && ((unsigned char)text[n] & 0xc0) == 0x80)   /* whole characters only */
        n--;
    td_buf_printf(b, "Subject:");
    /* words of at most 45 input bytes (60 of base64), split on character boundaries */
    for (size_t i = 0; i < n;) {
        size_t k = n - i > 45 ? 45 : n - i;
        while (i + k < n && k > 1 && ((unsigned char)text[i + k] & 0xc0) == 0x80)
            k--;
        td_buf_printf(b, " =?UTF-8?B?");
        for (size_t j = 0; j < k; j += 3) {
            unsigned v = (unsigned char)text[i + j] << 16;
            if (j + 1 < k)
                v |= (unsigned char)text[i + j + 1] << 8;
            if (j + 2 < k)
                v |= (unsigned char)text[i + j + 2];
            td_buf_printf(b, "%c%c%c%c", b64[v >> 18 & 63], b64[v >> 12 & 63],
                          j + 1 < k ? b64[v >> 6 & 63] : '=', j + 2 < k ? b64[v & 63] : '=');
        }
        td_buf_printf(b, "?=\r\n");
        i += k;
    }
}

int notify_email_message(const char *from, const char *to, const char *event, long long now_ms,
                         char **out, size_t *len)
{
    json_t *ev = json_loads(event, 0, NULL);
    json_t *data = json_object_get(ev, "data");
    const char *title = json_string_value(json_object_get(data, "title"));
    const char *due = json_string_value(json_object_get(data, "due_at"));
    const char *at = json_string_value(json_object_get(data, "remind_at"));
    const char *task = json_string_value(json_object_get(data, "task_id"));
    const char *id = json_string_value(json_object_get(ev, "id"));
    if (!title || !at || !task || !id) {
        json_decref(ev);
        return -EINVAL;
    }
    char date[64];
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    struct td_buf b = {0};
    td_buf_printf(&b, "From: ");
    put_line(&b, from);
    td_buf_printf(&b, "\r\nTo: ");
    put_line(&b, to);
    td_buf_printf(&b, "\r\nDate: %s\r\nMessage-ID: <%s@todod>\r\n", date, id);
    put_subject(&b, title);
    td_buf_printf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\nX-Todod-Event-Id: %s\r\n\r\n", id);
    td_buf_printf(&b, "Reminder: ");
    put_line(&b, title);
    td_buf_printf(&b, "\r\n");
    if (due)
        td_buf_printf(&b, "Due: %s\r\n", due);
    td_buf_printf(&b, "Reminder time: %s\r\nTask: %s\r\n", at, task);
    json_decref(ev);
    if (!b.data) {
        td_buf_free(&b);
        return -ENOMEM;
    }
    *len = b.len;
    *out = b.data;
    return 0;
}

int notify_email_send(struct td_curl *curl, const struct notify_conf *conf, const char *to,
                      const char *event, td_curl_cb cb, void *arg)
{
    if (!conf->smtp_url || !conf->smtp_from)
        return -ENOTCONN;
    char *msg = NULL;
    size_t len = 0;
    int rc = notify_email_message(conf->smtp_from, to, event, notify_now_ms(), &msg, &len);
    if (rc)
        return rc;
    char from[320], rcpt[320];
    snprintf(from, sizeof from, "<%s>", conf->smtp_from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct td_curl_req req = {
        .url = conf->smtp_url, .protocols = "smtp,smtps", .body = msg, .body_len = len,
        .mail_from = from, .mail_rcpt = rcpt, .username = conf->smtp_user,
        .password = conf->smtp_password, .timeout_ms = conf->delivery_timeout_ms,
        .max_response = NOTIFY_DELIVER_ANSWER_MAX, .allow_private = 1,   /* the operator's */
    };
    rc = td_curl_send(curl, &req, cb, arg);
    free(msg);
    return rc;
}

enum notify_outcome notify_email_outcome(const struct td_curl_result *r, char *err,
                                         size_t errlen)
{
    if (r->status == 0) {
        snprintf(err, errlen, "accepted (SMTP %ld)", r->code);
        return NOTIFY_DELIVERED;
    }
    if (r->code)
        snprintf(err, errlen, "SMTP %ld: %s", r->code, r->error);
    else
        snprintf(err, errlen, "%s", r->error);
    if ((r->code >= 500 && r->code < 600) || r->status == -EINVAL || r->status == -EACCES)
        return NOTIFY_FAILED;
    return NOTIFY_RETRY;
}

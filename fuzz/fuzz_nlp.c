/* The language engine on arbitrary bytes: td_nlp_parse with the first byte choosing the
 * user's zone and now (around DST changes and year ends), the rest as the message.
 * Properties checked: it returns 0 or one of its documented errors; what it fills is
 * bounded and NUL-terminated; the texts it copies out of the message are valid UTF-8; the
 * due date and reminders can be written as RFC 3339 / ISO 8601 and the rule is a
 * recurrence libical accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/nlp.h"
#include "core/rrule.h"
#include "core/utf8.h"

static const char *const zones[] = {"America/New_York", "Europe/Paris", "Asia/Tokyo", "UTC",
                                    "Australia/Sydney", "Pacific/Chatham", "Asia/Kolkata",
                                    "America/St_Johns"};
static const long long nows[] = {
    1804705200000LL, /* 2027-03-10T19:00:00Z */
    1806019200000LL, /* 2027-03-26T00:00:00Z, before Europe's change */
    1830308400000LL, /* 2028-01-01T03:00:00Z, year end somewhere */
    1825567200000LL, /* 2027-11-07T06:00:00Z, New York's fall back */
};

static void text_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    struct td_utf8_span sp;
    if (n >= cap || td_utf8_scan(s, n, 0, &sp) < 0) {
        fprintf(stderr, "bad text out: %.*s\n", (int)(n < 200 ? n : 200), s);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *tz = zones[sel % (sizeof zones / sizeof zones[0])];
    long long now = nows[(sel >> 3) % (sizeof nows / sizeof nows[0])] + (long long)(sel >> 5) * 3600000LL;
    struct td_nlp_result r;
    int rc = td_nlp_parse((const char *)data + 1, size - 1, now, tz, &r);
    if (rc != 0) {
        if (rc != -E2BIG && rc != -EILSEQ)
            abort();
        return 0;
    }
    if ((unsigned)r.intent > TD_NLP_HELP || r.ntags < 0 || r.ntags > TD_NLP_MAX_TAGS ||
        r.nreminders < 0 || r.nreminders > TD_NLP_MAX_REMINDERS || r.confidence < 0 ||
        r.confidence > 100 || (unsigned)r.target > TD_NLP_TARGET_TEXT)
        abort();
    text_ok(r.title, sizeof r.title);
    text_ok(r.description, sizeof r.description);
    text_ok(r.target_text, sizeof r.target_text);
    text_ok(r.filter.tag, sizeof r.filter.tag);
    for (int i = 0; i < r.ntags; i++)
        text_ok(r.tags[i], sizeof r.tags[i]);
    char buf[64];
    if (r.has_due && td_datetime_format_utc(r.due_s, buf, sizeof buf) < 0)
        abort();
    for (int i = 0; i < r.nreminders; i++)
        if (td_nlp_reminder_format(&r.reminders[i], buf, sizeof buf) < 0)
            abort();
    if (strnlen(r.rrule, sizeof r.rrule) >= sizeof r.rrule)
        abort();
    if (r.rrule[0] && td_rrule_validate(r.rrule, NULL, 0) < 0) {
        fprintf(stderr, "rrule refused: %s\n", r.rrule);
        abort();
    }
    td_nlp_free(&r);
    return 0;
}

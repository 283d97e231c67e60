/* The task model on arbitrary bytes: td_task_validate on the bytes parsed as JSON the way
 * the api role parses bodies, in every mode and with several user zones; and the string
 * parsers (time, durations, RRULE, zone) on the raw bytes as a C string.
 * Property checked: what CREATE/REPLACE returns is accepted again by REPLACE once the
 * server-managed all_day is dropped (the api role promises that a task read back with
 * GET can be sent back with PUT). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/rrule.h"
#include "core/task.h"
#include "core/tz.h"

static void check(json_t *in, enum td_task_mode mode, const char *tz)
{
    json_t *out = NULL;
    struct td_task_errors errs;
    memset(&errs, 0x5A, sizeof errs);
    int rc = td_task_validate(in, mode, tz, &out, &errs);
    if (rc != 0) {
        if (out || errs.count < 0 || errs.count > 32)
            abort();
        char *extra = NULL;
        if (td_task_errors_json(&errs, &extra) == 0) {
            /* What goes into the 422 must be valid JSON once wrapped in braces. */
            size_t n = strlen(extra);
            char *doc = malloc(n + 3);
            doc[0] = '{';
            memcpy(doc + 1, extra, n);
            doc[n + 1] = '}';
            doc[n + 2] = '\0';
            json_error_t je;
            json_t *back = json_loads(doc, 0, &je);
            if (!back) {
                fprintf(stderr, "errors JSON does not parse: %s: %s\n", je.text, doc);
                abort();
            }
            json_decref(back);
            free(doc);
            free(extra);
        }
        return;
    }
    if (!json_is_object(out))
        abort();
    char *s = json_dumps(out, JSON_COMPACT);
    if (!s)
        abort();
    free(s);
    if ((mode & ~TD_TASK_LENIENT) != TD_TASK_PATCH) {
        json_t *again = json_deep_copy(out);
        json_object_del(again, "all_day");
        json_t *out2 = NULL;
        struct td_task_errors e2;
        if (td_task_validate(again, TD_TASK_REPLACE, tz, &out2, &e2) != 0) {
            char *a = json_dumps(in, JSON_COMPACT), *b = json_dumps(again, JSON_COMPACT);
            fprintf(stderr, "normalised task refused: %s: %s\n  input: %s\n  normalised: %s\n",
                    e2.count ? e2.items[0].field : "?", e2.count ? e2.items[0].message : "?",
                    a, b);
            abort();
        }
        json_decref(out2);
        json_decref(again);
    }
    json_decref(out);
}

/* libical expands a zone's transitions lazily and keeps them: warm the zones used as
 * user_tz up to the last representable year, so fewer inputs end with net allocations
 * (each of those costs a leak scan). */
static void warm_up(void)
{
    static const char *const zones[] = {"UTC", "America/New_York", "Asia/Kolkata",
                                        "Europe/Berlin"};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"title\":\"t\",\"due_at\":\"9999-12-31\",\"time_zone\":\"%s\"}",
                 zones[i]);
        json_t *in = json_loads(doc, 0, NULL), *out = NULL;
        struct td_task_errors errs;
        td_task_validate(in, TD_TASK_CREATE, NULL, &out, &errs);
        json_decref(out);
        json_decref(in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int warm;
    if (!warm) {
        warm_up();
        warm = 1;
    }
    /* JSON: as roles/api parses request bodies, and also any top-level value. */
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                            NULL);
    if (in) {
        static const char *const zones[] = {"UTC", "America/New_York", NULL, "Asia/Kolkata"};
        /* Odd sizes take the lenient form of each mode (the /api/{user_id}/ routes). */
        int lenient = size & 1 ? TD_TASK_LENIENT : 0;
        for (int m = TD_TASK_CREATE; m <= TD_TASK_PATCH; m++)
            check(in, (enum td_task_mode)(m | lenient), zones[(size + (size_t)m) % 4]);
        json_decref(in);
    }

    /* Raw string parsers. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    long long t = 0;
    int date_only = -1;
    if (td_datetime_parse_rfc3339(s, &t, &date_only) == 0 &&
        (t < -62135596800LL || t > 253402300799LL || (date_only != 0 && date_only != 1)))
        abort();
    enum td_datetime_form form = (enum td_datetime_form)-1;
    if (td_datetime_parse_input(s, &t, &form) == 0 &&
        (t < -62135596800LL || t > 253402300799LL ||
         (form != TD_DATETIME_INSTANT && form != TD_DATETIME_DATE && form != TD_DATETIME_LOCAL)))
        abort();
    /* Every RFC 3339 value is form input too, read the same way. */
    long long t2 = 0;
    if (td_datetime_parse_rfc3339(s, &t, &date_only) == 0 &&
        (td_datetime_parse_input(s, &t2, &form) != 0 || t2 != t))
        abort();
    long secs = 0;
    if (td_datetime_parse_duration(s, &secs) == 0 && secs <= 0)
        abort();
    int ms = 0;
    if (td_datetime_parse_ms(s, &ms) == 0 && (ms < 1 || ms > 86400000))
        abort();
    char why[128];
    why[0] = '\0';
    if (td_rrule_validate(s, why, sizeof why) != 0 && !why[0])
        abort();
    td_rrule_validate(s, NULL, 0);
    td_tz_valid(s);
    int p;
    if (td_task_priority_parse(s, &p) == 0 && !td_task_priority_name(p))
        abort();
    free(s);
    return 0;
}

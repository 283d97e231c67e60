/* core/task.c: every field rule of the task model, its aliases, the three modes, and the
 * error document. Inputs are written as JSON text, as a client would send them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/task.h"

static json_t *out;
static struct td_task_errors errs;

static void teardown(void)
{
    json_decref(out);
    out = NULL;
}

TestSuite(task, .fini = teardown);

/* Validates the JSON text; out and errs hold the result. */
static int run_tz(const char *text, enum td_task_mode mode, const char *user_tz)
{
    json_error_t e;
    json_t *in = json_loads(text, 0, &e);
    cr_assert_not_null(in, "bad test JSON %s: %s", text, e.text);
    json_decref(out);
    out = NULL;
    int rc = td_task_validate(in, mode, user_tz, &out, &errs);
    json_decref(in);
    if (rc == 0)
        cr_assert_not_null(out);
    else
        cr_assert_null(out);
    return rc;
}

static int run(const char *text, enum td_task_mode mode)
{
    return run_tz(text, mode, "UTC");
}

static void ok(const char *text, enum td_task_mode mode)
{
    int rc = run(text, mode);
    cr_assert_eq(rc, 0, "%s rejected: %s: %s", text, errs.count ? errs.items[0].field : "",
                 errs.count ? errs.items[0].message : "");
}

/* Asserts the text fails with an error on field whose message contains msg. */
static void bad(const char *text, enum td_task_mode mode, const char *field, const char *msg)
{
    cr_assert_eq(run(text, mode), -EINVAL, "%s accepted", text);
    for (int i = 0; i < errs.count; i++)
        if (!strcmp(errs.items[i].field, field) && strstr(errs.items[i].message, msg))
            return;
    cr_assert_fail("%s: no error \"%s\" on %s (first: %s: %s)", text, msg, field,
                   errs.count ? errs.items[0].field : "-", errs.count ? errs.items[0].message : "-");
}

static const char *str(const char *key)
{
    json_t *v = json_object_get(out, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static long long num(const char *key)
{
    json_t *v = json_object_get(out, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

/* The output member key rendered as compact JSON (caller frees). */
static char *dump(const char *key)
{
    json_t *v = json_object_get(out, key);
    cr_assert_not_null(v, "%s missing", key);
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_member_json(const char *key, const char *want)
{
    char *got = dump(key);
    cr_expect_str_eq(got, want, "%s", key);
    free(got);
}

/* Builds {"title": <bytes>} around raw, possibly invalid, UTF-8. */
static int run_raw_title(const char *bytes, size_t len)
{
    json_t *in = json_object();
    json_object_set_new(in, "title", json_stringn_nocheck(bytes, len));
    json_decref(out);
    out = NULL;
    int rc = td_task_validate(in, TD_TASK_CREATE, "UTC", &out, &errs);
    json_decref(in);
    return rc;
}

/* n copies of s in a JSON string member: {"key":"ss...s"} */
static char *repeat_member(const char *key, const char *s, int n)
{
    size_t len = strlen(s);
    char *buf = malloc(strlen(key) + len * (size_t)n + 16);
    char *p = buf + sprintf(buf, "{\"%s\":\"", key);
    for (int i = 0; i < n; i++, p += len)
        memcpy(p, s, len);
    strcpy(p, "\"}");
    return buf;
}

/* ---------- whole documents ---------- */

Test(task, create_fills_every_canonical_member)
{
    ok("{\"title\":\"Buy milk\"}", TD_TASK_CREATE);
    const char *keys[] = {"title", "description", "status", "priority", "tags", "due_at",
                          "all_day", "time_zone", "recurrence", "recurrence_anchor",
                          "reminders"};
    cr_assert_eq(json_object_size(out), 11);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect_not_null(json_object_get(out, keys[i]), "%s missing", keys[i]);
    cr_expect_str_eq(str("description"), "");
    cr_expect_str_eq(str("status"), "pending");
    cr_expect_eq(num("priority"), 0);
    cr_expect(json_is_null(json_object_get(out, "due_at")));
    cr_expect(json_is_false(json_object_get(out, "all_day")));
    cr_expect_str_eq(str("time_zone"), "UTC");
    assert_member_json("tags", "[]");
    assert_member_json("reminders", "[]");
}

Test(task, replace_takes_defaults_like_create)
{
    ok("{\"title\":\"x\",\"priority\":\"high\"}", TD_TASK_REPLACE);
    cr_expect_eq(json_object_size(out), 11);
    cr_expect_str_eq(str("recurrence_anchor"), "schedule");
    cr_expect_eq(num("priority"), 3);
    bad("{\"description\":\"no title\"}", TD_TASK_REPLACE, "title", "is required");
}

Test(task, user_tz_is_the_default_zone)
{
    cr_assert_eq(run_tz("{\"title\":\"x\"}", TD_TASK_CREATE, "Europe/Paris"), 0);
    cr_expect_str_eq(str("time_zone"), "Europe/Paris");
    /* Without user_tz the caller (the row default) decides. */
    cr_assert_eq(run_tz("{\"title\":\"x\"}", TD_TASK_CREATE, NULL), 0);
    cr_expect_null(json_object_get(out, "time_zone"));
}

Test(task, patch_outputs_only_present_fields)
{
    ok("{\"priority\":\"p2\"}", TD_TASK_PATCH);
    cr_expect_eq(json_object_size(out), 1);
    cr_expect_eq(num("priority"), 3);
    ok("{}", TD_TASK_PATCH);
    cr_expect_eq(json_object_size(out), 0);
}

Test(task, patch_accepts_nulls)
{
    ok("{\"description\":null,\"due_at\":null,\"recurrence\":null,\"reminders\":null,"
       "\"tags\":null}",
       TD_TASK_PATCH);
    cr_expect_str_eq(str("description"), "");
    cr_expect(json_is_null(json_object_get(out, "due_at")));
    cr_expect(json_is_false(json_object_get(out, "all_day")));
    cr_expect(json_is_null(json_object_get(out, "recurrence")));
    assert_member_json("reminders", "[]");
    assert_member_json("tags", "[]");
    cr_expect_eq(json_object_size(out), 6);
}

Test(task, patch_refuses_null_where_not_nullable)
{
    bad("{\"time_zone\":null}", TD_TASK_PATCH, "time_zone", "cannot be null");
    bad("{\"title\":null}", TD_TASK_PATCH, "title", "must be a string");
    bad("{\"status\":null}", TD_TASK_PATCH, "status", "must be a string");
    bad("{\"priority\":null}", TD_TASK_PATCH, "priority", "must be a string or an integer");
}

Test(task, unknown_members_are_errors)
{
    bad("{\"title\":\"x\",\"colour\":\"red\"}", TD_TASK_CREATE, "colour", "unknown field");
    bad("{\"isEditing\":false}", TD_TASK_PATCH, "isEditing", "unknown field");
    bad("{\"Title\":\"x\"}", TD_TASK_PATCH, "Title", "unknown field");
}

Test(task, server_managed_members_are_ignored_on_every_path)
{
    static const char *const ro =
        "\"id\":\"7d444840-9dc0-11d1-b245-5ffdce74fad2\",\"user_id\":\"someone else\","
        "\"created_at\":\"2000-01-01T00:00:00Z\",\"updated_at\":\"junk\",\"completed_at\":null,"
        "\"version\":99,\"all_day\":true";
    char text[512];
    snprintf(text, sizeof text, "{%s}", ro);
    ok(text, TD_TASK_PATCH);
    cr_expect_eq(json_object_size(out), 0, "nothing of them is kept");
    snprintf(text, sizeof text, "{\"title\":\"x\",\"due_at\":\"2026-03-01T09:00:00Z\",%s}", ro);
    for (int lenient = 0; lenient <= 1; lenient++) {
        cr_assert_eq(run(text, TD_TASK_CREATE | (lenient ? TD_TASK_LENIENT : 0)), 0);
        cr_expect_eq(json_object_size(out), 10, "the canonical members but all_day");
        cr_expect_null(json_object_get(out, "id"));
        cr_expect_null(json_object_get(out, "version"));
        cr_expect_null(json_object_get(out, "all_day"), "all_day follows the due date, not the body");
    }
}

Test(task, lenient_mode_ignores_unknown_members_but_not_bad_values)
{
    const char *text = "{\"title\":\"x\",\"isEditing\":false,\"colour\":\"red\",\"extra\":{}}";
    cr_assert_eq(run(text, TD_TASK_CREATE), -EINVAL);
    cr_expect_eq(errs.count, 3, "strict: each unknown member named");
    cr_assert_eq(run(text, TD_TASK_CREATE | TD_TASK_LENIENT), 0);
    cr_expect_eq(json_object_size(out), 11);
    cr_expect_null(json_object_get(out, "isEditing"));
    cr_expect_str_eq(str("title"), "x");
    cr_assert_eq(run("{\"isEditing\":true}", TD_TASK_PATCH | TD_TASK_LENIENT), 0);
    cr_expect_eq(json_object_size(out), 0);
    /* Known members are still checked. */
    cr_assert_eq(run("{\"title\":\"\",\"isEditing\":1,\"priority\":\"extreme\"}",
                     TD_TASK_REPLACE | TD_TASK_LENIENT), -EINVAL);
    cr_expect_eq(errs.count, 2);
    cr_expect_str_eq(errs.items[0].field, "title");
    cr_expect_str_eq(errs.items[1].field, "priority");
    cr_assert_eq(run("{\"isEditing\":1}", TD_TASK_REPLACE | TD_TASK_LENIENT), -EINVAL);
    cr_expect_str_eq(errs.items[0].field, "title", "a whole task still needs its title");
    /* Inside a reminder the members stay strict. */
    cr_assert_eq(run("{\"reminders\":[{\"at\":\"2026-03-01T10:00:00Z\",\"when\":1}]}",
                     TD_TASK_PATCH | TD_TASK_LENIENT), -EINVAL);
    cr_expect_str_eq(errs.items[0].field, "reminders[0].when");
}

Test(task, a_bad_mode_is_refused)
{
    json_t *in = json_pack("{s:s}", "title", "x");
    cr_expect_eq(td_task_validate(in, (enum td_task_mode)3, "UTC", &out, &errs), -EINVAL);
    cr_expect_null(out);
    cr_expect_eq(td_task_validate(in, (enum td_task_mode)(3 | TD_TASK_LENIENT), "UTC", &out, &errs),
                 -EINVAL);
    cr_expect_eq(td_task_validate(in, (enum td_task_mode)(1 << 9), "UTC", &out, &errs), -EINVAL);
    cr_expect_null(out);
    json_decref(in);
}

/* What a hackathon front-end's form posts to /api/{user_id}/tasks. */
Test(task, the_hackathon_form_body_is_accepted_leniently)
{
    const char *text =
        "{\"title\":\"x\",\"recurrence\":\"none\",\"due_date\":\"2026-12-20T09:00\","
        "\"priority\":\"high\",\"tags\":[\"a\"],\"user_id\":\"u-1\",\"isEditing\":false}";
    cr_assert_eq(run_tz(text, TD_TASK_CREATE | TD_TASK_LENIENT, "America/New_York"), 0,
                 "%s: %s", errs.count ? errs.items[0].field : "", errs.count ? errs.items[0].message : "");
    cr_expect_str_eq(str("due_at"), "2026-12-20T14:00:00Z");
    cr_expect(json_is_null(json_object_get(out, "recurrence")));
    cr_expect_eq(num("priority"), 3);
    assert_member_json("tags", "[\"a\"]");
    cr_expect_str_eq(str("time_zone"), "America/New_York");
    cr_expect_null(json_object_get(out, "all_day"), "a date-time is not all day");
    cr_expect_null(json_object_get(out, "user_id"));
    cr_expect_null(json_object_get(out, "due_date"));
    /* Strict, only isEditing is refused: user_id is server-managed, the rest is known. */
    cr_assert_eq(run_tz(text, TD_TASK_CREATE, "America/New_York"), -EINVAL);
    cr_expect_eq(errs.count, 1);
    cr_expect_str_eq(errs.items[0].field, "isEditing");
}

/* A task as the api answers it (roles/api/task_json.c) goes back through PUT unchanged. */
Test(task, an_answer_sent_back_is_accepted)
{
    const char *answer =
        "{\"id\":\"7d444840-9dc0-11d1-b245-5ffdce74fad2\",\"user_id\":\"u-1\",\"title\":\"Rent\","
        "\"description\":\"\",\"status\":\"completed\",\"completed\":true,\"priority\":\"high\","
        "\"tags\":[\"home\"],\"due_at\":\"2026-12-20T14:00:00Z\",\"due_date\":\"2026-12-20T14:00:00Z\","
        "\"all_day\":false,\"time_zone\":\"America/New_York\",\"recurrence\":\"FREQ=MONTHLY\","
        "\"recurrence_pattern\":\"monthly\",\"recurrence_anchor\":\"completion\",\"reminders\":[{\"offset\":\"PT15M\",\"channel\":\"in_app\"}],"
        "\"created_at\":\"2026-11-23T10:00:00Z\",\"updated_at\":\"2026-11-23T10:00:00Z\","
        "\"completed_at\":\"2026-11-24T10:00:00Z\",\"version\":4}";
    ok(answer, TD_TASK_REPLACE);
    cr_expect_str_eq(str("due_at"), "2026-12-20T14:00:00Z");
    cr_expect_str_eq(str("recurrence"), "FREQ=MONTHLY");
    cr_expect_str_eq(str("status"), "completed");
    cr_expect_eq(num("priority"), 3);
    cr_expect_str_eq(str("recurrence_anchor"), "completion");
    cr_expect_eq(json_object_size(out), 10, "all_day is the store's: left out for a date-time");
    ok(answer, TD_TASK_PATCH);
}

Test(task, a_member_and_its_alias_must_agree)
{
    ok("{\"recurrence\":\"FREQ=WEEKLY\",\"recurrence_pattern\":\"weekly\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("recurrence"), "FREQ=WEEKLY");
    ok("{\"recurrence\":\"RRULE:FREQ=WEEKLY;BYDAY=MO\",\"recurrence_pattern\":\"FREQ=WEEKLY;BYDAY=MO\"}",
       TD_TASK_PATCH);
    cr_expect_str_eq(str("recurrence"), "FREQ=WEEKLY;BYDAY=MO");
    ok("{\"recurrence\":null,\"recurrence_pattern\":\"None\"}", TD_TASK_PATCH);
    cr_expect(json_is_null(json_object_get(out, "recurrence")));
    bad("{\"recurrence\":\"FREQ=DAILY\",\"recurrence_pattern\":\"weekly\"}", TD_TASK_PATCH,
        "recurrence_pattern", "conflicts with recurrence");
    bad("{\"recurrence\":null,\"recurrence_pattern\":\"daily\"}", TD_TASK_PATCH,
        "recurrence_pattern", "conflicts with recurrence");
    /* The same instant written two ways agrees; a date and its midnight do not. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-12-20T14:00:00Z\",\"due_date\":\"2026-12-20T09:00\"}",
                        TD_TASK_PATCH, "America/New_York"), 0);
    cr_expect_str_eq(str("due_at"), "2026-12-20T14:00:00Z");
    bad("{\"due_at\":\"2026-12-20T00:00:00Z\",\"due_date\":\"2026-12-20\"}", TD_TASK_PATCH,
        "due_date", "conflicts with due_at");
    bad("{\"due_at\":\"2026-12-20T09:00:00Z\",\"due_date\":\"2026-12-20T09:00:01Z\"}",
        TD_TASK_PATCH, "due_date", "conflicts with due_at");
    ok("{\"status\":\"pending\",\"completed\":false}", TD_TASK_PATCH);
    cr_expect_str_eq(str("status"), "pending");
}

Test(task, input_must_be_an_object)
{
    json_t *in = json_array();
    cr_assert_eq(td_task_validate(in, TD_TASK_CREATE, "UTC", &out, &errs), -EINVAL);
    cr_expect_eq(errs.count, 1);
    cr_expect_str_eq(errs.items[0].field, "body");
    json_decref(in);
    cr_expect_eq(td_task_validate(NULL, TD_TASK_CREATE, "UTC", NULL, &errs), -EINVAL);
}

Test(task, wrong_types_name_the_field)
{
    bad("{\"title\":5}", TD_TASK_CREATE, "title", "must be a string");
    bad("{\"title\":\"x\",\"description\":[]}", TD_TASK_CREATE, "description", "must be a string");
    bad("{\"title\":\"x\",\"tags\":\"a,b\"}", TD_TASK_CREATE, "tags", "must be an array");
    bad("{\"title\":\"x\",\"due_at\":1700000000}", TD_TASK_CREATE, "due_at", "must be a string");
    bad("{\"title\":\"x\",\"time_zone\":1}", TD_TASK_CREATE, "time_zone", "must be a string");
    bad("{\"title\":\"x\",\"recurrence\":{}}", TD_TASK_CREATE, "recurrence", "must be a string");
    bad("{\"title\":\"x\",\"reminders\":{}}", TD_TASK_CREATE, "reminders", "must be an array");
    bad("{\"title\":\"x\",\"completed\":\"yes\"}", TD_TASK_CREATE, "completed", "must be a boolean");
}

Test(task, every_bad_field_is_reported)
{
    cr_assert_eq(run("{\"title\":\"\",\"priority\":\"critical\",\"time_zone\":\"Mars/Base\"}",
                     TD_TASK_CREATE),
                 -EINVAL);
    cr_assert_eq(errs.count, 3);
    cr_expect_str_eq(errs.items[0].field, "time_zone");
    cr_expect_str_eq(errs.items[1].field, "title");
    cr_expect_str_eq(errs.items[2].field, "priority");
}

Test(task, error_list_is_capped)
{
    /* 40 unknown members: the list keeps the first 32 and nothing overflows. */
    char text[1024] = "{";
    for (int i = 0; i < 40; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\"x%d\":1", i ? "," : "", i);
    strcat(text, "}");
    cr_assert_eq(run(text, TD_TASK_PATCH), -EINVAL);
    cr_expect_eq(errs.count, 32);
}

/* ---------- title and description ---------- */

Test(task, title_is_required_and_trimmed)
{
    bad("{}", TD_TASK_CREATE, "title", "is required");
    ok("{\"title\":\"  \\t Buy milk \\n\"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("title"), "Buy milk");
    bad("{\"title\":\"   \"}", TD_TASK_CREATE, "title", "1 to 500");
    /* U+3000 and U+00A0 are white space too. */
    bad("{\"title\":\"\\u3000\\u00a0\"}", TD_TASK_CREATE, "title", "1 to 500");
    ok("{\"title\":\"\\u00a0caf\\u00e9\\u3000\"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("title"), "caf\xc3\xa9");
}

Test(task, title_counts_code_points_not_bytes)
{
    char *t500 = repeat_member("title", "\xf0\x9f\x98\x80", 500); /* U+1F600, 4 bytes */
    char *t501 = repeat_member("title", "\xf0\x9f\x98\x80", 501);
    ok(t500, TD_TASK_CREATE);
    cr_expect_eq(strlen(str("title")), 2000);
    bad(t501, TD_TASK_CREATE, "title", "1 to 500");
    free(t500);
    free(t501);
    char *a500 = repeat_member("title", "a", 500), *a501 = repeat_member("title", "a", 501);
    ok(a500, TD_TASK_CREATE);
    bad(a501, TD_TASK_CREATE, "title", "1 to 500");
    free(a500);
    free(a501);
}

Test(task, title_rejects_invalid_utf8)
{
    static const char *const cases[] = {
        "ab\xff", "\xc3", "\xc0\xaf" /* overlong '/' */, "\xed\xa0\x80" /* surrogate */,
        "\xf4\x90\x80\x80" /* > U+10FFFF */, "\xe2\x82",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(run_raw_title(cases[i], strlen(cases[i])), -EINVAL, "case %zu", i);
        cr_expect_str_eq(errs.items[0].field, "title");
        cr_expect(strstr(errs.items[0].message, "UTF-8"));
    }
    cr_expect_eq(run_raw_title("a\0b", 3), -EINVAL, "NUL cannot be stored in PostgreSQL text");
    cr_expect_eq(run_raw_title("\xe2\x82\xac", 3), 0, "the euro sign is fine");
}

Test(task, description_limit_and_default)
{
    char *d = repeat_member("description", "\xc3\xa9", 10000);
    cr_assert_eq(run_tz(d, TD_TASK_PATCH, "UTC"), 0);
    free(d);
    d = repeat_member("description", "x", 10001);
    bad(d, TD_TASK_PATCH, "description", "0 to 10000");
    free(d);
    /* Not trimmed: white space in a description is content. */
    ok("{\"title\":\"x\",\"description\":\" two\\nlines \"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("description"), " two\nlines ");
}

/* ---------- status and priority ---------- */

Test(task, status_and_completed_alias)
{
    ok("{\"status\":\"completed\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("status"), "completed");
    bad("{\"status\":\"done\"}", TD_TASK_PATCH, "status", "pending or completed");
    ok("{\"completed\":true}", TD_TASK_PATCH);
    cr_expect_str_eq(str("status"), "completed");
    cr_expect_null(json_object_get(out, "completed"));
    ok("{\"title\":\"x\",\"completed\":false}", TD_TASK_CREATE);
    cr_expect_str_eq(str("status"), "pending");
    bad("{\"status\":\"pending\",\"completed\":true}", TD_TASK_PATCH, "completed", "conflicts");
}

Test(task, priority_names_aliases_and_integers)
{
    static const struct { const char *in; int want; } cases[] = {
        {"\"none\"", 0}, {"\"low\"", 1}, {"\"medium\"", 2}, {"\"high\"", 3}, {"\"urgent\"", 4},
        {"\"p1\"", 4}, {"\"p2\"", 3}, {"\"p3\"", 2}, {"\"p4\"", 1}, {"\"HIGH\"", 3},
        {"\"P1\"", 4}, {"0", 0}, {"4", 4},
    };
    char text[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "{\"priority\":%s}", cases[i].in);
        ok(text, TD_TASK_PATCH);
        cr_expect_eq(num("priority"), cases[i].want, "%s", cases[i].in);
    }
    bad("{\"priority\":5}", TD_TASK_PATCH, "priority", "0 to 4");
    bad("{\"priority\":-1}", TD_TASK_PATCH, "priority", "0 to 4");
    bad("{\"priority\":2.0}", TD_TASK_PATCH, "priority", "must be a string or an integer");
    bad("{\"priority\":\"p5\"}", TD_TASK_PATCH, "priority", "p1 to p4");
    bad("{\"priority\":\"p0\"}", TD_TASK_PATCH, "priority", "p1 to p4");
    bad("{\"priority\":\"critical\"}", TD_TASK_PATCH, "priority", "p1 to p4");
}

Test(task, priority_helpers)
{
    int p = -1;
    cr_expect_eq(td_task_priority_parse("p1", &p), 0);
    cr_expect_eq(p, 4);
    cr_expect_eq(td_task_priority_parse("p", &p), -EINVAL);
    cr_expect_eq(td_task_priority_parse("p11", &p), -EINVAL);
    cr_expect_eq(td_task_priority_parse("", &p), -EINVAL);
    cr_expect_str_eq(td_task_priority_name(0), "none");
    cr_expect_str_eq(td_task_priority_name(4), "urgent");
    cr_expect_null(td_task_priority_name(5));
    cr_expect_null(td_task_priority_name(-1));
}

/* ---------- tags ---------- */

Test(task, tags_are_trimmed_lowercased_and_deduplicated_in_order)
{
    ok("{\"tags\":[\" Work \",\"home\",\"WORK\",\"Home\",\"x\"]}", TD_TASK_PATCH);
    assert_member_json("tags", "[\"work\",\"home\",\"x\"]");
}

Test(task, tag_limits)
{
    char text[512] = "{\"tags\":[";
    for (int i = 0; i < 21; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\"t%d\"", i ? "," : "", i);
    strcat(text, "]}");
    bad(text, TD_TASK_PATCH, "tags", "at most 20");
    strcpy(strstr(text, ",\"t20\""), "]}");
    ok(text, TD_TASK_PATCH);
    cr_expect_eq(json_array_size(json_object_get(out, "tags")), 20);

    char long_tag[128] = {0};
    memset(long_tag, 'a', 50);
    snprintf(text, sizeof text, "{\"tags\":[\"%s\"]}", long_tag);
    ok(text, TD_TASK_PATCH);
    memset(long_tag, 'a', 51);
    snprintf(text, sizeof text, "{\"tags\":[\"ok\",\"%s\"]}", long_tag);
    bad(text, TD_TASK_PATCH, "tags[1]", "1 to 50");
    bad("{\"tags\":[\"  \"]}", TD_TASK_PATCH, "tags[0]", "1 to 50");
    bad("{\"tags\":[\"a,b\"]}", TD_TASK_PATCH, "tags[0]", "commas");
    bad("{\"tags\":[\"a\\u0007b\"]}", TD_TASK_PATCH, "tags[0]", "control");
    bad("{\"tags\":[\"a\\tb\"]}", TD_TASK_PATCH, "tags[0]", "control");
    ok("{\"tags\":[\"\\tab\\n\"]}", TD_TASK_PATCH);
    assert_member_json("tags", "[\"ab\"]");
    bad("{\"tags\":[\"ok\",3]}", TD_TASK_PATCH, "tags[1]", "must be a string");
}

/* ---------- due_at and time zones ---------- */

Test(task, due_at_offsets_are_normalised_to_utc)
{
    ok("{\"due_at\":\"2026-03-01T10:00:00+02:00\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("due_at"), "2026-03-01T08:00:00Z");
    cr_expect_null(json_object_get(out, "all_day"), "a date-time leaves all_day to the store");
    ok("{\"due_at\":\"2026-12-31T22:30:00.987654-05:30\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("due_at"), "2027-01-01T04:00:00Z", "fraction dropped, year rolled");
    ok("{\"due_date\":\"2026-03-01t10:00:00z\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("due_at"), "2026-03-01T10:00:00Z");
    cr_expect_null(json_object_get(out, "due_date"));
}

Test(task, date_only_due_is_midnight_in_the_task_zone)
{
    ok("{\"title\":\"x\",\"due_at\":\"2026-01-15\",\"time_zone\":\"America/New_York\"}",
       TD_TASK_CREATE);
    cr_expect_str_eq(str("due_at"), "2026-01-15T05:00:00Z");
    cr_expect(json_is_true(json_object_get(out, "all_day")));
    ok("{\"title\":\"x\",\"due_at\":\"2026-07-15\",\"time_zone\":\"America/New_York\"}",
       TD_TASK_CREATE);
    cr_expect_str_eq(str("due_at"), "2026-07-15T04:00:00Z");
    /* The user's zone when the body has none; east of UTC lands the day before. */
    cr_assert_eq(run_tz("{\"title\":\"x\",\"due_at\":\"2026-07-01\"}", TD_TASK_CREATE,
                        "Europe/Paris"), 0);
    cr_expect_str_eq(str("due_at"), "2026-06-30T22:00:00Z");
    ok("{\"title\":\"x\",\"due_at\":\"2026-07-01\"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("due_at"), "2026-07-01T00:00:00Z");
}

Test(task, bad_due_dates)
{
    static const char *const cases[] = {
        "2026-02-30", "2026-13-01", "2026-00-10", "2026-03-01T25:00:00Z", "2026-03-01T10",
        "2026-03-01T10:00:", "tomorrow", "", "2026-3-1", "2026-03-01T10:00:00+2:00",
        "2026-03-01T10:00:00.Z", "2026-03-01T10:00:60Z", "2026-03-01T10:00:00Z ",
        "2026-03-01T10:00.5", "2026-03-01T10:00+01",
    };
    char text[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "{\"due_at\":\"%s\"}", cases[i]);
        bad(text, TD_TASK_PATCH, "due_at", "RFC 3339");
    }
    bad("{\"due_at\":\"0000-12-31T00:00:00Z\"}", TD_TASK_PATCH, "due_at", "0001 and 9999");
    /* A NUL inside must not let the date before it through. */
    json_t *in = json_pack("{s:s%}", "due_at", "2026-01-01\0x", (size_t)12);
    cr_assert_eq(td_task_validate(in, TD_TASK_PATCH, "UTC", &out, &errs), -EINVAL);
    json_decref(in);
    cr_expect_str_eq(errs.items[0].field, "due_at");
    /* Placed in the zone, the first local minute of year 1 is still year 0 in UTC. */
    cr_assert_eq(run_tz("{\"due_at\":\"0001-01-01T00:30\"}", TD_TASK_PATCH, "Asia/Tokyo"), -EINVAL);
    cr_expect_str_eq(errs.items[0].field, "due_at");
    cr_expect_str_eq(errs.items[0].message, "is out of range");
    bad("{\"due_at\":\"2026-01-01\",\"due_date\":\"2026-01-02\"}", TD_TASK_PATCH, "due_date",
        "conflicts with due_at");
}

Test(task, time_zone_member_is_checked)
{
    ok("{\"time_zone\":\"Europe/Paris\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("time_zone"), "Europe/Paris");
    ok("{\"time_zone\":\"US/Eastern\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("time_zone"), "US/Eastern", "an alias is kept as given");
    bad("{\"time_zone\":\"../../etc/passwd\"}", TD_TASK_PATCH, "time_zone", "IANA");
    bad("{\"time_zone\":\"Mars/Base\"}", TD_TASK_PATCH, "time_zone", "IANA");
    /* A NUL inside must not let "Europe/Paris" through as the C string. */
    json_t *in = json_pack("{s:s%}", "time_zone", "Europe/Paris\0x", (size_t)14);
    cr_assert_eq(td_task_validate(in, TD_TASK_PATCH, "UTC", &out, &errs), -EINVAL);
    json_decref(in);
    cr_expect_str_eq(errs.items[0].field, "time_zone");
}

Test(task, local_due_is_read_in_the_task_zone)
{
    /* What an HTML datetime-local input sends, in the user's zone when the body has none. */
    static const char *const forms[] = {"2026-12-20T09:00", "2026-12-20T09:00:00",
                                        "2026-12-20T09:00:00.123", "2026-12-20 09:00"};
    char text[128];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(text, sizeof text, "{\"title\":\"x\",\"due_date\":\"%s\"}", forms[i]);
        cr_assert_eq(run_tz(text, TD_TASK_CREATE, "America/New_York"), 0, "%s", forms[i]);
        cr_expect_str_eq(str("due_at"), "2026-12-20T14:00:00Z", "%s", forms[i]);
        cr_expect_null(json_object_get(out, "all_day"), "a date-time leaves all_day to the store");
    }
    /* The body's time_zone wins over the user's. */
    cr_assert_eq(run_tz("{\"title\":\"x\",\"due_at\":\"2026-12-20T09:00\",\"time_zone\":\"Europe/Paris\"}",
                        TD_TASK_CREATE, "America/New_York"), 0);
    cr_expect_str_eq(str("due_at"), "2026-12-20T08:00:00Z");
    /* On PATCH the caller passes the task's zone. Not all day: a time was given. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-07-01T09:00\"}", TD_TASK_PATCH, "Asia/Kolkata"), 0);
    cr_expect_str_eq(str("due_at"), "2026-07-01T03:30:00Z");
    cr_expect_null(json_object_get(out, "all_day"));
    /* Without any zone: UTC. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-07-01T09:00\"}", TD_TASK_PATCH, NULL), 0);
    cr_expect_str_eq(str("due_at"), "2026-07-01T09:00:00Z");
}

Test(task, local_due_across_dst_changes_follows_rfc5545)
{
    /* A time the spring-forward skips takes the offset before the gap: 02:30 EST = 03:30 EDT. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-03-08T02:30\"}", TD_TASK_PATCH, "America/New_York"), 0);
    cr_expect_str_eq(str("due_at"), "2026-03-08T07:30:00Z");
    /* A time the fall-back repeats is its first occurrence: 01:30 EDT. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-11-01T01:30\"}", TD_TASK_PATCH, "America/New_York"), 0);
    cr_expect_str_eq(str("due_at"), "2026-11-01T05:30:00Z");
}

Test(task, minutes_only_date_times_with_an_offset)
{
    ok("{\"due_at\":\"2026-12-20T09:00Z\"}", TD_TASK_PATCH);
    cr_expect_str_eq(str("due_at"), "2026-12-20T09:00:00Z");
    /* An offset makes it an instant: the zone plays no part. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-12-20T09:00+01:00\"}", TD_TASK_PATCH, "America/New_York"), 0);
    cr_expect_str_eq(str("due_at"), "2026-12-20T08:00:00Z");
}

Test(task, bad_zone_does_not_also_blame_a_date_only_due)
{
    /* The fallback zone is unusable too, so only the skip keeps this at one error. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-01-15\",\"time_zone\":\"Mars/Base\"}",
                        TD_TASK_PATCH, "Venus/Base"),
                 -EINVAL);
    cr_expect_eq(errs.count, 1);
    cr_expect_str_eq(errs.items[0].field, "time_zone");
    /* A date-only due with an unusable user zone is blamed on due_at. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-01-15\"}", TD_TASK_PATCH, "Venus/Base"), -EINVAL);
    cr_expect_str_eq(errs.items[0].field, "due_at");
    cr_expect_str_eq(errs.items[0].message, "cannot be placed in time_zone");
    /* The same for a local date-time. */
    cr_assert_eq(run_tz("{\"due_at\":\"2026-01-15T09:00\",\"time_zone\":\"Mars/Base\"}",
                        TD_TASK_PATCH, "Venus/Base"), -EINVAL);
    cr_expect_eq(errs.count, 1);
    cr_expect_str_eq(errs.items[0].field, "time_zone");
    cr_assert_eq(run_tz("{\"due_at\":\"2026-01-15T09:00\"}", TD_TASK_PATCH, "Venus/Base"), -EINVAL);
    cr_expect_str_eq(errs.items[0].message, "cannot be placed in time_zone");
}

/* ---------- recurrence ---------- */

Test(task, recurrence_is_stored_without_prefix)
{
    const char *due = "\"due_at\":\"2026-03-01T09:00:00Z\"";
    char text[256];
    snprintf(text, sizeof text, "{\"title\":\"x\",%s,\"recurrence\":\"RRULE:FREQ=WEEKLY;BYDAY=MO,WE\"}", due);
    ok(text, TD_TASK_CREATE);
    cr_expect_str_eq(str("recurrence"), "FREQ=WEEKLY;BYDAY=MO,WE");
    snprintf(text, sizeof text, "{\"title\":\"x\",%s,\"recurrence_pattern\":\"FREQ=DAILY\"}", due);
    ok(text, TD_TASK_CREATE);
    cr_expect_str_eq(str("recurrence"), "FREQ=DAILY");
    cr_expect_null(json_object_get(out, "recurrence_pattern"));
    bad("{\"recurrence\":\"hello\"}", TD_TASK_PATCH, "recurrence", "RRULE");
    bad("{\"recurrence_pattern\":\"FREQ=SOMETIMES\"}", TD_TASK_PATCH, "recurrence_pattern", "RRULE");
    bad("{\"recurrence\":\"FREQ=DAILY\",\"recurrence_pattern\":\"FREQ=HOURLY\"}", TD_TASK_PATCH,
        "recurrence_pattern", "conflicts");
}

Test(task, recurrence_in_words)
{
    static const struct { const char *in, *want; } cases[] = {
        {"daily", "FREQ=DAILY"}, {"weekly", "FREQ=WEEKLY"}, {"monthly", "FREQ=MONTHLY"},
        {"yearly", "FREQ=YEARLY"}, {"Weekly", "FREQ=WEEKLY"}, {"DAILY", "FREQ=DAILY"},
        {"none", NULL}, {"None", NULL}, {"NONE", NULL}, {"", NULL},
    };
    const char *names[] = {"recurrence", "recurrence_pattern"};
    char text[128];
    for (size_t n = 0; n < 2; n++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            snprintf(text, sizeof text, "{\"%s\":\"%s\"}", names[n], cases[i].in);
            ok(text, TD_TASK_PATCH);
            cr_expect_eq(json_object_size(out), 1, "%s", text);
            if (cases[i].want)
                cr_expect_str_eq(str("recurrence"), cases[i].want, "%s", text);
            else
                cr_expect(json_is_null(json_object_get(out, "recurrence")), "%s", text);
        }
    }
    bad("{\"recurrence\":\"fortnightly\"}", TD_TASK_PATCH, "recurrence",
        "must be none, daily, weekly, monthly, yearly or an RRULE");
    bad("{\"recurrence_pattern\":\" weekly\"}", TD_TASK_PATCH, "recurrence_pattern", "weekly");
    json_t *in = json_pack("{s:s%}", "recurrence", "daily\0x", (size_t)7);
    cr_assert_eq(td_task_validate(in, TD_TASK_PATCH, "UTC", &out, &errs), -EINVAL);
    json_decref(in);
    cr_expect_str_eq(errs.items[0].field, "recurrence");
    cr_expect(strstr(errs.items[0].message, "NUL"));
}

Test(task, recurrence_word_names_only_the_four_plain_rules)
{
    cr_expect_str_eq(td_task_recurrence_word("FREQ=DAILY"), "daily");
    cr_expect_str_eq(td_task_recurrence_word("FREQ=WEEKLY"), "weekly");
    cr_expect_str_eq(td_task_recurrence_word("FREQ=MONTHLY"), "monthly");
    cr_expect_str_eq(td_task_recurrence_word("freq=yearly"), "yearly", "RRULE names are case-blind");
    static const char *const others[] = {"FREQ=DAILY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=MO",
                                         "FREQ=HOURLY", "RRULE:FREQ=DAILY", "FREQ=DAILY;",
                                         " FREQ=DAILY", "daily", "", NULL};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_expect_null(td_task_recurrence_word(others[i]), "%s", others[i] ? others[i] : "NULL");
    /* Every word goes in and comes back out as itself. */
    static const char *const words[] = {"daily", "weekly", "monthly", "yearly"};
    char text[64];
    for (size_t i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "{\"recurrence_pattern\":\"%s\"}", words[i]);
        ok(text, TD_TASK_PATCH);
        cr_expect_str_eq(td_task_recurrence_word(str("recurrence")), words[i]);
    }
}

Test(task, recurrence_without_due_date_is_kept)
{
    /* Without a due date a recurrence counts from the task's creation. */
    ok("{\"title\":\"x\",\"recurrence\":\"Weekly\"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("recurrence"), "FREQ=WEEKLY");
    cr_expect(json_is_null(json_object_get(out, "due_at")));
    ok("{\"title\":\"x\",\"recurrence\":\"FREQ=DAILY;INTERVAL=2\"}", TD_TASK_CREATE);
    cr_expect_str_eq(str("recurrence"), "FREQ=DAILY;INTERVAL=2");
    ok("{\"title\":\"x\",\"due_at\":null,\"recurrence_pattern\":\"daily\"}", TD_TASK_REPLACE);
    cr_expect_str_eq(str("recurrence"), "FREQ=DAILY");
    ok("{\"due_at\":null,\"recurrence\":\"FREQ=DAILY\"}", TD_TASK_PATCH);
    cr_expect_eq(json_object_size(out), 3);
    /* Offset reminders still need a due date. */
    bad("{\"title\":\"x\",\"recurrence\":\"daily\",\"reminders\":[{\"offset\":\"PT5M\"}]}",
        TD_TASK_CREATE, "reminders", "need due_at");
}

Test(task, recurrence_anchor_is_schedule_or_completion)
{
    ok("{\"title\":\"x\",\"recurrence\":\"daily\",\"recurrence_anchor\":\"completion\"}",
       TD_TASK_CREATE);
    cr_expect_str_eq(str("recurrence_anchor"), "completion");
    ok("{\"title\":\"x\",\"recurrence_anchor\":\"schedule\"}", TD_TASK_REPLACE);
    cr_expect_str_eq(str("recurrence_anchor"), "schedule");
    ok("{\"recurrence_anchor\":\"completion\"}", TD_TASK_PATCH);
    cr_expect_eq(json_object_size(out), 1);
    cr_expect_str_eq(str("recurrence_anchor"), "completion");
    ok("{\"priority\":1}", TD_TASK_PATCH);
    cr_expect_null(json_object_get(out, "recurrence_anchor"), "PATCH keeps the stored anchor");
    const char *msg = "must be \"schedule\" or \"completion\"";
    bad("{\"title\":\"x\",\"recurrence_anchor\":\"every!\"}", TD_TASK_CREATE, "recurrence_anchor", msg);
    bad("{\"title\":\"x\",\"recurrence_anchor\":\"Completion\"}", TD_TASK_REPLACE,
        "recurrence_anchor", msg);
    bad("{\"recurrence_anchor\":null}", TD_TASK_PATCH, "recurrence_anchor", msg);
    bad("{\"recurrence_anchor\":1}", TD_TASK_PATCH, "recurrence_anchor", msg);
    /* No alias: "anchor" is a typo like any other unknown member. */
    bad("{\"anchor\":\"completion\"}", TD_TASK_PATCH, "anchor", "unknown field");
}

/* ---------- reminders ---------- */

Test(task, reminders_are_normalised)
{
    ok("{\"title\":\"x\",\"due_at\":\"2026-03-01T09:00:00Z\",\"reminders\":["
       "{\"offset\":\"PT15M\"},"
       "{\"at\":\"2026-03-01T10:00:00+01:00\",\"channel\":\"email\"},"
       "{\"offset\":\"P365D\",\"channel\":\"webhook\"}]}",
       TD_TASK_CREATE);
    assert_member_json("reminders",
                       "[{\"offset\":\"PT15M\",\"channel\":\"in_app\"},"
                       "{\"at\":\"2026-03-01T09:00:00Z\",\"channel\":\"email\"},"
                       "{\"offset\":\"P365D\",\"channel\":\"webhook\"}]");
}

Test(task, bad_reminders)
{
    bad("{\"reminders\":[{\"offset\":\"P366D\"}]}", TD_TASK_PATCH, "reminders[0].offset",
        "365 days");
    bad("{\"reminders\":[{\"offset\":\"P1Y\"}]}", TD_TASK_PATCH, "reminders[0].offset", "ISO 8601");
    bad("{\"reminders\":[{\"offset\":900}]}", TD_TASK_PATCH, "reminders[0].offset", "ISO 8601");
    bad("{\"reminders\":[{\"at\":\"2026-03-01\"}]}", TD_TASK_PATCH, "reminders[0].at", "date-time");
    bad("{\"reminders\":[{\"offset\":\"PT5M\",\"channel\":\"pager\"}]}", TD_TASK_PATCH,
        "reminders[0].channel", "in_app, email, webhook, sms or push");
    bad("{\"reminders\":[{\"offset\":\"PT5M\",\"at\":\"2026-03-01T10:00:00Z\"}]}", TD_TASK_PATCH,
        "reminders[0]", "not both");
    bad("{\"reminders\":[{\"offset\":\"PT5M\"},{\"channel\":\"email\"}]}", TD_TASK_PATCH,
        "reminders[1]", "needs offset or at");
    bad("{\"reminders\":[{\"offset\":\"PT5M\",\"when\":1}]}", TD_TASK_PATCH, "reminders[0].when",
        "unknown field");
    bad("{\"reminders\":[\"PT5M\"]}", TD_TASK_PATCH, "reminders[0]", "must be an object");
    char text[512] = "{\"reminders\":[";
    for (int i = 0; i < 11; i++)
        strcat(text, i ? ",{\"offset\":\"PT1M\"}" : "{\"offset\":\"PT1M\"}");
    strcat(text, "]}");
    bad(text, TD_TASK_PATCH, "reminders", "at most 10");
    strcpy(strrchr(text, ','), "]}");
    ok(text, TD_TASK_PATCH);
}

Test(task, offset_reminders_need_due_at)
{
    bad("{\"title\":\"x\",\"reminders\":[{\"offset\":\"PT15M\"}]}", TD_TASK_CREATE, "reminders",
        "need due_at");
    /* An absolute reminder stands alone. */
    ok("{\"title\":\"x\",\"reminders\":[{\"at\":\"2026-03-01T10:00:00Z\"}]}", TD_TASK_CREATE);
    ok("{\"reminders\":[{\"offset\":\"PT15M\"}]}", TD_TASK_PATCH);
}

/* ---------- the error document ---------- */

Test(task, errors_json_escapes_and_parses_back)
{
    struct td_task_errors e = {0};
    e.count = 2;
    strcpy(e.items[0].field, "ti\"tle\\");
    strcpy(e.items[0].message, "line\nbreak \x01 and \xc3\xa9");
    strcpy(e.items[1].field, "tags[3]");
    strcpy(e.items[1].message, "must be 1 to 50 characters");
    char *s = NULL;
    cr_assert_eq(td_task_errors_json(&e, &s), 0);
    cr_assert(!strncmp(s, "\"errors\":[", 10), "%s", s);
    char *wrapped = malloc(strlen(s) + 3);
    sprintf(wrapped, "{%s}", s);
    json_error_t je;
    json_t *doc = json_loads(wrapped, 0, &je);
    cr_assert_not_null(doc, "%s: %s", wrapped, je.text);
    json_t *first = json_array_get(json_object_get(doc, "errors"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "field")), "ti\"tle\\");
    cr_expect_str_eq(json_string_value(json_object_get(first, "message")),
                     "line\nbreak \x01 and \xc3\xa9");
    cr_expect_eq(json_array_size(json_object_get(doc, "errors")), 2);
    json_decref(doc);
    free(wrapped);
    free(s);
    e.count = 0;
    cr_assert_eq(td_task_errors_json(&e, &s), 0);
    cr_expect_str_eq(s, "\"errors\":[]");
    free(s);
}

Test(task, invalid_utf8_keys_are_replaced_in_errors)
{
    json_t *in = json_object();
    json_object_set_new_nocheck(in, "bad\xffkey", json_true());
    cr_assert_eq(td_task_validate(in, TD_TASK_PATCH, "UTC", &out, &errs), -EINVAL);
    json_decref(in);
    cr_expect_str_eq(errs.items[0].field, "bad?key");
    char *s = NULL;
    cr_assert_eq(td_task_errors_json(&errs, &s), 0);
    free(s);
}

Test(task, long_unknown_keys_stay_valid_utf8)
{
    /* A 40-character key of two-byte characters: cutting it at 63 bytes would split one. */
    char text[128] = "{\"";
    for (int i = 0; i < 40; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, "\":1}");
    cr_assert_eq(run(text, TD_TASK_PATCH), -EINVAL);
    cr_expect_eq(strlen(errs.items[0].field), 62, "31 whole characters fit in 63 bytes");
    cr_expect_str_eq(errs.items[0].message, "unknown field");
    char *s = NULL;
    cr_assert_eq(td_task_errors_json(&errs, &s), 0, "field truncated mid-character");
    cr_expect(strstr(s, "unknown field"));
    free(s);
}

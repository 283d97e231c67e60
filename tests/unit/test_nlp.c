/* core/nlp.c: td_nlp_parse as the chat calls it: errors, bounds, zones, adds, lists. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp.h"

#define NOW_MS 1804705200000LL /* 2027-03-10T19:00:00Z: 14:00 in New York, a Wednesday */
#define NY "America/New_York"

static struct td_nlp_result r;

static int parse(const char *s, const char *tz)
{
    return td_nlp_parse(s, strlen(s), NOW_MS, tz, &r);
}

static const char *due(void)
{
    static char buf[32];
    if (!r.has_due)
        return "none";
    if (r.all_day)
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", r.due_local.year, r.due_local.month,
                 r.due_local.day);
    else
        td_datetime_format_utc(r.due_s, buf, sizeof buf);
    return buf;
}

Test(nlp, refuses_bad_arguments_and_input)
{
    cr_expect_eq(td_nlp_parse(NULL, 0, NOW_MS, NY, &r), -EINVAL);
    cr_expect_eq(td_nlp_parse("x", 1, NOW_MS, NY, NULL), -EINVAL);
    static char big[TD_NLP_MAX_INPUT + 2];
    memset(big, 'a', sizeof big - 1);
    cr_expect_eq(td_nlp_parse(big, TD_NLP_MAX_INPUT + 1, NOW_MS, NY, &r), -E2BIG);
    cr_expect_eq(td_nlp_parse(big, TD_NLP_MAX_INPUT, NOW_MS, NY, &r), 0, "the limit itself is fine");
    cr_expect_eq(td_nlp_parse("buy\0milk", 8, NOW_MS, NY, &r), -EILSEQ);
    cr_expect_eq(parse("caf\xc3", NY), -EILSEQ);
    cr_expect_eq(parse("buy milk", "Mars/Olympus"), -ENOENT);
    cr_expect_eq(td_nlp_parse("x", 1, -4611686018427387904LL, NY, &r), -ERANGE);
}

Test(nlp, zone_defaults_to_utc)
{
    cr_assert_eq(parse("call mom tomorrow at 9", NULL), 0);
    cr_expect_str_eq(due(), "2027-03-11T09:00:00Z");
    cr_assert_eq(parse("call mom tomorrow at 9", ""), 0);
    cr_expect_str_eq(due(), "2027-03-11T09:00:00Z");
    cr_assert_eq(parse("call mom tomorrow at 9", NY), 0);
    cr_expect_str_eq(due(), "2027-03-11T14:00:00Z");
}

Test(nlp, empty_and_punctuation_only)
{
    cr_assert_eq(parse("", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNKNOWN);
    cr_expect_eq(r.confidence, 0);
    cr_assert_eq(parse("  \xc2\xa0 ", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNKNOWN);
    cr_assert_eq(parse("?", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_HELP);
    cr_assert_eq(parse("...", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNKNOWN);
}

Test(nlp, adds_everything_at_once)
{
    cr_assert_eq(parse("add \"Read The 5th Wave\" every other tuesday at 8pm #Books !! "
                       "remind me 30 minutes before", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_ADD);
    cr_expect_str_eq(r.title, "Read The 5th Wave");
    cr_expect_str_eq(r.rrule, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
    cr_expect_eq(r.anchor_completion, 0);
    cr_expect_str_eq(due(), "2027-03-17T00:00:00Z", "Tuesday the 16th at 20:00 EDT");
    cr_expect_eq(r.priority, 3);
    cr_expect(r.ntags == 1 && strcmp(r.tags[0], "books") == 0);
    cr_assert_eq(r.nreminders, 1);
    char buf[32];
    cr_expect_eq(td_nlp_reminder_format(&r.reminders[0], buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "PT30M");
    cr_expect_eq(r.confidence, 90);
}

Test(nlp, titles_stay_intact)
{
    static const char *const titles[] = {"Read The 5th Wave", "Renovation plan", "Call May",
                                         "Watch Friday Night Lights", "learn C# basics",
                                         "weekly report", "Mom's birthday"};
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++) {
        cr_assert_eq(parse(titles[i], NY), 0);
        cr_expect_eq(r.intent, TD_NLP_ADD, "%s", titles[i]);
        cr_expect_str_eq(r.title, titles[i]);
        cr_expect_not(r.has_due, "%s", titles[i]);
        cr_expect_eq(r.rrule[0], '\0', "%s", titles[i]);
        cr_expect_eq(r.confidence, 60);
    }
}

Test(nlp, list_filters_come_with_their_range)
{
    cr_assert_eq(parse("what's due this week?", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_LIST);
    cr_expect_eq(r.filter.due, TD_NLP_DUE_WEEK);
    char a[32], b[32];
    td_datetime_format_utc(r.filter.due_from, a, sizeof a);
    td_datetime_format_utc(r.filter.due_to, b, sizeof b);
    cr_expect_str_eq(a, "2027-03-10T05:00:00Z", "from today's midnight");
    cr_expect_str_eq(b, "2027-03-15T04:00:00Z", "to next Monday's, after the DST change");
    cr_assert_eq(parse("anything overdue?", NY), 0);
    cr_expect_eq(r.filter.due, TD_NLP_DUE_OVERDUE);
    cr_expect_eq(r.filter.due_to, NOW_MS / 1000);
}

Test(nlp, references_default_to_it)
{
    cr_assert_eq(parse("cancel the reminder", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNREMIND);
    cr_expect_eq(r.target, TD_NLP_TARGET_IT);
    cr_assert_eq(parse("mark them all done", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_COMPLETE);
    cr_expect_eq(r.target, TD_NLP_TARGET_ALL);
}

Test(nlp, names_and_formats)
{
    cr_expect_str_eq(td_nlp_intent_name(TD_NLP_UNREMIND), "unremind");
    cr_expect_str_eq(td_nlp_intent_name((enum td_nlp_intent)99), "unknown");
    cr_expect_str_eq(td_nlp_status_name(TD_NLP_STATUS_ALL), "all");
    cr_expect_str_eq(td_nlp_due_name(TD_NLP_DUE_NEXT_WEEK), "next_week");
    struct td_nlp_reminder m = {.at = 0, .offset_s = 86400};
    char buf[32];
    cr_expect_eq(td_nlp_reminder_format(&m, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "P1D");
    m.offset_s = 90;
    td_nlp_reminder_format(&m, buf, sizeof buf);
    cr_expect_str_eq(buf, "PT90S");
    cr_expect_lt(td_nlp_reminder_format(&m, buf, 3), 0);
    cr_assert_eq(parse("buy milk", NY), 0);
    td_nlp_free(&r);
    cr_expect_eq(r.title[0], '\0');
    td_nlp_free(NULL);
}

Test(nlp, flags_tell_the_chat_what_to_confirm)
{
    cr_assert_eq(parse("call grandma at 5", NY), 0);
    cr_expect(r.flags & TD_NLP_F_BARE_HOUR, "17:00 was a guess");
    cr_expect(r.flags & TD_NLP_F_GUESSED_ADD);
    cr_expect_str_eq(due(), "2027-03-10T22:00:00Z");
    cr_assert_eq(parse("add call grandma at 5pm", NY), 0);
    cr_expect_eq(r.flags & (TD_NLP_F_BARE_HOUR | TD_NLP_F_GUESSED_ADD), 0u);
    cr_assert_eq(parse("add tomorrow at 9", NY), 0);
    cr_expect(r.flags & TD_NLP_F_NO_TITLE);
    cr_expect_eq(r.confidence, 20);
    cr_assert_eq(parse("thanks!", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNKNOWN);
    cr_expect(r.flags & TD_NLP_F_SMALLTALK);
    cr_assert_eq(parse("delete all completed tasks", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_DELETE);
    cr_expect(r.flags & TD_NLP_F_MANY, "deleting several asks for confirmation");
    cr_expect_eq(r.filter.status, TD_NLP_STATUS_COMPLETED);
}

Test(nlp, clearing_a_due_date_and_a_day_filter)
{
    cr_assert_eq(parse("remove the due date from call mom", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UPDATE);
    cr_expect(r.clear_due && !r.has_due);
    cr_expect_str_eq(r.target_text, "call mom");
    cr_assert_eq(parse("show tasks due friday", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_LIST);
    cr_expect_eq(r.filter.due, TD_NLP_DUE_DAY);
    char a[32], b[32];
    td_datetime_format_utc(r.filter.due_from, a, sizeof a);
    td_datetime_format_utc(r.filter.due_to, b, sizeof b);
    cr_expect_str_eq(a, "2027-03-12T05:00:00Z");
    cr_expect_str_eq(b, "2027-03-13T05:00:00Z");
}

Test(nlp, due_dates_as_the_task_model_takes_them)
{
    char buf[32];
    cr_assert_eq(parse("buy milk friday", NY), 0);
    cr_expect_eq(td_nlp_due_format(&r, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "2027-03-12");
    cr_expect_eq(td_nlp_due_format(&r, buf, 5), -ENOSPC);
    cr_assert_eq(parse("buy milk friday at 6pm", NY), 0);
    cr_expect_eq(td_nlp_due_format(&r, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "2027-03-12T23:00:00Z");
    cr_assert_eq(parse("buy milk", NY), 0);
    cr_expect_eq(td_nlp_due_format(&r, buf, sizeof buf), -ENOENT);
}

Test(nlp, politeness_around_the_request_is_dropped)
{
    cr_assert_eq(parse("please add buy milk, thanks", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_ADD);
    cr_expect_str_eq(r.title, "buy milk");
    cr_assert_eq(parse("oops, undo that please", NY), 0);
    cr_expect_eq(r.intent, TD_NLP_UNDO);
}

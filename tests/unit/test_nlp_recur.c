/* core/nlp_recur.c: recurrences as RRULE values, and the first day a rule falls on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"
#include "core/rrule.h"

static struct nlp_ctx ctx;

static void setup_ctx(const char *text)
{
    memset(&ctx, 0, sizeof ctx);
    ctx.L = &td_nlp_lang_en;
    ctx.text = text;
    ctx.len = strlen(text);
    ctx.tz = "UTC";
    ctx.today = nlp_days(2027, 3, 10);
    cr_assert_eq(nlp_lex(&ctx), 0);
}

/* The RRULE of the whole text, "anchor" appended for the completion anchor. */
static const char *rule_of(const char *text)
{
    static char buf[160];
    struct nlp_recur r;
    setup_ctx(text);
    if (!nlp_recur_full(&ctx, 0, ctx.ntok, &r))
        return "none";
    if (nlp_recur_format(&r, buf, 128) < 0)
        return "unformattable";
    if (td_rrule_validate(buf, NULL, 0) < 0)
        return "refused by libical";
    if (r.completion)
        strcat(buf, " completion");
    return buf;
}

Test(nlp_recur, the_issue_examples)
{
    cr_expect_str_eq(rule_of("every day"), "FREQ=DAILY");
    cr_expect_str_eq(rule_of("every weekday"), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
    cr_expect_str_eq(rule_of("every other tuesday"), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
    cr_expect_str_eq(rule_of("every 3rd friday"), "FREQ=MONTHLY;BYDAY=3FR");
    cr_expect_str_eq(rule_of("every last day of the month"), "FREQ=MONTHLY;BYMONTHDAY=-1");
    cr_expect_str_eq(rule_of("every year on march 3"), "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3");
    cr_expect_str_eq(rule_of("every! week"), "FREQ=WEEKLY completion");
    cr_expect_str_eq(rule_of("every 3 months after completion"), "FREQ=MONTHLY;INTERVAL=3 completion");
}

Test(nlp_recur, more_forms)
{
    cr_expect_str_eq(rule_of("daily"), "FREQ=DAILY");
    cr_expect_str_eq(rule_of("annually"), "FREQ=YEARLY");
    cr_expect_str_eq(rule_of("every two weeks"), "FREQ=WEEKLY;INTERVAL=2");
    cr_expect_str_eq(rule_of("every fri, mon and wed"), "FREQ=WEEKLY;BYDAY=MO,WE,FR",
                     "days in week order");
    cr_expect_str_eq(rule_of("every weekend"), "FREQ=WEEKLY;BYDAY=SA,SU");
    cr_expect_str_eq(rule_of("every last friday of the month"), "FREQ=MONTHLY;BYDAY=-1FR");
    cr_expect_str_eq(rule_of("every 1st"), "FREQ=MONTHLY;BYMONTHDAY=1");
    cr_expect_str_eq(rule_of("every month on the 15th"), "FREQ=MONTHLY;BYMONTHDAY=15");
    cr_expect_str_eq(rule_of("every 2 weeks on tuesday"), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
    cr_expect_str_eq(rule_of("every march 20th"), "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=20");
    cr_expect_str_eq(rule_of("every end of month"), "FREQ=MONTHLY;BYMONTHDAY=-1");
    cr_expect_str_eq(rule_of("every morning"), "FREQ=DAILY");
    cr_expect_str_eq(rule_of("every 10 days after done"), "FREQ=DAILY;INTERVAL=10 completion");
}

Test(nlp_recur, what_is_not_a_rule)
{
    cr_expect_str_eq(rule_of("every"), "none");
    cr_expect_str_eq(rule_of("every 0 days"), "none");
    cr_expect_str_eq(rule_of("every 6th friday"), "none", "no month has six");
    cr_expect_str_eq(rule_of("every 32nd"), "none");
    cr_expect_str_eq(rule_of("every 5 hours"), "none", "hourly rules are not offered");
    cr_expect_str_eq(rule_of("every body"), "none");
    cr_expect_str_eq(rule_of("weekly report"), "none");
}

static long long first(const char *text, int y, int m, int d)
{
    struct nlp_recur r;
    setup_ctx(text);
    cr_assert(nlp_recur_full(&ctx, 0, ctx.ntok, &r), "%s", text);
    return nlp_recur_first_day(&r, nlp_days(y, m, d));
}

Test(nlp_recur, first_day_on_or_after)
{
    cr_expect_eq(first("every 3rd friday", 2027, 3, 10), nlp_days(2027, 3, 19));
    cr_expect_eq(first("every 3rd friday", 2027, 3, 20), nlp_days(2027, 4, 16));
    cr_expect_eq(first("every last friday", 2027, 6, 15), nlp_days(2027, 6, 25));
    cr_expect_eq(first("every last day of the month", 2028, 2, 3), nlp_days(2028, 2, 29));
    cr_expect_eq(first("every 31st", 2027, 4, 1), nlp_days(2027, 5, 31));
    cr_expect_eq(first("every year on feb 29", 2027, 3, 1), nlp_days(2028, 2, 29));
    cr_expect_eq(first("every wednesday", 2027, 3, 10), nlp_days(2027, 3, 10), "today counts");
    cr_expect_eq(first("every day", 2027, 3, 10), nlp_days(2027, 3, 10));
}

Test(nlp_recur, format_refuses_small_buffers)
{
    struct nlp_recur r;
    setup_ctx("every monday, tuesday and friday");
    cr_assert(nlp_recur_full(&ctx, 0, ctx.ntok, &r));
    char buf[64];
    cr_expect_eq(nlp_recur_format(&r, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "FREQ=WEEKLY;BYDAY=MO,TU,FR");
    cr_expect_lt(nlp_recur_format(&r, buf, 12), 0);
    memset(&r, 0, sizeof r);
    cr_expect_lt(nlp_recur_format(&r, buf, sizeof buf), 0, "no frequency");
}

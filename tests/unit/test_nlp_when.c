/* core/nlp_when.c: date and time expressions, read relative to now in the user's zone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"
#include "core/tz.h"

static struct nlp_ctx ctx;

/* now: a local wall time "YYYY-MM-DDTHH:MM" in zone. */
static void setup_ctx(const char *text, const char *now_local, const char *zone)
{
    memset(&ctx, 0, sizeof ctx);
    ctx.L = &td_nlp_lang_en;
    ctx.text = text;
    ctx.len = strlen(text);
    ctx.tz = zone;
    struct td_datetime_civil l = {0};
    cr_assert_eq(sscanf(now_local, "%d-%d-%dT%d:%d", &l.year, &l.month, &l.day, &l.hour, &l.minute), 5);
    cr_assert_eq(td_tz_local_to_utc(zone, &l, &ctx.now), 0);
    ctx.today = nlp_days(l.year, l.month, l.day);
    ctx.now_minute = l.hour * 60 + l.minute;
    cr_assert_eq(nlp_lex(&ctx), 0);
}

/* The due date of the whole text read as one expression, as the corpus writes it. */
static const char *due_of(const char *text, const char *now_local, const char *zone)
{
    static char buf[64];
    setup_ctx(text, now_local, zone);
    struct nlp_when w;
    if (!nlp_when_full(&ctx, 0, ctx.ntok, &w))
        return "none";
    long long utc;
    int all_day;
    struct td_datetime_civil l;
    if (nlp_when_resolve(&ctx, &w, &utc, &all_day, &l) < 0)
        return "unresolved";
    if (all_day)
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", l.year, l.month, l.day);
    else
        td_datetime_format_utc(utc, buf, sizeof buf);
    return buf;
}

#define NY "America/New_York"
#define NOW "2027-03-10T14:00" /* a Wednesday, four days before New York's DST change */

Test(nlp_when, civil_days_round_trip_and_weekdays)
{
    cr_expect_eq(nlp_days(1970, 1, 1), 0);
    cr_expect_eq(nlp_weekday(0), 3, "1970-01-01 was a Thursday");
    cr_expect_eq(nlp_weekday(nlp_days(2027, 3, 10)), 2, "Wednesday");
    for (long long d = -800000; d < 3000000; d += 997) {
        int y, m, dd;
        nlp_civil(d, &y, &m, &dd);
        cr_assert_eq(nlp_days(y, m, dd), d);
    }
    int y, m, d;
    nlp_civil(nlp_days(2028, 2, 29), &y, &m, &d);
    cr_expect(y == 2028 && m == 2 && d == 29);
}

Test(nlp_when, the_issue_examples)
{
    cr_expect_str_eq(due_of("today", NOW, NY), "2027-03-10");
    cr_expect_str_eq(due_of("tonight", NOW, NY), "2027-03-11T01:00:00Z");
    cr_expect_str_eq(due_of("tomorrow at 9", NOW, NY), "2027-03-11T14:00:00Z");
    cr_expect_str_eq(due_of("next friday", NOW, NY), "2027-03-12");
    cr_expect_str_eq(due_of("in 3 days", NOW, NY), "2027-03-13");
    cr_expect_str_eq(due_of("on the 5th", NOW, NY), "2027-04-05");
    cr_expect_str_eq(due_of("Dec 24 at 5pm", NOW, NY), "2027-12-24T22:00:00Z");
    cr_expect_str_eq(due_of("17:30", NOW, NY), "2027-03-10T22:30:00Z");
    cr_expect_str_eq(due_of("noon", NOW, NY), "2027-03-11T17:00:00Z", "noon has passed today");
    cr_expect_str_eq(due_of("end of month", NOW, NY), "2027-03-31");
}

Test(nlp_when, bare_hours_one_to_six_are_afternoon_and_parts_of_day_shift_them)
{
    cr_expect_str_eq(due_of("at 3", NOW, NY), "2027-03-10T20:00:00Z");
    cr_expect_str_eq(due_of("at 9", NOW, NY), "2027-03-11T14:00:00Z");
    cr_expect_str_eq(due_of("at 06:45", NOW, NY), "2027-03-11T11:45:00Z", "a leading zero is 24-hour");
    cr_expect_str_eq(due_of("tonight at 9", NOW, NY), "2027-03-11T02:00:00Z");
    cr_expect_str_eq(due_of("tomorrow morning", NOW, NY), "2027-03-11T14:00:00Z");
    cr_expect_str_eq(due_of("at 12am", NOW, NY), "2027-03-11T05:00:00Z");
    cr_expect_str_eq(due_of("at 12pm", NOW, NY), "2027-03-11T17:00:00Z");
    cr_expect_str_eq(due_of("at 13pm", NOW, NY), "none");
    cr_expect_str_eq(due_of("at 24:00", NOW, NY), "none");
}

Test(nlp_when, dst_gaps_and_repeats_follow_rfc5545)
{
    cr_expect_str_eq(due_of("sunday at 2:30am", NOW, NY), "2027-03-14T07:30:00Z",
                     "a time in the gap is read with the offset before it");
    cr_expect_str_eq(due_of("tomorrow at 1:30am", "2027-11-06T10:00", NY), "2027-11-07T05:30:00Z",
                     "a repeated time is its first occurrence");
    cr_expect_str_eq(due_of("in 24 hours", "2027-11-06T10:00", NY), "2027-11-07T14:00:00Z",
                     "hours are elapsed time");
    cr_expect_str_eq(due_of("in 1 day at 10am", "2027-11-06T10:00", NY), "2027-11-07T15:00:00Z",
                     "days are calendar days");
}

Test(nlp_when, relative_periods_months_and_year_ends)
{
    cr_expect_str_eq(due_of("next week", NOW, NY), "2027-03-15");
    cr_expect_str_eq(due_of("next month", NOW, NY), "2027-04-01");
    cr_expect_str_eq(due_of("this weekend", NOW, NY), "2027-03-13");
    cr_expect_str_eq(due_of("in a month", "2027-01-31T10:00", NY), "2027-02-28", "clamped");
    cr_expect_str_eq(due_of("on the 31st", "2027-04-10T10:00", NY), "2027-05-31",
                     "April has no 31st");
    cr_expect_str_eq(due_of("march 3", NOW, NY), "2028-03-03", "passed this year");
    cr_expect_str_eq(due_of("5 april", NOW, NY), "2027-04-05");
    cr_expect_str_eq(due_of("Dec 24 2029", NOW, NY), "2029-12-24");
    cr_expect_str_eq(due_of("feb 29", NOW, NY), "2028-02-29", "the next year that has one");
    cr_expect_str_eq(due_of("2027-04-02 at 10:15", NOW, NY), "2027-04-02T14:15:00Z");
    cr_expect_str_eq(due_of("2027-02-30", NOW, NY), "none");
    cr_expect_str_eq(due_of("next monday", "2027-12-30T22:00", "Asia/Tokyo"), "2028-01-03");
    cr_expect_str_eq(due_of("wednesday", NOW, NY), "2027-03-17", "today's weekday is next week");
}

Test(nlp_when, titles_keep_their_dates_words)
{
    struct nlp_when w;
    setup_ctx("Read The 5th Wave", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 0, "the 5th needs 'on'");
    setup_ctx("Call May", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 0, "a month needs a day");
    setup_ctx("Watch Friday Night Lights", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 0, "a weekday inside a title");
    setup_ctx("Watch Friday Night Lights friday at 8pm", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 3);
    cr_expect(ctx.tok[4].used && ctx.tok[6].used && !ctx.tok[1].used);
    setup_ctx("hair cut thursday", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 1, "a weekday at the end is a date");
    setup_ctx("meet at the office", NOW, NY);
    cr_expect_eq(nlp_when_scan(&ctx, 0, ctx.ntok, &w), 0, "'at' alone is not taken");
    cr_expect_not(ctx.tok[1].used);
}

Test(nlp_when, instants_from_minutes_and_hours)
{
    cr_expect_str_eq(due_of("in 90 minutes", NOW, NY), "2027-03-10T20:30:00Z");
    cr_expect_str_eq(due_of("in an hour", NOW, NY), "2027-03-10T20:00:00Z");
    cr_expect_str_eq(due_of("in 5000 days", NOW, NY), "none", "bounded counts");
}

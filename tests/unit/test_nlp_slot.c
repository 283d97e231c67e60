/* core/nlp_slot.c: priorities, tags, reminders, task references and list filters. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"
#include "core/tz.h"

static struct nlp_ctx ctx;
static struct td_nlp_result res;

static void setup_ctx(const char *text)
{
    memset(&ctx, 0, sizeof ctx);
    memset(&res, 0, sizeof res);
    ctx.L = &td_nlp_lang_en;
    ctx.text = text;
    ctx.len = strlen(text);
    ctx.tz = "America/New_York";
    struct td_datetime_civil l = {2027, 3, 10, 14, 0, 0};
    cr_assert_eq(td_tz_local_to_utc(ctx.tz, &l, &ctx.now), 0);
    ctx.today = nlp_days(2027, 3, 10);
    cr_assert_eq(nlp_lex(&ctx), 0);
}

static int prio_of(const char *text)
{
    int p = -1;
    setup_ctx(text);
    return nlp_priority_full(&ctx, 0, ctx.ntok, &p) ? p : -1;
}

Test(nlp_slot, priorities)
{
    cr_expect_eq(prio_of("urgent"), 4);
    cr_expect_eq(prio_of("p1"), 4);
    cr_expect_eq(prio_of("!!!"), 4);
    cr_expect_eq(prio_of("!!"), 3);
    cr_expect_eq(prio_of("high priority"), 3);
    cr_expect_eq(prio_of("with high priority"), 3);
    cr_expect_eq(prio_of("priority: low"), 1);
    cr_expect_eq(prio_of("p4"), 1);
    cr_expect_eq(prio_of("medium"), 2, "a bare level after 'priority to'");
    cr_expect_eq(prio_of("p5"), -1);
    cr_expect_eq(prio_of("priority"), -1);
}

Test(nlp_slot, edge_priority_words_only_at_either_end)
{
    int p = 0;
    setup_ctx("urgent: fix the server");
    cr_expect(nlp_priority_extract(&ctx, 0, ctx.ntok, 1, &p));
    cr_expect_eq(p, 4);
    cr_expect(ctx.tok[0].used);
    setup_ctx("call about important document");
    p = 0;
    cr_expect_not(nlp_priority_extract(&ctx, 0, ctx.ntok, 1, &p));
    setup_ctx("submit report !! #work p3");
    cr_expect(nlp_priority_extract(&ctx, 0, ctx.ntok, 0, &p));
    cr_expect_eq(p, 2, "the last one said wins");
    cr_expect(ctx.tok[2].used && ctx.tok[4].used && !ctx.tok[3].used);
}

Test(nlp_slot, tags_are_lower_cased_and_unique)
{
    setup_ctx("#Work, #DIY and #work");
    cr_assert(nlp_tags_full(&ctx, 0, ctx.ntok, 0, 0, &res));
    cr_assert_eq(res.ntags, 2);
    cr_expect_str_eq(res.tags[0], "work");
    cr_expect_str_eq(res.tags[1], "diy");
    setup_ctx("home");
    cr_expect_not(nlp_tags_full(&ctx, 0, ctx.ntok, 0, 0, &res), "a bare word needs 'tag'");
    cr_expect(nlp_tags_full(&ctx, 0, ctx.ntok, 1, 0, &res));
    setup_ctx("the tag home");
    cr_expect(nlp_tags_full(&ctx, 0, ctx.ntok, 0, 1, &res));
    cr_expect(res.ntags == 1 && res.tag_remove[0] == 1);
    setup_ctx("one #urgent");
    cr_expect_not(nlp_tags_full(&ctx, 0, ctx.ntok, 1, 0, &res),
                  "bare words do not join hash tags");
}

Test(nlp_slot, durations)
{
    long s = 0;
    setup_ctx("30 minutes");
    cr_expect_eq(nlp_duration(&ctx, 0, ctx.ntok, &s), 2);
    cr_expect_eq(s, 1800);
    setup_ctx("an hour");
    cr_expect_eq(nlp_duration(&ctx, 0, ctx.ntok, &s), 2);
    cr_expect_eq(s, 3600);
    setup_ctx("2 weeks");
    cr_expect_eq(nlp_duration(&ctx, 0, ctx.ntok, &s), 2);
    cr_expect_eq(s, 1209600);
    setup_ctx("2 months");
    cr_expect_eq(nlp_duration(&ctx, 0, ctx.ntok, &s), 0, "months have no fixed length");
}

Test(nlp_slot, reminders_offsets_and_instants)
{
    setup_ctx("10 min before and 1 hour before");
    cr_assert(nlp_reminders_full(&ctx, 0, ctx.ntok, &res));
    cr_assert_eq(res.nreminders, 2);
    cr_expect(!res.reminders[0].at && res.reminders[0].offset_s == 600);
    cr_expect(!res.reminders[1].at && res.reminders[1].offset_s == 3600);
    setup_ctx("at 8am");
    cr_assert(nlp_reminders_full(&ctx, 0, ctx.ntok, &res));
    char buf[40];
    cr_assert_eq(res.nreminders, 1);
    cr_expect_eq(td_nlp_reminder_format(&res.reminders[0], buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "2027-03-11T13:00:00Z", "the next 8am");
    setup_ctx("tomorrow");
    cr_assert(nlp_reminders_full(&ctx, 0, ctx.ntok, &res));
    td_nlp_reminder_format(&res.reminders[0], buf, sizeof buf);
    cr_expect_str_eq(buf, "2027-03-11T14:00:00Z", "a day alone is 9:00");
    setup_ctx("soon");
    cr_expect_not(nlp_reminders_full(&ctx, 0, ctx.ntok, &res));
}

Test(nlp_slot, reminder_extraction_leaves_the_rest)
{
    struct nlp_when at[TD_NLP_MAX_REMINDERS];
    int nat = 0;
    setup_ctx("call dentist tomorrow at 10am, remind me 15 minutes before");
    cr_assert(nlp_reminders_extract(&ctx, 0, ctx.ntok, &res, at, &nat));
    cr_expect_eq(res.nreminders, 1);
    cr_expect_eq(res.reminders[0].offset_s, 900);
    for (int i = 0; i < 5; i++)
        cr_expect_not(ctx.tok[i].used, "token %d", i);
    for (int i = 5; i < ctx.ntok; i++)
        cr_expect(ctx.tok[i].used, "token %d", i);
}

static const char *target_of(const char *text)
{
    static char buf[TD_NLP_TEXT_MAX + 8];
    setup_ctx(text);
    if (!nlp_target_full(&ctx, 0, ctx.ntok, &res))
        return "none";
    switch (res.target) {
    case TD_NLP_TARGET_IT: return "it";
    case TD_NLP_TARGET_ALL: return "all";
    case TD_NLP_TARGET_LAST: return "last";
    case TD_NLP_TARGET_ORDINAL: snprintf(buf, sizeof buf, "%d", res.ordinal); return buf;
    case TD_NLP_TARGET_TEXT: snprintf(buf, sizeof buf, "q:%s", res.target_text); return buf;
    default: return "?";
    }
}

Test(nlp_slot, task_references)
{
    cr_expect_str_eq(target_of("it"), "it");
    cr_expect_str_eq(target_of("that one"), "it");
    cr_expect_str_eq(target_of("them all"), "all");
    cr_expect_str_eq(target_of("the second one"), "2");
    cr_expect_str_eq(target_of("the 3rd"), "3");
    cr_expect_str_eq(target_of("#4"), "4");
    cr_expect_str_eq(target_of("number 12"), "12");
    cr_expect_str_eq(target_of("the last one"), "last");
    cr_expect_str_eq(target_of("the buy milk task"), "q:buy milk");
    cr_expect_str_eq(target_of("\"Read The 5th Wave\""), "q:Read The 5th Wave");
    cr_expect_str_eq(target_of("Call May"), "q:Call May");
    cr_expect_str_eq(target_of("slides next friday"), "none", "a date is no title");
    cr_expect_str_eq(target_of("the"), "none");
    cr_expect_str_eq(target_of("#work stuff"), "none");
    cr_expect_str_eq(target_of("all completed tasks"), "all");
    cr_expect_eq(res.filter.status, TD_NLP_STATUS_COMPLETED);
}

Test(nlp_slot, list_filters)
{
    struct td_nlp_filter f;
    memset(&f, 0, sizeof f);
    setup_ctx("show high priority #work tasks due this week");
    int m = nlp_filters_full(&ctx, 0, ctx.ntok, &f);
    cr_expect(m & NLP_FILTERS_REAL);
    cr_expect(m & NLP_FILTERS_CUE);
    cr_expect_eq(f.priority, 3);
    cr_expect_eq(f.due, TD_NLP_DUE_WEEK);
    cr_expect_str_eq(f.tag, "work");
    memset(&f, 0, sizeof f);
    setup_ctx("show tasks tagged errands");
    cr_expect(nlp_filters_full(&ctx, 0, ctx.ntok, &f) & NLP_FILTERS_REAL);
    cr_expect_str_eq(f.tag, "errands");
    setup_ctx("buy milk");
    cr_expect_eq(nlp_filters_full(&ctx, 0, ctx.ntok, &f), 0);
    setup_ctx("my tasks");
    cr_expect_eq(nlp_filters_full(&ctx, 0, ctx.ntok, &f), NLP_FILTERS_OK | NLP_FILTERS_CUE);
}

Test(nlp_slot, text_copy_never_overflows)
{
    setup_ctx("alpha beta gamma");
    char small[6];
    nlp_text_copy(&ctx, 0, ctx.ntok, small, sizeof small);
    cr_expect_str_eq(small, "alpha");
    nlp_text_copy(&ctx, 1, 1, small, sizeof small);
    cr_expect_str_eq(small, "");
}

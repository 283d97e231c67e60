/* core/nlp_intent.c: the language table's patterns against whole messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"
#include "core/tz.h"

static struct nlp_ctx ctx;
static struct td_nlp_result res;
static int add_from, add_flags;

static enum td_nlp_intent intent_of(const char *text)
{
    memset(&ctx, 0, sizeof ctx);
    memset(&res, 0, sizeof res);
    ctx.L = &td_nlp_lang_en;
    ctx.text = text;
    ctx.len = strlen(text);
    ctx.tz = "UTC";
    ctx.now = 1804705200; /* 2027-03-10T19:00:00Z */
    ctx.today = nlp_days(2027, 3, 10);
    cr_assert_eq(nlp_lex(&ctx), 0);
    if (!nlp_intent_match(&ctx, 0, ctx.ntok, &res, &add_from, &add_flags))
        return TD_NLP_UNKNOWN;
    return res.intent;
}

Test(nlp_intent, one_message_per_intent)
{
    cr_expect_eq(intent_of("help"), TD_NLP_HELP);
    cr_expect_eq(intent_of("undo the last change"), TD_NLP_UNDO);
    cr_expect_eq(intent_of("cancel the reminder for it"), TD_NLP_UNREMIND);
    cr_expect_eq(intent_of("remind me about it 30 minutes before"), TD_NLP_REMIND);
    cr_expect_eq(res.nreminders, 1);
    cr_expect_eq(intent_of("search for dentist"), TD_NLP_SEARCH);
    cr_expect_str_eq(res.title, "dentist");
    cr_expect_eq(intent_of("skip the next occurrence of gym"), TD_NLP_SKIP);
    cr_expect_str_eq(res.target_text, "gym");
    cr_expect_eq(intent_of("reopen it"), TD_NLP_REOPEN);
    cr_expect_eq(intent_of("mark it done"), TD_NLP_COMPLETE);
    cr_expect_eq(intent_of("rename it to Buy oat milk"), TD_NLP_UPDATE);
    cr_expect_str_eq(res.title, "Buy oat milk");
    cr_expect_eq(intent_of("delete the second one"), TD_NLP_DELETE);
    cr_expect_eq(res.ordinal, 2);
}

Test(nlp_intent, order_decides_between_close_patterns)
{
    cr_expect_eq(intent_of("mark buy milk as not done"), TD_NLP_REOPEN);
    cr_expect_str_eq(res.target_text, "buy milk");
    cr_expect_eq(intent_of("mark it as important"), TD_NLP_UPDATE);
    cr_expect_eq(res.priority, 3);
    cr_expect_eq(intent_of("remove the #work tag from call mom"), TD_NLP_UPDATE);
    cr_expect(res.ntags == 1 && res.tag_remove[0]);
    cr_expect_eq(intent_of("remove the reminder from it"), TD_NLP_UNREMIND);
    cr_expect_eq(intent_of("remove it"), TD_NLP_DELETE);
}

Test(nlp_intent, slots_take_the_shortest_span_the_rest_accepts)
{
    cr_expect_eq(intent_of("rename buy milk to buy oat milk"), TD_NLP_UPDATE);
    cr_expect_str_eq(res.target_text, "buy milk");
    cr_expect_str_eq(res.title, "buy oat milk");
    cr_expect_eq(intent_of("tag the second one #urgent"), TD_NLP_UPDATE);
    cr_expect_eq(res.ordinal, 2);
    cr_expect_str_eq(res.tags[0], "urgent");
    cr_expect_eq(intent_of("remind me about buy milk friday at 5pm"), TD_NLP_REMIND);
    cr_expect_str_eq(res.target_text, "buy milk");
}

Test(nlp_intent, adds_are_handed_back)
{
    cr_expect_eq(intent_of("remind me to call mom at 5"), TD_NLP_ADD);
    cr_expect_eq(add_from, 3);
    cr_expect_eq(add_flags, 1);
    cr_expect_eq(intent_of("finish slides next friday"), TD_NLP_UNKNOWN,
                 "a reference with a date is no reference: this is a new task");
    cr_expect_eq(intent_of("buy milk"), TD_NLP_UNKNOWN);
}

Test(nlp_intent, long_messages_stay_bounded)
{
    static char text[TD_NLP_MAX_INPUT + 1];
    size_t o = 0;
    while (o + 8 < TD_NLP_MAX_INPUT && o / 4 < TD_NLP_MAX_TOKENS - 4) {
        memcpy(text + o, "mark to ", 8);
        o += 8;
    }
    text[o] = '\0';
    memset(&ctx, 0, sizeof ctx);
    ctx.L = &td_nlp_lang_en;
    ctx.text = text;
    ctx.len = o;
    ctx.tz = "UTC";
    cr_assert_eq(nlp_lex(&ctx), 0);
    int r = nlp_intent_match(&ctx, 0, ctx.ntok, &res, &add_from, &add_flags);
    cr_expect(r == 0 || r == 1);
}

/* core/nlp_lex.c: tokens of a message, and matching them against words and phrases. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"

static struct nlp_ctx ctx;

static int lex(const char *s)
{
    memset(&ctx, 0, sizeof ctx);
    ctx.L = &td_nlp_lang_en;
    ctx.text = s;
    ctx.len = strlen(s);
    return nlp_lex(&ctx);
}

static const char *norm(int i)
{
    return nlp_norm(&ctx, i, NULL);
}

Test(nlp_lex, splits_words_numbers_tags_and_punctuation)
{
    cr_assert_eq(lex("Call May at 17:30, #Work p1 !! #2 C# help!"), 0);
    static const struct { const char *norm; enum nlp_tok_kind kind; } want[] = {
        {"call", NLP_WORD}, {"may", NLP_WORD}, {"at", NLP_WORD}, {"17:30", NLP_WORD},
        {",", NLP_PUNCT},   {"#work", NLP_TAG}, {"p1", NLP_WORD}, {"!!", NLP_BANGS},
        {"#2", NLP_REF},    {"c#", NLP_WORD},  {"help", NLP_WORD}, {"!", NLP_PUNCT},
    };
    cr_assert_eq(ctx.ntok, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < ctx.ntok; i++) {
        cr_expect_str_eq(norm(i), want[i].norm, "token %d", i);
        cr_expect_eq(ctx.tok[i].kind, want[i].kind, "token %d", i);
    }
    cr_expect(ctx.tok[11].glued, "the '!' of help! is glued to it");
    cr_expect_not(ctx.tok[7].glued);
    /* The original text is kept: "Call" with its capital. */
    cr_expect_eq(ctx.tok[0].end - ctx.tok[0].start, 4);
    cr_expect_eq(memcmp(ctx.text + ctx.tok[0].start, "Call", 4), 0);
}

Test(nlp_lex, keeps_inner_apostrophes_and_hyphens_and_reads_curly_ones)
{
    cr_assert_eq(lex("Mom\xe2\x80\x99s stand-up re-open don't -x"), 0);
    cr_assert_eq(ctx.ntok, 6);
    cr_expect_str_eq(norm(0), "mom's");
    cr_expect_str_eq(norm(1), "stand-up");
    cr_expect_str_eq(norm(2), "re-open");
    cr_expect_str_eq(norm(3), "don't");
    cr_expect_eq(ctx.tok[4].kind, NLP_PUNCT, "a leading hyphen is punctuation");
}

Test(nlp_lex, quotes_are_one_token_with_their_text)
{
    cr_assert_eq(lex("add \"Meet at noon\" and \xe2\x80\x9cNext Friday\xe2\x80\x9d \"open"), 0);
    cr_assert_eq(ctx.ntok, 5);
    cr_expect_eq(ctx.tok[1].kind, NLP_QUOTE);
    cr_expect_str_eq(norm(1), "meet at noon");
    cr_expect_eq(ctx.tok[1].cend - ctx.tok[1].cstart, 12);
    cr_expect_eq(ctx.tok[3].kind, NLP_QUOTE);
    cr_expect_str_eq(norm(3), "next friday");
    cr_expect_eq(ctx.tok[4].kind, NLP_QUOTE, "an unclosed quote runs to the end");
    cr_expect_str_eq(norm(4), "open");
    /* Quoted words never match a keyword. */
    cr_expect_not(nlp_is(&ctx, 1, "meet at noon"));
}

Test(nlp_lex, non_ascii_letters_are_word_characters_and_spaces_separate)
{
    cr_assert_eq(lex("caf\xc3\xa9\xc2\xa0with Zo\xc3\xa9\xe3\x80\x80\xe6\x9d\xb1\xe4\xba\xac"), 0);
    cr_assert_eq(ctx.ntok, 4);
    cr_expect_str_eq(norm(0), "caf\xc3\xa9");
    cr_expect_str_eq(norm(2), "zo\xc3\xa9");
    cr_expect_str_eq(norm(3), "\xe6\x9d\xb1\xe4\xba\xac");
}

Test(nlp_lex, refuses_invalid_utf8_and_too_many_tokens)
{
    cr_expect_eq(lex("abc \xc3"), -EILSEQ);
    cr_expect_eq(lex("\xed\xa0\x80"), -EILSEQ);
    char many[TD_NLP_MAX_TOKENS * 2 + 8];
    size_t o = 0;
    for (int i = 0; i < TD_NLP_MAX_TOKENS + 1; i++) {
        many[o++] = 'a';
        many[o++] = ' ';
    }
    many[o] = '\0';
    cr_expect_eq(lex(many), -E2BIG);
}

Test(nlp_lex, phrases_with_alternatives_and_optional_words)
{
    cr_assert_eq(lex("by the end of the month"), 0);
    cr_expect_eq(nlp_phrase(&ctx, 1, ctx.ntok, "[the] end of [the] month"), 5);
    cr_expect_eq(nlp_phrase(&ctx, 2, ctx.ntok, "[the] end of [the] month"), 4);
    cr_expect_eq(nlp_phrase(&ctx, 0, ctx.ntok, "on|by|due the"), 2);
    cr_expect_eq(nlp_phrase(&ctx, 0, 1, "by the"), 0, "never past end");
    ctx.tok[3].used = 1;
    cr_expect_eq(nlp_phrase(&ctx, 1, ctx.ntok, "[the] end of [the] month"), 0,
                 "never over a used token");
}

Test(nlp_lex, numbers_and_ordinals)
{
    cr_assert_eq(lex("3 three an 3rd third 22nd last 3x 12345"), 0);
    int v;
    cr_expect(nlp_number(&ctx, 0, &v) && v == 3);
    cr_expect(nlp_number(&ctx, 1, &v) && v == 3);
    cr_expect(nlp_number(&ctx, 2, &v) && v == 1);
    cr_expect(nlp_ordinal(&ctx, 3, &v) && v == 3);
    cr_expect(nlp_ordinal(&ctx, 4, &v) && v == 3);
    cr_expect(nlp_ordinal(&ctx, 5, &v) && v == 22);
    cr_expect(nlp_ordinal(&ctx, 6, &v) && v == -1);
    cr_expect_not(nlp_ordinal(&ctx, 7, &v));
    cr_expect_not(nlp_number(&ctx, 8, &v), "five digits is no count");
}

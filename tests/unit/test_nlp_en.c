/* core/nlp_en.c: the English table is well formed: lower-case words, one space between
 * them, no empty alternatives, known slots, and every pattern whole. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"

static void check_phrase(const char *what, const char *p, int slots_ok)
{
    cr_assert_not_null(p, "%s", what);
    size_t n = strlen(p);
    cr_expect_gt(n, 0, "%s: empty", what);
    cr_expect_neq(p[0], ' ', "%s: '%s' starts with a space", what, p);
    cr_expect_neq(p[n - 1], ' ', "%s: '%s' ends with a space", what, p);
    cr_expect_null(strstr(p, "  "), "%s: '%s' has two spaces", what, p);
    cr_expect_null(strstr(p, "||"), "%s: '%s' has an empty alternative", what, p);
    for (size_t i = 0; i < n; i++)
        cr_expect(!isupper((unsigned char)p[i]), "%s: '%s' is not lower case", what, p);
    static const char *const slots[] = {"{obj}", "{title}", "{desc}", "{when}", "{prio}",
                                        "{rec}", "{tags}", "{tagsx}", "{untags}", "{rem}",
                                        "{dur}", "{q}", "{add}", "{addr}", "{any}", "{nodue}"};
    for (const char *b = strchr(p, '{'); b; b = strchr(b + 1, '{')) {
        cr_expect(slots_ok, "%s: '%s' has a slot", what, p);
        int known = 0;
        for (size_t s = 0; s < sizeof slots / sizeof slots[0]; s++)
            if (strncmp(b, slots[s], strlen(slots[s])) == 0)
                known = 1;
        cr_expect(known, "%s: '%s' has an unknown slot", what, p);
    }
}

static void check_words(const char *what, const struct nlp_word *w)
{
    cr_assert_not_null(w, "%s", what);
    for (; w->text; w++)
        check_phrase(what, w->text, 0);
}

Test(nlp_en, word_lists_are_well_formed)
{
    const struct nlp_lang *L = &td_nlp_lang_en;
    check_words("weekdays", L->weekdays);
    check_words("months", L->months);
    check_words("numbers", L->numbers);
    check_words("ordinals", L->ordinals);
    check_words("units", L->units);
    check_words("relative_days", L->relative_days);
    check_words("dayparts", L->dayparts);
    check_words("daypart_days", L->daypart_days);
    check_words("month_ends", L->month_ends);
    check_words("weekends", L->weekends);
    check_words("next_periods", L->next_periods);
    check_words("priorities", L->priorities);
    check_words("edge_priorities", L->edge_priorities);
    check_words("recur_words", L->recur_words);
    check_words("recur_dayparts", L->recur_dayparts);
    check_words("targets", L->targets);
    check_words("target_strip", L->target_strip);
    check_words("stopwords", L->stopwords);
    check_words("add_openers", L->add_openers);
    check_words("add_fillers", L->add_fillers);
    check_words("add_trailers", L->add_trailers);
    check_words("year_ends", L->year_ends);
    check_words("plural_weekdays", L->plural_weekdays);
    check_words("trailing_noise", L->trailing_noise);
    check_words("smalltalk", L->smalltalk);
    check_words("noise", L->noise);
    for (const struct nlp_filter_word *f = L->filters; f->text; f++)
        check_phrase("filters", f->text, 0);
}

Test(nlp_en, seven_weekdays_and_twelve_months)
{
    int seen = 0, n = 0;
    for (const struct nlp_word *w = td_nlp_lang_en.weekdays; w->text; w++, n++)
        seen |= 1 << w->value;
    cr_expect_eq(n, 7);
    cr_expect_eq(seen, 0x7F);
    seen = 0, n = 0;
    for (const struct nlp_word *w = td_nlp_lang_en.months; w->text; w++, n++)
        seen |= 1 << w->value;
    cr_expect_eq(n, 12);
    cr_expect_eq(seen, 0x1FFE);
}

Test(nlp_en, patterns_are_well_formed_and_end_with_a_null)
{
    int n = 0;
    const struct nlp_pattern *p = td_nlp_lang_en.patterns;
    for (; p->pattern; p++, n++) {
        check_phrase("pattern", p->pattern, 1);
        cr_expect(p->intent > TD_NLP_UNKNOWN && p->intent <= TD_NLP_HELP, "%s", p->pattern);
        /* {add} takes the rest of the message: it can only come last. */
        const char *a = strstr(p->pattern, "{add");
        if (a)
            cr_expect_null(strchr(a, ' '), "%s", p->pattern);
    }
    cr_expect_gt(n, 50);
}

Test(nlp_en, keywords_are_all_set)
{
    const struct nlp_keywords *k = &td_nlp_lang_en.kw;
    const char *const *f = (const char *const *)k;
    for (size_t i = 0; i < sizeof *k / sizeof(const char *); i++) {
        cr_expect_not_null(f[i], "keyword %zu", i);
        if (f[i])
            check_phrase("keyword", f[i], 0);
    }
}

/* core/nlp_recur.c: recurrences in a message ("every day", "every weekday", "every other
 * tuesday", "every 3rd friday", "every last day of the month", "every year on march 3",
 * "every! 3 days", "... after completion") as RFC 5545 RRULE values, and the first day a
 * rule falls on. */
#include "core/nlp_int.h"

#include <stdio.h>
#include <string.h>

static int free_tok(const struct nlp_ctx *c, int i, int end)
{
    return i < end && !c->tok[i].used && c->tok[i].kind != NLP_QUOTE;
}

static int add_day(struct nlp_recur *r, int ord, int wd)
{
    for (int k = 0; k < r->nbyday; k++)
        if (r->byday_wd[k] == wd && r->byday_ord[k] == ord)
            return 0;
    if (r->nbyday >= 7)
        return -1;
    r->byday_ord[r->nbyday] = ord;
    r->byday_wd[r->nbyday++] = wd;
    return 0;
}

/* "monday", "mon, wed and fri", "tuesday and thursday". Returns tokens read. */
static int weekday_list(struct nlp_ctx *c, int i, int end, struct nlp_recur *r)
{
    const struct nlp_keywords *kw = &c->L->kw;
    int j = i, v, got = 0;
    while (free_tok(c, j, end) && nlp_lookup(c, j, j + 1, c->L->weekdays, &v)) {
        add_day(r, 0, v);
        got = j + 1;
        j++;
        if (free_tok(c, j, end) && (nlp_is(c, j, ",") || nlp_is(c, j, kw->and)))
            j++;
        if (free_tok(c, j, end) && nlp_is(c, j, kw->and))
            j++;
    }
    return got ? got - i : 0;
}

/* "of the month", "of month": optional after monthly forms. */
static int of_month(struct nlp_ctx *c, int i, int end)
{
    char ph[160];
    snprintf(ph, sizeof ph, "%s [%s] %s", c->L->kw.of, c->L->kw.the, c->L->kw.month);
    return nlp_phrase(c, i, end, ph);
}

/* After the unit: "on tuesday", "on the 1st", "on march 3". */
static int unit_on(struct nlp_ctx *c, int i, int end, struct nlp_recur *r)
{
    const struct nlp_keywords *kw = &c->L->kw;
    int k = i, v, n, mon;
    if (!free_tok(c, k, end) || !nlp_is(c, k, kw->on_date))
        return 0;
    k++;
    if (r->freq == 2 && (n = weekday_list(c, k, end, r)))
        return k + n - i;
    if (r->freq == 3) {
        int t = k;
        if (free_tok(c, t, end) && nlp_is(c, t, kw->the))
            t++;
        if (free_tok(c, t, end) && nlp_ordinal(c, t, &v) && v >= 1 && v <= 31) {
            r->bymonthday = v;
            return t + 1 - i;
        }
    }
    if (r->freq == 4 && free_tok(c, k, end) && nlp_lookup(c, k, k + 1, c->L->months, &mon) &&
        free_tok(c, k + 1, end) && (nlp_number(c, k + 1, &v) || nlp_ordinal(c, k + 1, &v)) &&
        v >= 1 && v <= 31) {
        r->bymonth = mon, r->bymonthday = v;
        return k + 2 - i;
    }
    return 0;
}

int nlp_recur_parse(struct nlp_ctx *c, int i, int end, struct nlp_recur *r)
{
    const struct nlp_lang *L = c->L;
    const struct nlp_keywords *kw = &L->kw;
    int v, n, j = i;
    memset(r, 0, sizeof *r);
    r->interval = 1;
    r->hour = -1;
    if (!free_tok(c, j, end))
        return 0;
    if (nlp_lookup(c, j, j + 1, L->recur_words, &v)) {
        r->freq = v;
        j++;
        goto after;
    }
    /* "on mondays", "on tuesdays and thursdays" */
    if (nlp_is(c, j, kw->on) && free_tok(c, j + 1, end) &&
        nlp_lookup(c, j + 1, j + 2, L->plural_weekdays, &v)) {
        int k = j + 1;
        r->freq = 2;
        while (free_tok(c, k, end) && nlp_lookup(c, k, k + 1, L->plural_weekdays, &v)) {
            add_day(r, 0, v);
            j = ++k;
            if (free_tok(c, k, end) && (nlp_is(c, k, ",") || nlp_is(c, k, kw->and)))
                k++;
        }
        goto after;
    }
    /* "on the 1st of every month" */
    {
        int k = j;
        if (nlp_is(c, k, kw->on))
            k++;
        if (free_tok(c, k, end) && nlp_is(c, k, kw->the))
            k++;
        char ph[160];
        snprintf(ph, sizeof ph, "%s %s %s", kw->of, kw->every, kw->month);
        int n2;
        if (free_tok(c, k, end) && nlp_ordinal(c, k, &v) && v >= 1 && v <= 31 &&
            (n2 = nlp_phrase(c, k + 1, end, ph))) {
            r->freq = 3, r->bymonthday = v;
            j = k + 1 + n2;
            goto after;
        }
    }
    if (!nlp_is(c, j, kw->every))
        return 0;
    j++;
    if (j < end && !c->tok[j].used && c->tok[j].kind == NLP_PUNCT && c->tok[j].glued &&
        nlp_is(c, j, "!")) {
        r->completion = 1;
        j++;
    }
    if (free_tok(c, j, end) && nlp_is(c, j, kw->other)) {
        r->interval = 2;
        j++;
    } else if (free_tok(c, j, end) && nlp_number(c, j, &v) &&
               !nlp_ordinal(c, j, &v) && free_tok(c, j + 1, end) &&
               nlp_lookup(c, j + 1, j + 2, L->units, NULL)) {
        nlp_number(c, j, &v);
        if (v < 1 || v > 999)
            return 0;
        r->interval = v;
        j++;
    }
    /* every 3rd friday, every last friday, every last day of the month, every 15th */
    if (r->interval == 1 && free_tok(c, j, end) && nlp_ordinal(c, j, &v)) {
        int wd, ords[5], nord = 0, k = j;
        /* "2nd and 4th tuesday" */
        while (nord < 5 && free_tok(c, k, end) && nlp_ordinal(c, k, &ords[nord])) {
            nord++, k++;
            if (free_tok(c, k, end) && (nlp_is(c, k, ",") || nlp_is(c, k, kw->and)) &&
                free_tok(c, k + 1, end) && nlp_ordinal(c, k + 1, &wd))
                k++;
            else
                break;
        }
        if (free_tok(c, k, end) && nlp_lookup(c, k, k + 1, L->weekdays, &wd)) {
            for (int o = 0; o < nord; o++) {
                if (ords[o] > 5 || ords[o] == 0)
                    return 0;
                add_day(r, ords[o], wd);
            }
            r->freq = 3;
            j = k + 1;
            j += of_month(c, j, end);
            goto after;
        }
        if (nord > 1)
            return 0;
        if (free_tok(c, j + 1, end) && nlp_is(c, j + 1, kw->day)) {
            if (v > 31)
                return 0;
            r->freq = 3, r->bymonthday = v;
            j += 2;
            j += of_month(c, j, end);
            goto after;
        }
        if (v >= 1 && v <= 31) {
            r->freq = 3, r->bymonthday = v;
            j++;
            j += of_month(c, j, end);
            goto after;
        }
        return 0;
    }
    if (free_tok(c, j, end) && (n = nlp_lookup(c, j, end, L->month_ends, &v))) {
        r->freq = 3, r->bymonthday = -1;
        j += n;
        goto after;
    }
    if (free_tok(c, j, end) && nlp_is(c, j, kw->weekday)) {
        r->freq = 2;
        for (int d = 0; d < 5; d++)
            add_day(r, 0, d);
        j++;
        goto after;
    }
    if (free_tok(c, j, end) && nlp_is(c, j, kw->weekend_days)) {
        r->freq = 2;
        add_day(r, 0, 5);
        add_day(r, 0, 6);
        j++;
        goto after;
    }
    if ((n = weekday_list(c, j, end, r))) {
        r->freq = 2;
        j += n;
        /* "every tuesday night" */
        if (free_tok(c, j, end) && nlp_lookup(c, j, j + 1, L->recur_dayparts, &v))
            r->hour = v, j++;
        goto after;
    }
    if (r->interval == 1 && free_tok(c, j, end) && (n = nlp_lookup(c, j, j + 1, L->recur_dayparts, &v))) {
        r->freq = 1, r->hour = v;
        j += n;
        goto after;
    }
    if (r->interval == 1 && free_tok(c, j, end) && nlp_lookup(c, j, j + 1, L->months, &v) &&
        free_tok(c, j + 1, end)) {
        int d;
        if ((nlp_number(c, j + 1, &d) || nlp_ordinal(c, j + 1, &d)) && d >= 1 && d <= 31) {
            r->freq = 4, r->bymonth = v, r->bymonthday = d;
            j += 2;
            goto after;
        }
    }
    if (free_tok(c, j, end) && nlp_lookup(c, j, j + 1, L->units, &v)) {
        switch (v) {
        case NLP_U_DAY: r->freq = 1; break;
        case NLP_U_WEEK: r->freq = 2; break;
        case NLP_U_MONTH: r->freq = 3; break;
        case NLP_U_YEAR: r->freq = 4; break;
        default: return 0;
        }
        j++;
        j += unit_on(c, j, end, r);
        goto after;
    }
    return 0;
after:
    if ((n = nlp_phrase(c, j, end, kw->after_done))) {
        r->completion = 1;
        j += n;
    }
    return j - i;
}

int nlp_recur_full(struct nlp_ctx *c, int i, int end, struct nlp_recur *r)
{
    if (i >= end)
        return 0;
    return nlp_recur_parse(c, i, end, r) == end - i;
}

int nlp_recur_format(const struct nlp_recur *r, char *buf, size_t n)
{
    static const char *const freq[] = {"", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
    static const char *const wd[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
    if (r->freq < 1 || r->freq > 4)
        return -1;
    size_t o = 0;
    int k = snprintf(buf, n, "FREQ=%s", freq[r->freq]);
    if (k < 0 || (size_t)k >= n)
        return -1;
    o = (size_t)k;
#define APPEND(...)                                                                           \
    do {                                                                                      \
        k = snprintf(buf + o, n - o, __VA_ARGS__);                                            \
        if (k < 0 || (size_t)k >= n - o)                                                      \
            return -1;                                                                        \
        o += (size_t)k;                                                                       \
    } while (0)
    if (r->interval > 1)
        APPEND(";INTERVAL=%d", r->interval);
    if (r->bymonth)
        APPEND(";BYMONTH=%d", r->bymonth);
    if (r->bymonthday)
        APPEND(";BYMONTHDAY=%d", r->bymonthday);
    if (r->nbyday) {
        /* Days in week order, Monday first. */
        APPEND(";BYDAY=");
        int first = 1;
        for (int d = 0; d < 7; d++)
            for (int x = 0; x < r->nbyday; x++) {
                if (r->byday_wd[x] != d)
                    continue;
                if (r->byday_ord[x])
                    APPEND("%s%d%s", first ? "" : ",", r->byday_ord[x], wd[d]);
                else
                    APPEND("%s%s", first ? "" : ",", wd[d]);
                first = 0;
            }
    }
#undef APPEND
    return 0;
}

static int mlen(int y, int m)
{
    static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return len[m - 1];
}

static int falls_on(const struct nlp_recur *r, long long day)
{
    int y, m, d, wd = nlp_weekday(day);
    nlp_civil(day, &y, &m, &d);
    int ml = mlen(y, m);
    if (r->bymonth && r->bymonth != m)
        return 0;
    if (r->bymonthday == -1 && d != ml)
        return 0;
    if (r->bymonthday > 0 && r->bymonthday != d)
        return 0;
    if (r->nbyday) {
        int ok = 0;
        for (int k = 0; k < r->nbyday; k++) {
            if (r->byday_wd[k] != wd)
                continue;
            int ord = r->byday_ord[k];
            if (ord == 0 || (ord > 0 && (d - 1) / 7 + 1 == ord) || (ord == -1 && d + 7 > ml))
                ok = 1;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

long long nlp_recur_first_day(const struct nlp_recur *r, long long from_day)
{
    for (long long d = from_day; d < from_day + 3000; d++)
        if (falls_on(r, d))
            return d;
    return from_day;
}

/* core/nlp_slot.c: the parts of a request other than dates and recurrences: priorities
 * ("urgent", "!!", "p1", "high priority"), tags (#work), reminders ("remind me 30 minutes
 * before", "remind me at 8am"), task references ("it", "the second one", "all completed
 * tasks", a title) and list filters ("high priority #work tasks due this week"). */
#include "core/nlp_int.h"

#include <string.h>

static int free_tok(const struct nlp_ctx *c, int i, int end)
{
    return i < end && !c->tok[i].used && c->tok[i].kind != NLP_QUOTE;
}

static int is_comma(const struct nlp_ctx *c, int i)
{
    return c->tok[i].kind == NLP_PUNCT && nlp_is(c, i, ",");
}

/* ---- priorities ---- */

static int bangs(const struct nlp_ctx *c, int i, int *prio)
{
    if (c->tok[i].kind != NLP_BANGS || c->tok[i].used)
        return 0;
    *prio = c->tok[i].nlen >= 3 ? 4 : 3;
    return 1;
}

int nlp_priority_full(struct nlp_ctx *c, int i, int end, int *prio)
{
    int v, n;
    if (i >= end)
        return 0;
    if (end - i == 1 && bangs(c, i, prio))
        return 1;
    if ((n = nlp_lookup(c, i, end, c->L->priorities, &v)) == end - i) {
        *prio = v;
        return 1;
    }
    if ((n = nlp_lookup(c, i, end, c->L->edge_priorities, &v)) == end - i) {
        *prio = v >= 10 ? v - 10 : v;
        return 1;
    }
    return 0;
}

static int edge_word(struct nlp_ctx *c, int i, int end, int *prio)
{
    int v, n = nlp_lookup(c, i, end, c->L->edge_priorities, &v);
    if (n != 1 || v >= 10)
        return 0;
    *prio = v;
    c->tok[i].used = 1;
    return 1;
}

int nlp_priority_extract(struct nlp_ctx *c, int from, int end, int edges, int *prio)
{
    int found = 0, v, n;
    if (!edges) {
        for (int i = from; i < end; i++) {
            if (c->tok[i].used)
                continue;
            if (bangs(c, i, &v)) {
                c->tok[i].used = 1, *prio = v, found = 1;
                continue;
            }
            if ((n = nlp_lookup(c, i, end, c->L->priorities, &v))) {
                for (int k = i; k < i + n; k++)
                    c->tok[k].used = 1;
                *prio = v, found = 1;
                i += n - 1;
            }
        }
        return found;
    }
    /* "urgent", "asap", "important" only as the first or last word of what is left. */
    for (int round = 0; round < 4; round++) {
        int first = -1, last = -1;
        for (int i = from; i < end; i++)
            if (!c->tok[i].used && c->tok[i].kind != NLP_PUNCT) {
                if (first < 0)
                    first = i;
                last = i;
            }
        if (first < 0)
            break;
        if (first != last && edge_word(c, first, first + 1, prio)) {
            found = 1;
            continue;
        }
        if (edge_word(c, last, last + 1, prio)) {
            found = 1;
            continue;
        }
        break;
    }
    return found;
}

/* ---- tags ---- */

static int tag_add(struct td_nlp_result *out, const char *w, size_t n, int remove)
{
    if (n == 0 || n >= TD_NLP_TAG_MAX)
        return 0;
    for (int k = 0; k < out->ntags; k++)
        if (strlen(out->tags[k]) == n && memcmp(out->tags[k], w, n) == 0)
            return 1;
    if (out->ntags >= TD_NLP_MAX_TAGS)
        return 0;
    memcpy(out->tags[out->ntags], w, n);
    out->tags[out->ntags][n] = '\0';
    out->tag_remove[out->ntags++] = (unsigned char)remove;
    return 1;
}

int nlp_tag_token(const struct nlp_ctx *c, int i, struct td_nlp_result *out, int remove)
{
    size_t n;
    const char *w = nlp_norm(c, i, &n);
    if (c->tok[i].kind == NLP_TAG)
        return tag_add(out, w + 1, n - 1, remove);
    return tag_add(out, w, n, remove);
}

int nlp_tags_full(struct nlp_ctx *c, int i, int end, int bare_ok, int remove,
                  struct td_nlp_result *out)
{
    const struct nlp_keywords *kw = &c->L->kw;
    int got = 0, keyword = 0, has_hash = 0;
    for (int k = i; k < end; k++) {
        if (nlp_is(c, k, kw->tag))
            keyword = 1;
        if (c->tok[k].kind == NLP_TAG)
            has_hash = 1;
    }
    for (int k = i; k < end; k++) {
        const struct nlp_tok *t = &c->tok[k];
        if (t->used)
            return 0;
        if (t->kind == NLP_TAG) {
            if (!nlp_tag_token(c, k, out, remove))
                return 0;
            got++;
        } else if (is_comma(c, k) || nlp_is(c, k, kw->and) || nlp_is(c, k, kw->the) ||
                   nlp_is(c, k, kw->tag) || nlp_is(c, k, kw->with)) {
            continue;
        } else if (t->kind == NLP_WORD && (keyword || (bare_ok && !has_hash))) {
            if (!nlp_tag_token(c, k, out, remove))
                return 0;
            got++;
        } else {
            return 0;
        }
    }
    return got > 0;
}

/* ---- reminders ---- */

int nlp_duration(struct nlp_ctx *c, int i, int end, long *secs)
{
    int v, unit;
    if (!free_tok(c, i, end) || !nlp_number(c, i, &v) || !free_tok(c, i + 1, end) ||
        !nlp_lookup(c, i + 1, i + 2, c->L->units, &unit) || v < 1 || v > 1000)
        return 0;
    switch (unit) {
    case NLP_U_MINUTE: *secs = 60L * v; break;
    case NLP_U_HOUR: *secs = 3600L * v; break;
    case NLP_U_DAY: *secs = 86400L * v; break;
    case NLP_U_WEEK: *secs = 604800L * v; break;
    default: return 0;
    }
    return 2;
}

static int add_offset(struct td_nlp_result *out, long secs)
{
    if (out->nreminders >= TD_NLP_MAX_REMINDERS)
        return 0;
    struct td_nlp_reminder *r = &out->reminders[out->nreminders++];
    r->at = 0, r->offset_s = secs, r->at_s = 0;
    return 1;
}

int nlp_add_reminder_at(struct td_nlp_result *out, long long at)
{
    if (out->nreminders >= TD_NLP_MAX_REMINDERS)
        return 0;
    struct td_nlp_reminder *r = &out->reminders[out->nreminders++];
    r->at = 1, r->offset_s = 0, r->at_s = at;
    return 1;
}

/* "30 minutes before", "at 8am", "tomorrow at 9", joined by "and" or commas. Offsets go to
 * out, the others to at[]. Returns tokens read. */
static int spec_list(struct nlp_ctx *c, int i, int end, struct td_nlp_result *out,
                     struct nlp_when *at, int *nat, int max_at)
{
    const struct nlp_keywords *kw = &c->L->kw;
    int j = i, last = i;
    for (;;) {
        long secs;
        int n;
        if ((n = nlp_duration(c, j, end, &secs)) && free_tok(c, j + n, end) &&
            nlp_is(c, j + n, kw->before)) {
            add_offset(out, secs);
            j += n + 1;
        } else if (*nat < max_at && (n = nlp_when_parse(c, j, end, 1, &at[*nat])) > 0) {
            (*nat)++;
            j += n;
        } else {
            break;
        }
        last = j;
        if (free_tok(c, j, end) && is_comma(c, j))
            j++;
        if (free_tok(c, j, end) && nlp_is(c, j, kw->and))
            j++;
    }
    return last - i;
}

int nlp_reminder_at(struct nlp_ctx *c, const struct nlp_when *spec, const struct td_nlp_result *due,
                    struct td_nlp_result *out)
{
    struct nlp_when w = *spec;
    long long utc;
    int all_day;
    struct td_datetime_civil l;
    if (!w.has_instant) {
        if (!w.has_date && due && due->has_due) {
            w.has_date = 1;
            w.day = nlp_days(due->due_local.year, due->due_local.month, due->due_local.day);
        }
        if (!w.has_time && w.daypart < 0)
            w.has_time = 1, w.hour = 9, w.minute = 0, w.bare_hour = 0;
    }
    if (nlp_when_resolve(c, &w, &utc, &all_day, &l) < 0)
        return 0;
    return nlp_add_reminder_at(out, utc);
}

int nlp_reminders_full(struct nlp_ctx *c, int i, int end, struct td_nlp_result *out)
{
    struct nlp_when at[TD_NLP_MAX_REMINDERS];
    int nat = 0;
    if (i >= end || spec_list(c, i, end, out, at, &nat, TD_NLP_MAX_REMINDERS) != end - i)
        return 0;
    for (int k = 0; k < nat; k++)
        if (!nlp_reminder_at(c, &at[k], NULL, out))
            return 0;
    return 1;
}

int nlp_reminders_extract(struct nlp_ctx *c, int from, int end, struct td_nlp_result *out,
                          struct nlp_when *at, int *nat)
{
    const struct nlp_keywords *kw = &c->L->kw;
    int found = 0;
    for (int i = from; i < end; i++) {
        int k = i;
        if (nlp_is(c, k, kw->remind) && free_tok(c, k + 1, end) && nlp_is(c, k + 1, kw->me))
            k += 2;
        else if (nlp_is(c, k, kw->with) && free_tok(c, k + 1, end) && nlp_is(c, k + 1, kw->a) &&
                 free_tok(c, k + 2, end) && nlp_is(c, k + 2, kw->reminder))
            k += 3;
        else if (nlp_is(c, k, kw->with) && free_tok(c, k + 1, end) &&
                 nlp_is(c, k + 1, kw->reminder))
            k += 2;
        else if (nlp_is(c, k, kw->reminder))
            k += 1;
        else
            continue;
        if (c->tok[i].used)
            continue;
        int n = spec_list(c, k, end, out, at, nat, TD_NLP_MAX_REMINDERS);
        if (n == 0)
            continue;
        for (int t = i; t < k + n; t++)
            c->tok[t].used = 1;
        if (i > from && is_comma(c, i - 1))
            c->tok[i - 1].used = 1;
        found = 1;
        i = k + n - 1;
    }
    return found;
}

/* ---- references to tasks ---- */

/* A title said to point at a task is short; longer spans are not tried (they would make
 * the patterns' search quadratic in the message). */
#define NLP_REF_MAX_WORDS 16

void nlp_text_copy(const struct nlp_ctx *c, int i, int end, char *dst, size_t n)
{
    if (n == 0)
        return;
    dst[0] = '\0';
    if (i >= end)
        return;
    size_t a, b;
    if (end - i == 1 && c->tok[i].kind == NLP_QUOTE)
        a = c->tok[i].cstart, b = c->tok[i].cend;
    else
        a = c->tok[i].start, b = c->tok[end - 1].end;
    size_t k = b - a;
    if (k >= n) {
        k = n - 1;
        while (k > 0 && ((unsigned char)c->text[a + k] & 0xC0) == 0x80)
            k--; /* never half a character */
    }
    memcpy(dst, c->text + a, k);
    dst[k] = '\0';
}

static int span_has_date(struct nlp_ctx *c, int i, int end)
{
    for (int k = i; k < end; k++) {
        struct nlp_when w;
        struct nlp_recur r;
        if (c->tok[k].kind == NLP_TAG || c->tok[k].kind == NLP_BANGS)
            return 1;
        if (nlp_when_parse(c, k, end, 0, &w) > 0 || nlp_recur_parse(c, k, end, &r) > 0)
            return 1;
    }
    return 0;
}

/* 1 when token i is one of the words dropped after a reference (value 1). */
static int strip_after(const struct nlp_ctx *c, int i, const struct nlp_word *list)
{
    for (const struct nlp_word *w = list; w->text; w++)
        if (w->value == 1 && nlp_phrase(c, i, i + 1, w->text) == 1)
            return 1;
    return 0;
}

int nlp_target_full(struct nlp_ctx *c, int i, int end, struct td_nlp_result *out)
{
    const struct nlp_lang *L = c->L;
    const struct nlp_keywords *kw = &L->kw;
    int v;
    if (i >= end)
        return 0;
    for (int k = i; k < end; k++)
        if (c->tok[k].used)
            return 0;
    /* "the last" with "one" after it is half a reference */
    if (end < c->ntok && nlp_is(c, end, kw->one))
        return 0;
    if (nlp_lookup(c, i, end, L->targets, &v) == end - i) {
        out->target = v == NLP_T_ALL ? TD_NLP_TARGET_ALL : TD_NLP_TARGET_IT;
        return 1;
    }
    if (nlp_is(c, i, kw->all) && end - i >= 2 && nlp_filters_full(c, i + 1, end, &out->filter)) {
        out->target = TD_NLP_TARGET_ALL;
        return 1;
    }
    /* "tasks tagged old", "today's tasks": every task the filters select */
    struct td_nlp_filter f;
    memset(&f, 0, sizeof f);
    if ((nlp_filters_full(c, i, end, &f) & (NLP_FILTERS_REAL | NLP_FILTERS_CUE)) ==
        (NLP_FILTERS_REAL | NLP_FILTERS_CUE)) {
        out->filter = f;
        out->target = TD_NLP_TARGET_ALL;
        return 1;
    }
    /* [the] second [one|task], number 4, task 2, #2, 3 */
    int k = i;
    if (nlp_is(c, k, kw->the))
        k++;
    int tail = end;
    if (tail - 1 > k && (nlp_is(c, tail - 1, kw->one) || nlp_is(c, tail - 1, kw->task)))
        tail--;
    if (tail - k == 1 && nlp_ordinal(c, k, &v) && v >= -1 && v != 0) {
        if (v == -1)
            out->target = TD_NLP_TARGET_LAST;
        else
            out->target = TD_NLP_TARGET_ORDINAL, out->ordinal = v;
        return 1;
    }
    if (end - i == 2 && (nlp_is(c, i, kw->number) || nlp_is(c, i, kw->task)) &&
        c->tok[i + 1].kind == NLP_NUM && nlp_number(c, i + 1, &v) && v >= 1 && v <= 999) {
        out->target = TD_NLP_TARGET_ORDINAL, out->ordinal = v;
        return 1;
    }
    if (end - i == 1 && (c->tok[i].kind == NLP_NUM || c->tok[i].kind == NLP_REF)) {
        size_t n;
        const char *w = nlp_norm(c, i, &n);
        size_t p = c->tok[i].kind == NLP_REF ? 1 : 0;
        v = 0;
        if (n - p > 3)
            return 0;
        for (; p < n; p++)
            v = v * 10 + (w[p] - '0');
        if (v < 1)
            return 0;
        out->target = TD_NLP_TARGET_ORDINAL, out->ordinal = v;
        return 1;
    }
    /* A title: without "the"/"my" before it or "task" after it; never a date, tag or rule. */
    int a = i, b = end, n;
    while (a < b && (n = nlp_lookup(c, a, b, L->target_strip, &v)) && v == 0)
        a += n;
    while (b - 1 > a && strip_after(c, b - 1, L->target_strip))
        b--;
    if (a >= b || b - a > NLP_REF_MAX_WORDS)
        return 0;
    for (int t = a; t < b; t++)
        if (c->tok[t].kind == NLP_PUNCT && !(t > a && t < b - 1 && (is_comma(c, t) ||
                                                                    nlp_is(c, t, "'"))))
            return 0;
    if (!(b - a == 1 && c->tok[a].kind == NLP_QUOTE) && span_has_date(c, a, b))
        return 0;
    if (nlp_lookup(c, a, b, L->targets, &v) == b - a)
        return 0;
    int content = 0;
    for (int t = a; t < b && !content; t++)
        if (c->tok[t].kind == NLP_QUOTE || !nlp_lookup(c, t, t + 1, L->stopwords, &v))
            content = 1;
    if (!content)
        return 0;
    out->target = TD_NLP_TARGET_TEXT;
    nlp_text_copy(c, a, b, out->target_text, sizeof out->target_text);
    return 1;
}

/* ---- list filters ---- */

int nlp_filters_full(struct nlp_ctx *c, int i, int end, struct td_nlp_filter *f)
{
    int real = 0, cue = 0;
    for (int k = i; k < end;) {
        const struct nlp_tok *t = &c->tok[k];
        if (t->used)
            return 0;
        if (t->kind == NLP_TAG) {
            size_t n;
            const char *w = nlp_norm(c, k, &n);
            if (n - 1 >= sizeof f->tag)
                return 0;
            memcpy(f->tag, w + 1, n - 1);
            f->tag[n - 1] = '\0';
            real = 1;
            k++;
            continue;
        }
        if (t->kind == NLP_PUNCT) {
            k++;
            continue;
        }
        int best = 0;
        const struct nlp_filter_word *bw = NULL;
        for (const struct nlp_filter_word *fw = c->L->filters; fw->text; fw++) {
            int n = nlp_phrase(c, k, end, fw->text);
            if (n > best)
                best = n, bw = fw;
        }
        if (!bw) {
            /* a day: "due friday", "on Dec 24" */
            struct nlp_when w;
            int n = nlp_when_parse(c, k, end, 1, &w);
            if (n <= 0 || !w.has_date || w.has_time || w.has_instant || w.daypart >= 0)
                return 0;
            f->due = TD_NLP_DUE_DAY;
            memset(&f->due_day, 0, sizeof f->due_day);
            nlp_civil(w.day, &f->due_day.year, &f->due_day.month, &f->due_day.day);
            real = 1;
            k += n;
            continue;
        }
        switch (bw->kind) {
        case NLP_F_STATUS: f->status = (enum td_nlp_status)bw->value, real = 1; break;
        case NLP_F_DUE: f->due = (enum td_nlp_due)bw->value, real = 1; break;
        case NLP_F_PRIO: f->priority = bw->value, real = 1; break;
        case NLP_F_TAGWORD: {
            int w = k + best;
            if (w >= end || c->tok[w].kind != NLP_WORD)
                return 0;
            size_t n;
            const char *s = nlp_norm(c, w, &n);
            if (n >= sizeof f->tag)
                return 0;
            memcpy(f->tag, s, n);
            f->tag[n] = '\0';
            real = 1;
            best++;
            break;
        }
        default:
            if (bw->value)
                cue = 1;
            break;
        }
        k += best;
    }
    return NLP_FILTERS_OK | (real ? NLP_FILTERS_REAL : 0) | (cue ? NLP_FILTERS_CUE : 0);
}

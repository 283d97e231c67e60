/* core/nlp.c: td_nlp_parse: a message through the tokenizer, the intent patterns, and for
 * a new task the extraction of its tags, priority, reminders, recurrence and due date, the
 * words left being its title. */
#include "core/nlp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/nlp_int.h"
#include "core/tz.h"
#include "core/utf8.h"

const char *td_nlp_intent_name(enum td_nlp_intent i)
{
    static const char *const names[] = {"unknown", "add", "list", "complete", "reopen",
                                        "delete", "update", "remind", "unremind", "skip",
                                        "search", "undo", "help"};
    return (unsigned)i < sizeof names / sizeof names[0] ? names[i] : "unknown";
}

const char *td_nlp_status_name(enum td_nlp_status s)
{
    static const char *const names[] = {"", "pending", "completed", "all"};
    return (unsigned)s < 4 ? names[s] : "";
}

const char *td_nlp_due_name(enum td_nlp_due d)
{
    static const char *const names[] = {"", "overdue", "today", "tomorrow", "week",
                                        "next_week", "month", "day", "none"};
    return (unsigned)d < 9 ? names[d] : "";
}

int td_nlp_reminder_format(const struct td_nlp_reminder *r, char *buf, size_t n)
{
    int k;
    if (r->at)
        return td_datetime_format_utc(r->at_s, buf, n) < 0 ? -ENOSPC : 0;
    long s = r->offset_s;
    if (s > 0 && s % 604800 == 0)
        k = snprintf(buf, n, "P%ldW", s / 604800);
    else if (s > 0 && s % 86400 == 0)
        k = snprintf(buf, n, "P%ldD", s / 86400);
    else if (s > 0 && s % 3600 == 0)
        k = snprintf(buf, n, "PT%ldH", s / 3600);
    else if (s > 0 && s % 60 == 0)
        k = snprintf(buf, n, "PT%ldM", s / 60);
    else
        k = snprintf(buf, n, "PT%ldS", s);
    return k < 0 || (size_t)k >= n ? -ENOSPC : 0;
}

int td_nlp_due_format(const struct td_nlp_result *r, char *buf, size_t n)
{
    if (!r->has_due)
        return -ENOENT;
    if (!r->all_day)
        return td_datetime_format_utc(r->due_s, buf, n) < 0 ? -ENOSPC : 0;
    int k = snprintf(buf, n, "%04d-%02d-%02d", r->due_local.year, r->due_local.month,
                     r->due_local.day);
    return k < 0 || (size_t)k >= n ? -ENOSPC : 0;
}

void td_nlp_free(struct td_nlp_result *r)
{
    if (r)
        memset(r, 0, sizeof *r);
}

void nlp_set_due(struct nlp_ctx *c, struct td_nlp_result *out, const struct nlp_when *w)
{
    long long utc;
    int all_day;
    struct td_datetime_civil l;
    if (nlp_when_resolve(c, w, &utc, &all_day, &l) < 0)
        return;
    out->has_due = 1;
    if (w->has_time && w->bare_hour && w->daypart < 0 && !all_day)
        out->flags |= TD_NLP_F_BARE_HOUR;
    out->all_day = all_day;
    out->due_s = utc;
    out->due_local = l;
}

/* The due date of a new recurring task: the first day the rule falls on from today (from
 * tomorrow when its time has passed), at the time given, or all day. */
static void recur_due(struct nlp_ctx *c, struct td_nlp_result *out, const struct nlp_recur *r,
                      const struct nlp_when *w, int have_when)
{
    struct nlp_when x;
    if (have_when)
        x = *w;
    else {
        memset(&x, 0, sizeof x);
        x.daypart = -1;
    }
    if (x.has_date || x.has_instant) {
        nlp_set_due(c, out, &x);
        return;
    }
    if (x.daypart < 0 && r->hour >= 0)
        x.daypart = r->hour; /* "every morning at 6" is 06:00 */
    x.has_date = 1;
    x.day = nlp_recur_first_day(r, c->today);
    nlp_set_due(c, out, &x);
    if (out->has_due && !out->all_day && out->due_s <= c->now) {
        x.day = nlp_recur_first_day(r, x.day + 1);
        nlp_set_due(c, out, &x);
    }
}

static void build_title(struct nlp_ctx *c, int from, int end, struct td_nlp_result *out)
{
    int a = from, b = end, v, n;
    for (;;) {
        while (a < b && (c->tok[a].used || c->tok[a].kind == NLP_PUNCT))
            a++;
        if (a < b && (n = nlp_lookup(c, a, b, c->L->add_fillers, &v)) && a + n < b) {
            for (int k = a; k < a + n; k++)
                c->tok[k].used = 1;
            continue;
        }
        break;
    }
    while (b > a && (c->tok[b - 1].used || c->tok[b - 1].kind == NLP_PUNCT))
        b--;
    for (int k = b - 2; k > a && k >= b - 5; k--)
        if (nlp_lookup(c, k, b, c->L->add_trailers, &v) == b - k) {
            b = k;
            break;
        }
    while (b > a && (c->tok[b - 1].used || c->tok[b - 1].kind == NLP_PUNCT))
        b--;
    size_t o = 0, cap = sizeof out->title - 1;
    int prev = -1;
    for (int k = a; k < b; k++) {
        const struct nlp_tok *t = &c->tok[k];
        if (t->used)
            continue;
        if (prev >= 0) {
            size_t gap_a = c->tok[prev].end, gap_b = t->start;
            if (prev == k - 1) {
                size_t g = gap_b - gap_a;
                if (o + g > cap)
                    break;
                memcpy(out->title + o, c->text + gap_a, g);
                o += g;
            } else if (t->kind != NLP_PUNCT || nlp_is(c, k, "(")) {
                if (o + 1 > cap)
                    break;
                out->title[o++] = ' ';
            }
        }
        size_t s = t->cstart, e = t->cend;
        if (o + (e - s) > cap)
            break;
        memcpy(out->title + o, c->text + s, e - s);
        o += e - s;
        prev = k;
    }
    out->title[o] = '\0';
}

static int only_punct_after(const struct nlp_ctx *c, int i, int end)
{
    for (int k = i; k < end; k++)
        if (!c->tok[k].used && c->tok[k].kind != NLP_PUNCT)
            return 0;
    return 1;
}

int nlp_add_body(struct nlp_ctx *c, int from, int end, int flags, struct td_nlp_result *out)
{
    const struct nlp_lang *L = c->L;
    int prio = 0, n, v;
    out->intent = TD_NLP_ADD;
    for (int i = from; i < end; i++)
        if (!c->tok[i].used && c->tok[i].kind == NLP_TAG && nlp_tag_token(c, i, out, 0))
            c->tok[i].used = 1;
    if (nlp_priority_extract(c, from, end, 0, &prio))
        out->priority = prio;
    struct nlp_when at[TD_NLP_MAX_REMINDERS];
    int nat = 0;
    nlp_reminders_extract(c, from, end, out, at, &nat);

    struct nlp_recur r;
    int have_rec = 0;
    for (int i = from; i < end && !have_rec; i++) {
        if (c->tok[i].used || !(n = nlp_recur_parse(c, i, end, &r)))
            continue;
        /* "daily", "weekly" only as the last word: "weekly report" is a title. */
        if (nlp_lookup(c, i, i + 1, L->recur_words, &v) && !only_punct_after(c, i + n, end))
            continue;
        for (int k = i; k < i + n; k++)
            c->tok[k].used = 1;
        have_rec = 1;
    }
    for (int i = from; i < end && have_rec; i++)
        if ((n = nlp_phrase(c, i, end, L->kw.after_done))) {
            r.completion = 1;
            for (int k = i; k < i + n; k++)
                c->tok[k].used = 1;
        }

    struct nlp_when w;
    int have_when = nlp_when_scan(c, from, end, &w) > 0;
    if (nlp_priority_extract(c, from, end, 1, &prio))
        out->priority = prio;
    build_title(c, from, end, out);

    if (have_rec && nlp_recur_format(&r, out->rrule, sizeof out->rrule) == 0) {
        out->anchor_completion = r.completion;
        recur_due(c, out, &r, &w, have_when);
    } else if (have_when) {
        nlp_set_due(c, out, &w);
    }
    for (int k = 0; k < nat; k++)
        nlp_reminder_at(c, &at[k], out, out);
    if (flags && out->has_due && !out->all_day)
        nlp_add_reminder_at(out, out->due_s);
    return 0;
}

static int targets_needed(enum td_nlp_intent i)
{
    return i == TD_NLP_COMPLETE || i == TD_NLP_REOPEN || i == TD_NLP_DELETE ||
           i == TD_NLP_UPDATE || i == TD_NLP_REMIND || i == TD_NLP_UNREMIND ||
           i == TD_NLP_SKIP;
}

static void filter_range(struct nlp_ctx *c, struct td_nlp_filter *f)
{
    long long a = 0, b = 0;
    long long d0 = c->today, d1;
    int wd = nlp_weekday(c->today), y, m, d;
    switch (f->due) {
    case TD_NLP_DUE_OVERDUE:
        f->due_from = TD_DATETIME_MIN;
        f->due_to = c->now;
        return;
    case TD_NLP_DUE_TODAY: d1 = d0 + 1; break;
    case TD_NLP_DUE_TOMORROW: d0 += 1, d1 = d0 + 1; break;
    case TD_NLP_DUE_WEEK: d1 = d0 + (7 - wd); break;
    case TD_NLP_DUE_NEXT_WEEK: d0 += 7 - wd, d1 = d0 + 7; break;
    case TD_NLP_DUE_DAY:
        d0 = nlp_days(f->due_day.year, f->due_day.month, f->due_day.day);
        d1 = d0 + 1;
        break;
    case TD_NLP_DUE_MONTH:
        nlp_civil(d0, &y, &m, &d);
        d1 = m == 12 ? nlp_days(y + 1, 1, 1) : nlp_days(y, m + 1, 1);
        break;
    default: return;
    }
    if (nlp_when_local(c, d0, 0, 0, &a) == 0 && nlp_when_local(c, d1, 0, 0, &b) == 0)
        f->due_from = a, f->due_to = b;
}

int td_nlp_parse(const char *text, size_t len, long long now_ms, const char *tz,
                 struct td_nlp_result *out)
{
    if (!text || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (len > TD_NLP_MAX_INPUT)
        return -E2BIG;
    struct td_utf8_span span;
    if (td_utf8_scan(text, len, 0, &span) < 0)
        return -EILSEQ;
    struct nlp_ctx ctx;
    struct nlp_ctx *c = &ctx;
    memset(c, 0, sizeof *c);
    c->L = &td_nlp_lang_en;
    c->text = text;
    c->len = len;
    c->tz = tz && *tz ? tz : "UTC";
    c->now = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
    if (c->now < TD_DATETIME_MIN + 86400 * 800 || c->now > TD_DATETIME_MAX - 86400 * 4000)
        return -ERANGE;
    struct td_datetime_civil nl;
    int rc = td_tz_utc_to_local(c->tz, c->now, &nl);
    if (rc < 0)
        return rc;
    c->today = nlp_days(nl.year, nl.month, nl.day);
    c->now_minute = nl.hour * 60 + nl.minute;
    if ((rc = nlp_lex(c)) < 0)
        return rc;

    int begin = 0, end = c->ntok, v, n;
    int question = 0;
    for (int round = 0; round < 4; round++) {
        while (end > begin && c->tok[end - 1].kind == NLP_PUNCT && !nlp_is(c, end - 1, ")")) {
            if (nlp_is(c, end - 1, "?"))
                question = 1;
            end--;
        }
        /* "... please", "..., thanks": dropped unless that is all there is. */
        int cut = -1;
        for (int k = end - 3 > begin + 1 ? end - 3 : begin + 1; k < end && cut < 0; k++)
            if (nlp_lookup(c, k, end, c->L->trailing_noise, &v) == end - k)
                cut = k;
        if (cut < 0)
            break;
        end = cut;
    }
    for (;;) {
        while (begin < end && c->tok[begin].kind == NLP_PUNCT)
            begin++;
        if (begin < end && (n = nlp_lookup(c, begin, end, c->L->noise, &v)) && begin + n < end) {
            begin += n;
            continue;
        }
        break;
    }
    if (begin >= end) {
        out->intent = question ? TD_NLP_HELP : TD_NLP_UNKNOWN;
        out->confidence = question ? 50 : 0;
        return 0;
    }
    if (nlp_lookup(c, begin, end, c->L->smalltalk, &v) == end - begin) {
        out->intent = TD_NLP_UNKNOWN;
        out->flags |= TD_NLP_F_SMALLTALK;
        out->confidence = 90;
        return 0;
    }
    int add_from = -1, add_flags = 0;
    if (end - begin <= 64 && nlp_intent_match(c, begin, end, out, &add_from, &add_flags)) {
        out->confidence = 90;
        if (add_from >= 0)
            nlp_add_body(c, add_from, end, add_flags, out);
    } else {
        memset(out, 0, sizeof *out);
        struct td_nlp_filter f;
        memset(&f, 0, sizeof f);
        int fm = nlp_filters_full(c, begin, end, &f);
        if (fm & (NLP_FILTERS_REAL | NLP_FILTERS_CUE)) {
            out->intent = TD_NLP_LIST;
            out->filter = f;
            out->confidence = 80;
        } else {
            int flags = 0;
            if ((n = nlp_lookup(c, begin, end, c->L->add_openers, &flags)) && begin + n < end) {
                for (int k = begin; k < begin + n; k++)
                    c->tok[k].used = 1;
                out->confidence = 90;
            } else {
                flags = 0;
                out->confidence = 60;
                out->flags |= TD_NLP_F_GUESSED_ADD;
            }
            nlp_add_body(c, begin, end, flags, out);
        }
    }
    if (targets_needed(out->intent) && out->target == TD_NLP_TARGET_NONE)
        out->target = TD_NLP_TARGET_IT;
    if (out->target == TD_NLP_TARGET_ALL)
        out->flags |= TD_NLP_F_MANY;
    if (out->intent == TD_NLP_ADD && !out->title[0]) {
        out->flags |= TD_NLP_F_NO_TITLE;
        out->confidence = 20;
    }
    if (out->filter.due)
        filter_range(c, &out->filter);
    return 0;
}

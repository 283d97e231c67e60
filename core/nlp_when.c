/* core/nlp_when.c: dates and times in a message ("tomorrow at 9", "next friday", "in 3
 * days", "on the 5th", "Dec 24 at 5pm", "17:30", "noon", "end of month"), read relative to
 * now in the user's zone, and placed in that zone with core/tz.h. */
#include "core/nlp_int.h"

#include <errno.h>
#include <string.h>

#include "core/tz.h"

/* The civil-date arithmetic is core/datetime.c's; these keep the engine's int years. */
long long nlp_days(int y, int m, int d)
{
    return td_datetime_days_from_civil(y, m, d);
}

void nlp_civil(long long z, int *y, int *m, int *d)
{
    td_datetime_civil_from_days(z, y, m, d);
}

int nlp_weekday(long long days)
{
    long long r = (days + 3) % 7;
    return (int)(r < 0 ? r + 7 : r);
}

static int month_len(int y, int m)
{
    static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return len[(m - 1) % 12];
}

/* day plus n months, the day of month clamped to the new month's length. */
static long long add_months(long long day, int n)
{
    int y, m, d;
    nlp_civil(day, &y, &m, &d);
    int idx = y * 12 + (m - 1) + n;
    y = idx / 12;
    m = idx % 12 + 1;
    int ml = month_len(y, m);
    return nlp_days(y, m, d > ml ? ml : d);
}

int nlp_when_local(const struct nlp_ctx *c, long long day, int hour, int minute, long long *utc)
{
    struct td_datetime_civil l = {0};
    nlp_civil(day, &l.year, &l.month, &l.day);
    l.hour = hour;
    l.minute = minute;
    return td_tz_local_to_utc(c->tz, &l, utc);
}

/* 1 when nothing but used tokens and punctuation follows token i. */
static int at_end(const struct nlp_ctx *c, int i)
{
    for (int k = i + 1; k < c->ntok; k++)
        if (!c->tok[k].used && c->tok[k].kind != NLP_PUNCT)
            return 0;
    return 1;
}

static int free_tok(const struct nlp_ctx *c, int i, int end)
{
    return i < end && !c->tok[i].used && c->tok[i].kind != NLP_QUOTE;
}

static int alt_eq(const char *alts, const char *s, size_t n)
{
    for (const char *a = alts; a && *a;) {
        const char *e = strchr(a, '|');
        size_t k = e ? (size_t)(e - a) : strlen(a);
        if (k == n && memcmp(a, s, k) == 0)
            return 1;
        if (!e)
            break;
        a = e + 1;
    }
    return 0;
}

/* "9", "9am", "9:30", "9:30pm", "17:30", "6 pm", "noon", "midnight". after_at: a bare
 * number is only a time after "at". Returns tokens read. */
static int time_of_day(const struct nlp_ctx *c, int i, int end, int after_at, int *hour,
                       int *minute, int *bare)
{
    const struct nlp_keywords *kw = &c->L->kw;
    if (!free_tok(c, i, end))
        return 0;
    if (nlp_is(c, i, kw->noon)) {
        *hour = 12, *minute = 0, *bare = 0;
        return 1;
    }
    if (nlp_is(c, i, kw->midnight)) {
        *hour = 0, *minute = 0, *bare = 0;
        return 1;
    }
    if (c->tok[i].kind != NLP_WORD && c->tok[i].kind != NLP_NUM)
        return 0;
    size_t n;
    const char *w = nlp_norm(c, i, &n);
    size_t p = 0;
    int h = 0, mi = 0, colon = 0, lead0 = n > 1 && w[0] == '0';
    while (p < n && p < 2 && w[p] >= '0' && w[p] <= '9')
        h = h * 10 + (w[p++] - '0');
    if (p == 0)
        return 0;
    if (p < n && w[p] == ':') {
        if (p + 3 > n || w[p + 1] < '0' || w[p + 1] > '5' || w[p + 2] < '0' || w[p + 2] > '9')
            return 0;
        mi = (w[p + 1] - '0') * 10 + (w[p + 2] - '0');
        p += 3;
        colon = 1;
    }
    int ampm = 0; /* 1 am, 2 pm */
    int used = 1;
    if (p < n) {
        int is_am = alt_eq(kw->am, w + p, n - p), is_pm = alt_eq(kw->pm, w + p, n - p);
        if (!is_am && !is_pm)
            return 0;
        ampm = is_am ? 1 : 2;
    } else if (free_tok(c, i + 1, end) && nlp_is(c, i + 1, kw->am)) {
        ampm = 1;
        used = 2;
    } else if (free_tok(c, i + 1, end) && nlp_is(c, i + 1, kw->pm)) {
        ampm = 2;
        used = 2;
    }
    if (ampm) {
        if (h < 1 || h > 12)
            return 0;
        if (ampm == 1 && h == 12)
            h = 0;
        else if (ampm == 2 && h < 12)
            h += 12;
        *bare = 0;
    } else {
        if (!colon && !after_at)
            return 0;
        if (h > 23)
            return 0;
        *bare = !lead0 && h >= 1 && h <= 6;
    }
    *hour = h;
    *minute = mi;
    return used;
}

/* The next day on or after today whose day of month is dom (skipping months without it). */
static long long next_mday(const struct nlp_ctx *c, int dom)
{
    int y, m, d;
    nlp_civil(c->today, &y, &m, &d);
    for (int k = 0; k < 24; k++) {
        if (dom <= month_len(y, m)) {
            long long day = nlp_days(y, m, dom);
            if (day >= c->today)
                return day;
        }
        if (++m > 12)
            m = 1, y++;
    }
    return c->today;
}

static long long next_date(const struct nlp_ctx *c, int mon, int dom)
{
    int y, m, d;
    nlp_civil(c->today, &y, &m, &d);
    for (int k = 0; k < 8; k++, y++) {
        if (dom <= month_len(y, mon)) {
            long long day = nlp_days(y, mon, dom);
            if (day >= c->today)
                return day;
        }
    }
    return c->today;
}

/* "Dec 24", "December 24th", "5 april", "24th of December", "Dec 24 2028". */
static int month_day(const struct nlp_ctx *c, int i, int end, long long *day)
{
    int mon = 0, dom = 0, n = 0, v;
    if (nlp_lookup(c, i, i + 1, c->L->months, &mon) && free_tok(c, i + 1, end) &&
        (nlp_number(c, i + 1, &dom) || nlp_ordinal(c, i + 1, &dom))) {
        n = 2;
    } else if ((nlp_number(c, i, &dom) && c->tok[i].kind == NLP_NUM) || nlp_ordinal(c, i, &dom)) {
        int k = i + 1;
        if (free_tok(c, k, end) && nlp_is(c, k, c->L->kw.of))
            k++;
        if (k < end && nlp_lookup(c, k, k + 1, c->L->months, &mon))
            n = k + 1 - i;
        else
            return 0;
    } else {
        return 0;
    }
    if (i >= end || i + n > end || dom < 1 || dom > 31 || dom > month_len(2028, mon))
        return 0;
    if (free_tok(c, i + n, end) && c->tok[i + n].kind == NLP_NUM && nlp_number(c, i + n, &v) &&
        v >= 1970 && v <= 9999 && c->tok[i + n].nlen == 4) {
        if (dom > month_len(v, mon))
            return 0;
        *day = nlp_days(v, mon, dom);
        return n + 1;
    }
    *day = next_date(c, mon, dom);
    return n;
}

static int iso_date(const struct nlp_ctx *c, int i, int end, long long *day)
{
    if (!free_tok(c, i, end) || c->tok[i].kind != NLP_WORD)
        return 0;
    size_t n;
    const char *w = nlp_norm(c, i, &n);
    if (n != 10 || w[4] != '-' || w[7] != '-')
        return 0;
    int v[3] = {0, 0, 0};
    const int pos[3][2] = {{0, 4}, {5, 7}, {8, 10}};
    for (int k = 0; k < 3; k++)
        for (int p = pos[k][0]; p < pos[k][1]; p++) {
            if (w[p] < '0' || w[p] > '9')
                return 0;
            v[k] = v[k] * 10 + (w[p] - '0');
        }
    if (v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > month_len(v[0], v[1]))
        return 0;
    *day = nlp_days(v[0], v[1], v[2]);
    return 1;
}

/* An optional part of day after a date: "tomorrow morning". */
static int daypart_after(const struct nlp_ctx *c, int i, int end, struct nlp_when *w)
{
    int h;
    int n = free_tok(c, i, end) ? nlp_lookup(c, i, end, c->L->dayparts, &h) : 0;
    if (n)
        w->daypart = h;
    return n;
}

/* 1 when a time of day starts at i (after an optional "at"). */
static int time_follows(const struct nlp_ctx *c, int i, int end)
{
    int h, m, b, at = 0;
    if (free_tok(c, i, end) && nlp_is(c, i, c->L->kw.at))
        at = 1;
    if (time_of_day(c, i + at, end, at, &h, &m, &b))
        return 1;
    /* "friday morning" at the end, not "Friday Night Lights" */
    return free_tok(c, i, end) && nlp_lookup(c, i, end, c->L->dayparts, &h) == 1 &&
           at_end(c, i);
}

/* One part of a date/time expression at i. strong: a preposition or another part comes
 * before it (bare weekdays and "the 5th" need one). Returns tokens read, 0 if none. */
static int component(struct nlp_ctx *c, int i, int end, int strong, int after_at,
                     struct nlp_when *w)
{
    const struct nlp_lang *L = c->L;
    const struct nlp_keywords *kw = &L->kw;
    int v, n;
    long long day;
    if (!free_tok(c, i, end))
        return 0;
    int wd0 = nlp_weekday(c->today);
    int can_date = !w->has_date && !w->has_instant;

    if (can_date && (n = nlp_lookup(c, i, end, L->daypart_days, &v))) {
        w->has_date = 1, w->day = c->today, w->daypart = v;
        return n;
    }
    if (can_date && (n = nlp_lookup(c, i, end, L->relative_days, &v))) {
        w->has_date = 1, w->day = c->today + v;
        return n + daypart_after(c, i + n, end, w);
    }
    if (can_date && (n = nlp_lookup(c, i, end, L->next_periods, &v))) {
        int y, m, d;
        nlp_civil(c->today, &y, &m, &d);
        w->has_date = 1;
        if (v == 1)
            w->day = c->today + (7 - wd0);
        else if (v == 2)
            w->day = m == 12 ? nlp_days(y + 1, 1, 1) : nlp_days(y, m + 1, 1);
        else
            w->day = nlp_days(y + 1, 1, 1);
        return n;
    }
    if (can_date && (n = nlp_lookup(c, i, end, L->weekends, &v))) {
        w->has_date = 1, w->day = c->today + ((5 - wd0 + 7) % 7);
        return n;
    }
    if (can_date && (n = nlp_lookup(c, i, end, L->year_ends, &v))) {
        int y, m, d;
        nlp_civil(c->today, &y, &m, &d);
        w->has_date = 1, w->day = nlp_days(y, 12, 31);
        return n;
    }
    if (can_date && (n = nlp_lookup(c, i, end, L->month_ends, &v))) {
        int y, m, d;
        nlp_civil(c->today, &y, &m, &d);
        w->has_date = 1, w->day = nlp_days(y, m, month_len(y, m));
        return n;
    }
    if (can_date) {
        int k = i, qual = 0;
        if (nlp_is(c, k, kw->next) || nlp_is(c, k, kw->this_))
            k++, qual = 1;
        if (free_tok(c, k, end) && nlp_lookup(c, k, k + 1, L->weekdays, &v)) {
            int ok = qual || strong || at_end(c, k) || time_follows(c, k + 1, end);
            if (ok) {
                int ahead = (v - wd0 + 7) % 7;
                w->has_date = 1, w->day = c->today + (ahead ? ahead : 7);
                return k + 1 - i + daypart_after(c, k + 1, end, w);
            }
        }
    }
    if (can_date && nlp_is(c, i, kw->in) && free_tok(c, i + 1, end) && nlp_number(c, i + 1, &v) &&
        free_tok(c, i + 2, end)) {
        int unit;
        if (nlp_lookup(c, i + 2, i + 3, L->units, &unit) && v >= 0 && v <= 1000) {
            switch (unit) {
            case NLP_U_MINUTE: w->has_instant = 1, w->instant = c->now + 60LL * v; break;
            case NLP_U_HOUR: w->has_instant = 1, w->instant = c->now + 3600LL * v; break;
            case NLP_U_DAY: w->has_date = 1, w->day = c->today + v; break;
            case NLP_U_WEEK: w->has_date = 1, w->day = c->today + 7LL * v; break;
            case NLP_U_MONTH: w->has_date = 1, w->day = add_months(c->today, v); break;
            default: w->has_date = 1, w->day = add_months(c->today, 12 * v); break;
            }
            return 3;
        }
    }
    if (can_date && (n = month_day(c, i, end, &day))) {
        w->has_date = 1, w->day = day;
        return n;
    }
    if (can_date && (n = iso_date(c, i, end, &day))) {
        w->has_date = 1, w->day = day;
        return n;
    }
    if (can_date && strong) {
        int k = i;
        if (nlp_is(c, k, kw->the))
            k++;
        if (free_tok(c, k, end) && nlp_ordinal(c, k, &v) && v >= 1 && v <= 31 &&
            !(free_tok(c, k + 1, end) && (nlp_lookup(c, k + 1, k + 2, L->weekdays, NULL) ||
                                          nlp_is(c, k + 1, kw->day)))) {
            w->has_date = 1, w->day = next_mday(c, v);
            return k + 1 - i;
        }
    }
    if (!w->has_time && !w->has_instant) {
        int h, m, bare;
        if ((n = time_of_day(c, i, end, after_at, &h, &m, &bare))) {
            w->has_time = 1, w->hour = h, w->minute = m, w->bare_hour = bare;
            return n;
        }
    }
    if (w->daypart < 0 && w->has_date && !w->has_time && (n = daypart_after(c, i, end, w)))
        return n;
    return 0;
}

int nlp_when_parse(struct nlp_ctx *c, int i, int end, int loose, struct nlp_when *w)
{
    const struct nlp_keywords *kw = &c->L->kw;
    memset(w, 0, sizeof *w);
    w->daypart = -1;
    int j = i, parts = 0;
    while (j < end) {
        int k = j, prep = 0, at = 0;
        while (free_tok(c, k, end) && (nlp_is(c, k, kw->on_date) || nlp_is(c, k, kw->at))) {
            if (nlp_is(c, k, kw->at) || nlp_is(c, k, kw->by_time))
                at = 1;
            prep = 1;
            k++;
        }
        int n = component(c, k, end, prep || parts > 0 || loose, at || loose, w);
        if (n <= 0)
            break;
        j = k + n;
        parts++;
    }
    return parts ? j - i : 0;
}

int nlp_when_full(struct nlp_ctx *c, int i, int end, struct nlp_when *w)
{
    if (i >= end)
        return 0;
    return nlp_when_parse(c, i, end, 1, w) == end - i;
}

static void merge(struct nlp_when *w, const struct nlp_when *x)
{
    if (x->has_date && !w->has_date && !w->has_instant)
        w->has_date = 1, w->day = x->day;
    if (x->has_time && !w->has_time && !w->has_instant)
        w->has_time = 1, w->hour = x->hour, w->minute = x->minute, w->bare_hour = x->bare_hour;
    if (x->daypart >= 0 && w->daypart < 0)
        w->daypart = x->daypart;
    if (x->has_instant && !w->has_date && !w->has_time && !w->has_instant)
        w->has_instant = 1, w->instant = x->instant;
}

int nlp_when_scan(struct nlp_ctx *c, int from, int end, struct nlp_when *w)
{
    int found = 0;
    memset(w, 0, sizeof *w);
    w->daypart = -1;
    for (int i = from; i < end; i++) {
        if (c->tok[i].used)
            continue;
        struct nlp_when x;
        int n = nlp_when_parse(c, i, end, 0, &x);
        if (n <= 0)
            continue;
        if (found && ((x.has_date && (w->has_date || w->has_instant)) ||
                      (x.has_time && (w->has_time || w->has_instant)) ||
                      (x.has_instant && (w->has_date || w->has_time))))
            continue;
        merge(w, &x);
        for (int k = i; k < i + n; k++)
            c->tok[k].used = 1;
        found += n;
        i += n - 1;
    }
    return found;
}

int nlp_when_resolve(const struct nlp_ctx *c, const struct nlp_when *w, long long *utc,
                     int *all_day, struct td_datetime_civil *local)
{
    int rc;
    if (w->has_instant) {
        *utc = w->instant;
        *all_day = 0;
        return td_tz_utc_to_local(c->tz, *utc, local);
    }
    int h = -1, m = 0;
    if (w->has_time) {
        h = w->hour, m = w->minute;
        if (w->daypart >= 12 && h < 12)
            h += 12;
        else if (w->daypart < 0 && w->bare_hour)
            h += 12;
    } else if (w->daypart >= 0) {
        h = w->daypart;
    }
    if (!w->has_date && h < 0)
        return -ENOENT;
    long long day = w->has_date ? w->day : c->today;
    if (h < 0) {
        *all_day = 1;
        rc = nlp_when_local(c, day, 0, 0, utc);
    } else {
        *all_day = 0;
        rc = nlp_when_local(c, day, h, m, utc);
        if (rc == 0 && !w->has_date && *utc <= c->now)
            rc = nlp_when_local(c, ++day, h, m, utc);
    }
    if (rc < 0)
        return rc;
    memset(local, 0, sizeof *local);
    nlp_civil(day, &local->year, &local->month, &local->day);
    if (!*all_day)
        local->hour = h, local->minute = m;
    return 0;
}

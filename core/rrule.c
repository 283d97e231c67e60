/* core/rrule.c: RRULE validation with libical. */
#include "core/rrule.h"

#include <errno.h>
#include <libical/ical.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"

/* Case-insensitive substring test (strcasestr is a GNU extension). */
static bool has_word_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (!strncasecmp(s, word, n))
            return true;
    return false;
}

const char *td_rrule_strip_prefix(const char *rrule)
{
    return rrule && !strncasecmp(rrule, "RRULE:", 6) ? rrule + 6 : rrule;
}

static int check_rule(const char *rrule, char *why, size_t whylen,
                      struct icalrecurrencetype *out);
static int first_period(const struct icalrecurrencetype *r, const struct td_datetime_civil *start,
                        bool keep_interval);
static void daily_as_yearly(struct icalrecurrencetype *r);

int td_rrule_count(const char *rrule)
{
    struct icalrecurrencetype r;
    if (check_rule(rrule, NULL, 0, &r))
        return -EINVAL;
    return r.count > 0 ? r.count : 0;
}

/* The rule parsed, with the checks that need no expansion. */
static int check_rule(const char *rrule, char *why, size_t whylen,
                      struct icalrecurrencetype *out)
{
    char dummy[1];
    if (!why || whylen == 0)
        why = dummy, whylen = sizeof dummy;
    if (!rrule)
        return snprintf(why, whylen, "is missing"), -EINVAL;
    rrule = td_rrule_strip_prefix(rrule);
    if (!*rrule)
        return snprintf(why, whylen, "is empty"), -EINVAL;
    if (strlen(rrule) > TD_RRULE_MAX)
        return snprintf(why, whylen, "is longer than %d characters", TD_RRULE_MAX), -EINVAL;
    /* libical 3.0 strdup()s RSCALE and never frees it; non-Gregorian calendars are out
     * of scope anyway. */
    if (has_word_ci(rrule, "RSCALE"))
        return snprintf(why, whylen, "RSCALE is not supported"), -EINVAL;
    icalerror_clear_errno();
    struct icalrecurrencetype r = icalrecurrencetype_from_string(rrule);
    if (r.freq == ICAL_NO_RECURRENCE)
        return snprintf(why, whylen, "is not a valid RRULE (FREQ=DAILY;INTERVAL=2 is)"),
               -EINVAL;
    /* Tasks repeat at most daily: expanding in local wall-clock time would lose the
     * repeated hour of a fall-back night for anything finer. */
    if (r.freq == ICAL_SECONDLY_RECURRENCE || r.freq == ICAL_MINUTELY_RECURRENCE ||
        r.freq == ICAL_HOURLY_RECURRENCE)
        return snprintf(why, whylen, "repeats more often than daily (FREQ=DAILY is the finest)"),
               -EINVAL;
    /* What libical's expander refuses (RFC 5545's table of BY* parts per FREQ, and the
     * BYYEARDAY combinations it does not implement), without asking it. */
#define HAS(part) (r.part[0] != ICAL_RECURRENCE_ARRAY_MAX)
    bool refused = false;
    if (r.freq == ICAL_DAILY_RECURRENCE)
        refused = HAS(by_year_day) || HAS(by_week_no);
    else if (r.freq == ICAL_WEEKLY_RECURRENCE)
        refused = HAS(by_month_day) || HAS(by_year_day) || HAS(by_week_no);
    else if (r.freq == ICAL_MONTHLY_RECURRENCE)
        refused = HAS(by_year_day) || HAS(by_week_no);
    else
        refused = HAS(by_year_day) && (HAS(by_week_no) || HAS(by_month) || HAS(by_month_day));
#undef HAS
    if (refused)
        return snprintf(why, whylen, "cannot be expanded"), -EINVAL;
    *out = r;
    return 0;
}

int td_rrule_validate(const char *rrule, char *why, size_t whylen)
{
    char dummy[1];
    if (!why || whylen == 0)
        why = dummy, whylen = sizeof dummy;
    struct icalrecurrencetype r;
    int rc = check_rule(rrule, why, whylen, &r);
    if (rc)
        return rc;
    /* libical looks for the first month or year with an instance up to the year 20000
     * before it answers: seconds for a rule no month has (BYSETPOS=5 of a one-day set).
     * Ask period by period first, a bounded number of cheap questions. */
    struct td_datetime_civil start = {2026, 1, 1, 9, 0, 0};
    struct icalrecurrencetype scan = r;
    daily_as_yearly(&scan);   /* a DAILY rule on Feb 30 is the YEARLY one */
    rc = first_period(&scan, &start, false);
    if (rc == -EINVAL)
        return snprintf(why, whylen, "cannot be expanded"), -EINVAL;
    if (rc == -ENOENT)
        return snprintf(why, whylen, "has no occurrence within %d years",
                        TD_RRULE_FIRST_YEARS), -EINVAL;
    /* The parser accepts some combinations the expander refuses; ask the expander too
     * (cheap now: without INTERVAL, which does not change what it refuses, an instance
     * lies within TD_RRULE_FIRST_YEARS of the start). */
    r.interval = 1;
    icalrecur_iterator *it = icalrecur_iterator_new(r, icaltime_from_string("20260101T090000Z"));
    if (!it)
        return snprintf(why, whylen, "cannot be expanded"), -EINVAL;
    icalrecur_iterator_free(it);
    return 0;
}

/* ---------- bounding libical's searches ---------- */

/* Sunday 0 .. Saturday 6 of a civil date. */
static int weekday(int y, int m, int d)
{
    struct td_datetime_civil c = {y, m, d, 0, 0, 0};
    long long t;
    if (td_datetime_join(&c, &t))
        return -1;
    long long days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    return (int)(((days + 4) % 7 + 7) % 7);
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

static bool in_by_month(const struct icalrecurrencetype *r, int m)
{
    if (r->by_month[0] == ICAL_RECURRENCE_ARRAY_MAX)
        return true;
    for (int i = 0; i < ICAL_BY_MONTH_SIZE && r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
        if (r->by_month[i] == m)
            return true;
    return false;
}

/* Does the year (YEARLY) or month (MONTHLY) at y-m hold an instance of r? One libical
 * expansion of that period alone: INTERVAL so large that the next period is past libical's
 * horizon (and for MONTHLY, BYMONTH narrowed to that month, so its search for the next
 * allowed month ends at once too). dtstart's day goes in as libical's default BYMONTHDAY;
 * a period that lacks it has no instance. 1: yes, 0: no (check_rule has already refused
 * what libical refuses outright). */
static int period_has(const struct icalrecurrencetype *r, const struct td_datetime_civil *start,
                      int y, int m)
{
    struct icalrecurrencetype q = *r;
    q.count = 0;
    q.until = icaltime_null_time();
    struct icaltimetype dt = icaltime_null_time();
    dt.year = y, dt.hour = start->hour, dt.minute = start->minute, dt.second = start->second;
    if (r->freq == ICAL_YEARLY_RECURRENCE) {
        q.interval = 30000;
        dt.month = start->month, dt.day = start->day;
        if (dt.day > month_len(y, dt.month)) {
            if (r->by_month_day[0] == ICAL_RECURRENCE_ARRAY_MAX &&
                r->by_day[0] == ICAL_RECURRENCE_ARRAY_MAX &&
                r->by_year_day[0] == ICAL_RECURRENCE_ARRAY_MAX &&
                r->by_week_no[0] == ICAL_RECURRENCE_ARRAY_MAX)
                return 0;   /* the default BYMONTHDAY is a day this year lacks */
            dt.day = 1;     /* the day only seeds defaults the rule does not use */
        }
    } else {
        q.interval = 32767;
        q.by_month[0] = (short)m;
        q.by_month[1] = ICAL_RECURRENCE_ARRAY_MAX;
        dt.month = m, dt.day = start->day;
        if (dt.day > month_len(y, m)) {
            if (r->by_month_day[0] == ICAL_RECURRENCE_ARRAY_MAX && r->by_day[0] == ICAL_RECURRENCE_ARRAY_MAX)
                return 0;   /* the default BYMONTHDAY is a day this month lacks */
            dt.day = 1;     /* the day only seeds defaults the rule does not use */
        }
    }
    icalrecur_iterator *it = icalrecur_iterator_new(q, dt);
    if (!it)
        return 0;
    icalrecur_iterator_free(it);
    return 1;
}

/* The calendar's shape of a period, all libical's expansion of it depends on: for a year
 * its length and the weekday of Jan 1, for a month its number, length and first weekday. */
static int shape_of(const struct icalrecurrencetype *r, int y, int m)
{
    if (r->freq == ICAL_YEARLY_RECURRENCE)
        return (leap(y) ? 7 : 0) + weekday(y, 1, 1);
    return ((m - 1) * 2 + (m == 2 && leap(y))) * 7 + weekday(y, m, 1);
}

/* The number of years from start to the first year (YEARLY) or month (MONTHLY) holding
 * an instance, walking the periods the rule visits (INTERVAL apart when keep_interval,
 * else every one: what any dtstart could visit). Each distinct shape is asked once
 * (period_has), so this costs at most 14 or 168 small expansions and arithmetic.
 * -ENOENT: none within TD_RRULE_FIRST_YEARS; -EINVAL: libical refuses the rule. DAILY
 * and WEEKLY rules answer 0 (libical finds their first period at once). */
static int first_period(const struct icalrecurrencetype *r, const struct td_datetime_civil *start,
                        bool keep_interval)
{
    if (r->freq != ICAL_YEARLY_RECURRENCE && r->freq != ICAL_MONTHLY_RECURRENCE)
        return 0;
    signed char known[14 * 12];
    memset(known, -1, sizeof known);
    /* Every shape a period of the rule can have: when all are known to hold nothing, no
     * period ever will. */
    int shapes = 14;
    if (r->freq == ICAL_MONTHLY_RECURRENCE) {
        shapes = 0;
        for (int mm = 1; mm <= 12; mm++)
            shapes += in_by_month(r, mm) ? (mm == 2 ? 14 : 7) : 0;
    }
    int step = keep_interval && r->interval > 0 ? r->interval : 1;
    int y = start->year, m = r->freq == ICAL_YEARLY_RECURRENCE ? 1 : start->month;
    while (y - start->year <= TD_RRULE_FIRST_YEARS && y <= 2582) {
        if (r->freq == ICAL_YEARLY_RECURRENCE || in_by_month(r, m)) {
            int k = shape_of(r, y, m);
            if (k < 0)
                return -EINVAL;
            if (known[k] < 0) {
                int rc = period_has(r, start, y, m);
                if (rc < 0)
                    return rc;
                known[k] = (signed char)rc;
                if (!rc && --shapes == 0)
                    return -ENOENT;
            }
            if (known[k])
                return y - start->year;
        }
        if (r->freq == ICAL_YEARLY_RECURRENCE) {
            y += step;
        } else {
            long long months = (long long)y * 12 + (m - 1) + step;
            y = (int)(months / 12), m = (int)(months % 12) + 1;
        }
    }
    return -ENOENT;
}

/* ---------- expansion ---------- */

#include <limits.h>

#include "core/tz.h"

#define DAY 86400LL

/* A rule ready to expand: libical's rule with COUNT and UNTIL taken out (they are
 * applied here, to instants), and dtstart's wall clock in the zone. */
struct plan {
    struct icalrecurrencetype r;
    struct icalrecurrencetype scan;  /* r as libical expands it (daily_as_yearly) */
    int count;                       /* 0: none */
    enum { UNTIL_NONE, UNTIL_INSTANT, UNTIL_WALL } until_kind;
    long long until;                 /* unix s, or the wall clock read as UTC */
    struct td_datetime_civil start;  /* dtstart's wall clock in zone */
    long long start_wall;            /* the same, read as UTC */
    bool never;                      /* no instance after dtstart can match */
};

/* True when BYMONTHDAY names no day that any BYMONTH month has (Feb 30, Apr 31): libical
 * would search centuries for it, which takes half a second. */
static bool month_days_impossible(const struct icalrecurrencetype *r)
{
    static const int most[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int longest = 0;
    if (r->by_month_day[0] == ICAL_RECURRENCE_ARRAY_MAX)
        return false;
    if (r->by_month[0] == ICAL_RECURRENCE_ARRAY_MAX)
        longest = 31;
    for (int i = 0; i < ICAL_BY_MONTH_SIZE && r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
        int m = r->by_month[i];
        if (m < 1 || m > 12 || most[m - 1] > longest)
            longest = m < 1 || m > 12 ? 31 : most[m - 1];
    }
    for (int i = 0; i < ICAL_BY_MONTHDAY_SIZE &&
                    r->by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
        int d = r->by_month_day[i] < 0 ? -r->by_month_day[i] : r->by_month_day[i];
        if (d <= longest)
            return false;
    }
    return true;
}

/* A DAILY rule that only picks days by BYMONTH and BYMONTHDAY (and BYDAY, BYHOUR...) at
 * INTERVAL=1 has the instances of the YEARLY rule with those months and days (all of
 * them for the part it lacks): libical steps a DAILY rule one day at a time through the
 * days its filters drop (a Feb 29 that is a Sunday: 28 years of days, tens of ms), a
 * YEARLY one a year at a time. BYSETPOS picks within a day, not a year: left alone. */
static void daily_as_yearly(struct icalrecurrencetype *r)
{
    bool months = r->by_month[0] != ICAL_RECURRENCE_ARRAY_MAX;
    bool days = r->by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX;
    if (r->freq != ICAL_DAILY_RECURRENCE || r->interval > 1 || (!months && !days) ||
        r->by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
        return;
    r->freq = ICAL_YEARLY_RECURRENCE;
    if (!months) {
        for (int m = 1; m <= 12; m++)
            r->by_month[m - 1] = (short)m;
        r->by_month[12] = ICAL_RECURRENCE_ARRAY_MAX;
    }
    if (!days) {
        for (int d = 1; d <= 31; d++)
            r->by_month_day[d - 1] = (short)d;
        r->by_month_day[31] = ICAL_RECURRENCE_ARRAY_MAX;
    }
}

static struct td_datetime_civil civil_of(struct icaltimetype t)
{
    return (struct td_datetime_civil){t.year, t.month, t.day, t.hour, t.minute, t.second};
}

static int plan_make(const struct td_rrule_series *s, struct plan *p)
{
    if (!s || !s->rrule || !s->zone || (s->nexdates && !s->exdates) || (s->nexdays && !s->exdays))
        return -EINVAL;
    if (check_rule(s->rrule, NULL, 0, &p->r))
        return -EINVAL;
    if (p->r.freq != ICAL_DAILY_RECURRENCE && p->r.freq != ICAL_WEEKLY_RECURRENCE &&
        p->r.freq != ICAL_MONTHLY_RECURRENCE && p->r.freq != ICAL_YEARLY_RECURRENCE)
        return -EINVAL;
    if (td_tz_utc_to_local(s->zone, s->dtstart, &p->start) ||
        td_datetime_join(&p->start, &p->start_wall))
        return -EINVAL; /* unknown zone, or out of range */
    p->count = p->r.count;
    p->until_kind = UNTIL_NONE;
    if (!icaltime_is_null_time(p->r.until)) {
        struct icaltimetype u = p->r.until;
        struct td_datetime_civil c = civil_of(u);
        if (u.is_date)
            c.hour = 23, c.minute = 59, c.second = 59; /* the whole day is in */
        if (td_datetime_join(&c, &p->until))
            return -EINVAL;
        p->until_kind = icaltime_is_utc(u) && !u.is_date ? UNTIL_INSTANT : UNTIL_WALL;
    }
    p->r.count = 0;
    p->r.until = icaltime_null_time();
    p->never = month_days_impossible(&p->r);
    p->scan = p->r;
    daily_as_yearly(&p->scan);
    /* Every 7th (14th...) day is always dtstart's weekday: a BYDAY without it never
     * matches (libical would step through 100 years of weeks to find that out). */
    if (p->r.freq == ICAL_DAILY_RECURRENCE && p->r.interval % 7 == 0 &&
        p->r.by_day[0] != ICAL_RECURRENCE_ARRAY_MAX) {
        bool hit = false;
        int w = weekday(p->start.year, p->start.month, p->start.day) + 1;   /* 1: Sunday */
        for (int i = 0; i < ICAL_BY_DAY_SIZE && p->r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
            hit |= (int)icalrecurrencetype_day_day_of_week(p->r.by_day[i]) == w;
        p->never |= !hit;
    }
    if (!p->never) {
        /* No month or year holding an instance within TD_RRULE_FIRST_YEARS: libical
         * would look until the year 20000; the series has nothing after dtstart. */
        int rc = first_period(&p->scan, &p->start, true);
        if (rc == -EINVAL)
            return rc;
        p->never = rc == -ENOENT;
    }
    return 0;
}

/* Excluded: the instant t, or its local date (wall: its wall clock read as UTC). */
static bool excluded(const struct td_rrule_series *s, long long t, long long wall)
{
    for (size_t i = 0; i < s->nexdates; i++)
        if (s->exdates[i] == t)
            return true;
    long long day = wall >= 0 ? wall / DAY : -((-wall + DAY - 1) / DAY);
    for (size_t i = 0; i < s->nexdays; i++)
        if (s->exdays[i] == day)
            return true;
    return false;
}

/* Sorted insert of t into out[0..*have) (at most n), dropping duplicates: two wall-clock
 * times can meet in one instant (a gap time and the hour after it), and a gap time lands
 * after the wall times just past the gap. */
static void emit(long long *out, int n, int *have, long long t)
{
    int i = *have;
    while (i > 0 && out[i - 1] > t)
        i--;
    if (i > 0 && out[i - 1] == t)
        return;
    if (i >= n)
        return;
    int last = *have < n ? *have : n - 1;
    memmove(out + i + 1, out + i, (size_t)(last - i) * sizeof *out);
    out[i] = t;
    if (*have < n)
        (*have)++;
}

/* Handles one instance at wall clock c (wall = c read as UTC; known: its instant when
 * the caller has it, dtstart's, which may be the second of a repeated time). Returns 1 to go on, 0 when
 * the series ends here, or a negative errno. Instants lie within a day of their wall
 * clock (no zone is 24 h off UTC), which spares the conversion for instances far from
 * `after` and UNTIL. */
static int instance(const struct td_rrule_series *s, const struct plan *p, int *k,
                    const struct td_datetime_civil *c, long long wall, const long long *known,
                    long long after, long long *out, int n, int *have)
{
    if (p->count && ++*k > p->count)
        return 0;
    if (p->until_kind == UNTIL_WALL && wall > p->until)
        return 0;
    bool near_until = p->until_kind == UNTIL_INSTANT && wall + DAY > p->until;
    if (wall + DAY <= after && !near_until)
        return 1;
    long long t;
    int rc = known ? (t = *known, 0) : td_tz_local_to_utc(s->zone, c, &t);
    if (rc == -ERANGE)
        return 0;
    if (rc)
        return -EINVAL;
    if (p->until_kind == UNTIL_INSTANT && t > p->until)
        return 0;
    if (t > after && !excluded(s, t, wall))
        emit(out, n, have, t);
    return 1;
}

/* Moves the iterator to the wall clock `wall` (read as UTC). Returns false when libical
 * refuses; the iterator is then unusable. */
static bool skip_to(icalrecur_iterator *it, long long wall)
{
    struct td_datetime_civil c;
    if (td_datetime_split(wall, &c))
        return false;
    struct icaltimetype t = icaltime_null_time();
    t.year = c.year, t.month = c.month, t.day = c.day;
    t.hour = c.hour, t.minute = c.minute, t.second = c.second;
    return icalrecur_iterator_set_start(it, t) == 1;
}

/* The series' instances after `after`, up to n of them. A gap time sorts after the wall
 * times just past it, so the scan ends one day of wall clock after the n-th instance. */
static int expand(const struct td_rrule_series *s, long long after, long long *out, int n)
{
    struct plan p;
    int rc = plan_make(s, &p);
    if (rc)
        return rc;
    if (n <= 0)
        return 0;
    int have = 0, k = 0;
    rc = instance(s, &p, &k, &p.start, p.start_wall, &s->dtstart, after, out, n, &have);
    if (rc <= 0 || p.never)
        return rc < 0 ? rc : have;
    struct icaltimetype dt = icaltime_null_time();
    dt.year = p.start.year, dt.month = p.start.month, dt.day = p.start.day;
    dt.hour = p.start.hour, dt.minute = p.start.minute, dt.second = p.start.second;
    /* Each libical step walks days until one passes the rule's filters (a Feb 29 that is
     * a Sunday: 28 years of days): nothing further than TD_RRULE_FIRST_YEARS past `after`
     * is looked for. */
    struct td_datetime_civil lim;
    long long from = after > p.start_wall ? after : p.start_wall;
    if (!td_datetime_split(from + (long long)TD_RRULE_FIRST_YEARS * 366 * DAY, &lim)) {
        p.scan.until = icaltime_null_time();
        p.scan.until.year = lim.year, p.scan.until.month = lim.month, p.scan.until.day = lim.day;
        p.scan.until.hour = 23, p.scan.until.minute = 59, p.scan.until.second = 59;
    }
    icalrecur_iterator *it = icalrecur_iterator_new(p.scan, dt); /* floating: no zone */
    if (!it)
        return -EINVAL;
    /* Without COUNT nothing before `after` matters: start two days of wall clock before
     * it (instants lie within a day of their wall clock) instead of walking from dtstart,
     * which costs milliseconds per year of a daily series. */
    if (!p.count && after - 2 * DAY > p.start_wall && !skip_to(it, after - 2 * DAY)) {
        icalrecur_iterator_free(it);
        if (!(it = icalrecur_iterator_new(p.scan, dt)))
            return -EINVAL;
    }
    long long done_at = LLONG_MAX; /* wall clock past which nothing can sort in */
    for (int scanned = 0; scanned < TD_RRULE_SCAN_MAX; scanned++) {
        struct icaltimetype o = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(o) || o.year > p.start.year + TD_RRULE_SCAN_YEARS)
            break;
        struct td_datetime_civil c = civil_of(o);
        long long wall;
        if (td_datetime_join(&c, &wall))
            break;
        if (wall <= p.start_wall)
            continue; /* dtstart itself, or before it: dtstart is the first instance */
        if (wall > done_at)
            break;
        rc = instance(s, &p, &k, &c, wall, NULL, after, out, n, &have);
        if (rc <= 0)
            break;
        if (have == n && done_at == LLONG_MAX)
            done_at = wall + DAY;
    }
    icalrecur_iterator_free(it);
    return rc < 0 ? rc : have;
}

int td_rrule_upcoming(const struct td_rrule_series *s, long long after, long long *out, int n)
{
    if (!out && n > 0)
        return -EINVAL;
    return expand(s, after, out, n);
}

int td_rrule_next(const struct td_rrule_series *s, long long after, long long *next)
{
    long long t;
    if (!next)
        return -EINVAL;
    int rc = expand(s, after, &t, 1);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOENT;
    *next = t;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int td_rrule_after_completion(const struct td_rrule_series *s, long long completed_at,
                              long long *next)
{
    struct plan p;
    struct td_datetime_civil c;
    if (!next)
        return -EINVAL;
    int rc = plan_make(s, &p);
    if (rc)
        return rc;
    if (td_tz_utc_to_local(s->zone, completed_at, &c))
        return -EINVAL;
    long long step = p.r.interval > 0 ? p.r.interval : 1;
    c.hour = p.start.hour, c.minute = p.start.minute, c.second = p.start.second;
    if (p.r.freq == ICAL_DAILY_RECURRENCE || p.r.freq == ICAL_WEEKLY_RECURRENCE) {
        long long d;
        if (td_datetime_join(&c, &d))
            return -EINVAL;
        d += step * (p.r.freq == ICAL_WEEKLY_RECURRENCE ? 7 : 1) * DAY;
        if (td_datetime_split(d, &c))
            return -ENOENT; /* past year 9999 */
    } else {
        long long months = (long long)c.year * 12 + (c.month - 1) +
                           step * (p.r.freq == ICAL_YEARLY_RECURRENCE ? 12 : 1);
        if (months / 12 > 9999)
            return -ENOENT;
        c.year = (int)(months / 12), c.month = (int)(months % 12) + 1;
        int dim = days_in_month(c.year, c.month);
        if (c.day > dim)
            c.day = dim;
    }
    long long t, wall;
    if (td_datetime_join(&c, &wall))
        return -EINVAL;
    if (p.until_kind == UNTIL_WALL && wall > p.until)
        return -ENOENT;
    rc = td_tz_local_to_utc(s->zone, &c, &t);
    if (rc)
        return rc == -ERANGE ? -ENOENT : -EINVAL;
    if (p.until_kind == UNTIL_INSTANT && t > p.until)
        return -ENOENT;
    *next = t;
    return 0;
}

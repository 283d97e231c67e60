/* core/datetime.c: plain civil-date arithmetic and the text forms of time the service
 * reads and writes. */
#include "core/datetime.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- civil dates ---------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
long long td_datetime_days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void td_datetime_civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static long long floor_div(long long a, long long b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int td_datetime_split(long long t, struct td_datetime_civil *out)
{
    if (!out)
        return -EINVAL;
    if (t < TD_DATETIME_MIN || t > TD_DATETIME_MAX)
        return -ERANGE;
    long long days = floor_div(t, 86400), secs = t - days * 86400;
    td_datetime_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    return 0;
}

int td_datetime_join(const struct td_datetime_civil *c, long long *unix_s)
{
    if (!c || !unix_s)
        return -EINVAL;
    if (c->month < 1 || c->month > 12 || c->day < 1 || c->day > days_in_month(c->year, c->month) ||
        c->hour < 0 || c->hour > 23 || c->minute < 0 || c->minute > 59 || c->second < 0 ||
        c->second > 59)
        return -EINVAL;
    long long t = td_datetime_days_from_civil(c->year, c->month, c->day) * 86400 +
                  c->hour * 3600LL + c->minute * 60 + c->second;
    if (t < TD_DATETIME_MIN || t > TD_DATETIME_MAX)
        return -ERANGE;
    *unix_s = t;
    return 0;
}

int td_datetime_format_utc(long long t, char *buf, size_t n)
{
    struct td_datetime_civil c;
    if (!buf)
        return -EINVAL;
    int rc = td_datetime_split(t, &c);
    if (rc)
        return rc;
    if (n < sizeof "YYYY-MM-DDTHH:MM:SSZ")
        return -ENOSPC;
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute,
             c.second);
    return 0;
}

/* ---------- RFC 3339 ---------- */

/* Exactly n ASCII digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "HH:MM:SS[.frac]" then "Z" or "+HH:MM"; seconds since midnight minus the offset. With
 * lenient, ":SS" may be left out and so may the offset (*local is then set). */
static int parse_clock(const char *p, bool lenient, long long *secs, bool *local)
{
    int h, mi, s = 0, oh = 0, om = 0, sign = 0;
    if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi) || h > 23 || mi > 59)
        return -EINVAL;
    p += 5;
    if (*p == ':' || !lenient) {
        if (*p != ':' || !digits(p + 1, 2, &s) || s > 59)
            return -EINVAL;
        p += 3;
        if (*p == '.') { /* fractional seconds are dropped: storage has whole seconds */
            if (*++p < '0' || *p > '9')
                return -EINVAL;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    *local = false;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -EINVAL;
        p += 6;
    } else if (lenient && !*p) {
        *local = true;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    *secs = h * 3600LL + mi * 60 + s - sign * (oh * 3600LL + om * 60);
    return 0;
}

static int parse_datetime(const char *s, bool lenient, long long *unix_s,
                          enum td_datetime_form *form)
{
    int y, m, d;
    if (!s || !unix_s)
        return -EINVAL;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -EINVAL;
    long long t = td_datetime_days_from_civil(y, m, d) * 86400;
    enum td_datetime_form f = TD_DATETIME_DATE;
    if (s[10] != '\0') {
        long long secs;
        bool local;
        /* RFC 3339 5.6 allows 't' and, by note, a space for 'T'. */
        if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
            parse_clock(s + 11, lenient, &secs, &local))
            return -EINVAL;
        t += secs;
        f = local ? TD_DATETIME_LOCAL : TD_DATETIME_INSTANT;
    }
    if (t < TD_DATETIME_MIN || t > TD_DATETIME_MAX)
        return -ERANGE;
    *unix_s = t;
    if (form)
        *form = f;
    return 0;
}

int td_datetime_parse_rfc3339(const char *s, long long *unix_s, int *date_only)
{
    enum td_datetime_form f;
    int rc = parse_datetime(s, false, unix_s, &f);
    if (!rc && date_only)
        *date_only = f == TD_DATETIME_DATE;
    return rc;
}

int td_datetime_parse_input(const char *s, long long *unix_s, enum td_datetime_form *form)
{
    return parse_datetime(s, true, unix_s, form);
}

/* ---------- ISO 8601 durations ---------- */

/* Reads 1..9 digits followed by unit; 9 digits keep any product with a unit in range. */
static int dur_part(const char **p, char unit, long long *n)
{
    const char *s = *p;
    long long v = 0;
    int d = 0;
    while (*s >= '0' && *s <= '9' && d < 10)
        v = v * 10 + (*s++ - '0'), d++;
    if (d == 0 || d > 9 || *s != unit)
        return 0;
    *n = v;
    *p = s + 1;
    return 1;
}

/* Parses an optional "<digits><unit>" at *p; -EINVAL on digits without that unit. */
static int dur_opt(const char **p, char unit, long long mult, long long *total, int *seen)
{
    const char *s = *p;
    long long n;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s != unit)
        return 0; /* maybe the next unit's digits */
    if (!dur_part(p, unit, &n))
        return -EINVAL;
    *total += n * mult;
    (*seen)++;
    return 0;
}

int td_datetime_parse_duration(const char *s, long *seconds)
{
    if (!s || !seconds || *s++ != 'P')
        return -EINVAL;
    long long total = 0, n;
    const char *p = s;
    if (dur_part(&p, 'W', &n)) {
        if (*p)
            return -EINVAL;
        total = n * 604800;
    } else {
        int seen = 0, tseen = 0;
        if (dur_opt(&p, 'D', 86400, &total, &seen))
            return -EINVAL;
        if (*p == 'T') {
            p++;
            if (dur_opt(&p, 'H', 3600, &total, &tseen) || dur_opt(&p, 'M', 60, &total, &tseen) ||
                dur_opt(&p, 'S', 1, &total, &tseen) || tseen == 0)
                return -EINVAL;
        }
        if (*p || seen + tseen == 0)
            return -EINVAL;
    }
    if (total <= 0 || total > (long long)LONG_MAX)
        return -ERANGE;
    *seconds = (long)total;
    return 0;
}

/* ---------- configuration durations ---------- */

int td_datetime_parse_ms(const char *s, int *out_ms)
{
    if (!s || !out_ms || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno)
        return -EINVAL;
    double scale;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else
        return -EINVAL;
    double ms = v * scale;
    if (ms < 1 || ms > 24.0 * 3600 * 1000)
        return -EINVAL;
    *out_ms = (int)ms;
    return 0;
}

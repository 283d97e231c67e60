/* Calendar time in UTC without the C library's time-zone machinery (mktime and TZ are
 * process-global state): RFC 3339 date-times, civil-date arithmetic, ISO 8601 durations,
 * and the short durations of the configuration ("500ms", "10s", "2m"). Zones are
 * core/tz.h's business. */
#ifndef TD_DATETIME_H
#define TD_DATETIME_H
#include <stddef.h>

/* What "YYYY" can show: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define TD_DATETIME_MIN (-62135596800LL)
#define TD_DATETIME_MAX 253402300799LL

/* A proleptic Gregorian date and wall-clock time, UTC or local depending on who asks. */
struct td_datetime_civil {
    int year, month, day;      /* month 1..12, day 1..31 */
    int hour, minute, second;  /* 0..23, 0..59, 0..59 */
};

/* Parses an RFC 3339 date-time with any offset ("Z", "+02:00", "-05:30"; 't' or a space
 * for 'T'; a fraction of a second is dropped) into unix seconds. A date alone
 * ("2026-03-01") gives midnight UTC of that date and *date_only = 1 (date_only may be
 * NULL). Returns -EINVAL for bad syntax or an impossible date, -ERANGE outside years
 * 0001..9999. */
int td_datetime_parse_rfc3339(const char *s, long long *unix_s, int *date_only);

/* What td_datetime_parse_input read. */
enum td_datetime_form {
    TD_DATETIME_INSTANT, /* "Z" or an offset: the value is an instant */
    TD_DATETIME_DATE,    /* a date alone: its midnight, read as if in UTC */
    TD_DATETIME_LOCAL,   /* a date-time without offset: the wall time, read as if in UTC */
};

/* Parses a date or date-time the way forms send one: what td_datetime_parse_rfc3339
 * takes, with the seconds optional ("2026-12-20T09:00Z", "2026-12-20T09:00+01:00"), and
 * also a local date-time without offset, the value of an HTML datetime-local input
 * ("2026-12-20T09:00", "2026-12-20T09:00:00", "2026-12-20T09:00:00.5"; a fraction of a
 * second is dropped). For TD_DATETIME_DATE and TD_DATETIME_LOCAL, *unix_s holds the
 * wall-clock fields read as UTC: the caller places them in a zone (td_datetime_split,
 * then td_tz_local_to_utc). Returns -EINVAL for bad syntax or an impossible date, -ERANGE
 * when the value read as UTC falls outside years 0001..9999. */
int td_datetime_parse_input(const char *s, long long *unix_s, enum td_datetime_form *form);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into buf (n >= 21). Returns -ERANGE outside
 * TD_DATETIME_MIN..TD_DATETIME_MAX, -ENOSPC when buf is too small. */
int td_datetime_format_utc(long long t, char *buf, size_t n);

/* Splits unix seconds into UTC calendar fields; -ERANGE outside the four-digit years. */
/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
long long td_datetime_days_from_civil(long long y, int m, int d);
void td_datetime_civil_from_days(long long days, int *y, int *m, int *d);
int td_datetime_split(long long t, struct td_datetime_civil *out);

/* Joins calendar fields, read as UTC, into unix seconds. Returns -EINVAL for a field out
 * of its range or a day the month lacks (2026-02-29), -ERANGE outside the four-digit
 * years. */
int td_datetime_join(const struct td_datetime_civil *c, long long *unix_s);

/* Parses an ISO 8601 / RFC 5545 duration without a sign: P<n>W, or
 * P[<n>D][T[<n>H][<n>M][<n>S]] (PT15M, P1D, P1DT2H, P2W). Years and months are refused:
 * their length depends on the calendar. Returns -EINVAL for bad syntax, -ERANGE for a
 * zero duration. */
int td_datetime_parse_duration(const char *s, long *seconds);

/* Parses a configuration duration: a number with an optional unit ms, s or m ("500ms",
 * "1.5s", "2m"; bare numbers are milliseconds) into whole milliseconds from 1 ms to 24 h.
 * Returns -EINVAL otherwise. */
int td_datetime_parse_ms(const char *s, int *out_ms);

#endif

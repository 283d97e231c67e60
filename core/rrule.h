/* Recurrence rules (RFC 5545 RRULE) through libical: validation, and the recurrence math
 * the recur role (the next occurrence when a task is completed) and the api (previews)
 * share. Pure functions: no I/O beyond what core/tz.h caches, no loop. */
#ifndef TD_RRULE_H
#define TD_RRULE_H
#include <stddef.h>

/* Bounds of one expansion: this many candidates and years. A rule without COUNT is
 * scanned from two days before `after`; with COUNT it must be counted from dtstart, so a
 * daily COUNT series is answered for about 270 years (about 1.5 ms of work per year
 * of the series at -O2).
 * Past the bounds the series reads as over (-ENOENT / fewer results). A rule whose
 * BYMONTHDAY no BYMONTH month has (Feb 30) has no instance after dtstart. */
#define TD_RRULE_SCAN_MAX 100000
#define TD_RRULE_SCAN_YEARS 1000

/* A rule whose first instance lies further than this many years past the start has none:
 * validation refuses a rule no month or year within it matches ("has no occurrence within
 * 100 years"), and expansion stops looking this far past `after`. libical would otherwise
 * search up to the year 20000 (seconds for BYSETPOS=5 of a one-day set). */
#define TD_RRULE_FIRST_YEARS 100

/* Far above any real rule; bounds libical's work. */
#define TD_RRULE_MAX 1000

/* Checks an RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE"; a leading "RRULE:" in any case is
 * accepted) the way libical will later expand it. Returns 0, or -EINVAL with a reason
 * that completes "recurrence ..." written into why (why may be NULL). */
int td_rrule_validate(const char *rrule, char *why, size_t whylen);

/* rrule without a leading "RRULE:" (any case); the stored form is without it. */
const char *td_rrule_strip_prefix(const char *rrule);

/* The rule's COUNT (> 0), 0 when it has none, -EINVAL for a bad rule. */
int td_rrule_count(const char *rrule);

/* A recurring series. The caller owns every pointer; nothing is kept after a call. */
struct td_rrule_series {
    const char *rrule;          /* "FREQ=MONTHLY;BYMONTHDAY=31" (an "RRULE:" prefix allowed) */
    const char *zone;           /* IANA zone the rule is evaluated in */
    long long dtstart;          /* unix seconds: the series' first due instant */
    const long long *exdates;   /* excluded instances (unix seconds), any order; may be NULL */
    size_t nexdates;
    const long long *exdays;    /* excluded local dates in zone (days since 1970-01-01 of
                                 * the date read as UTC): every instance on one is out */
    size_t nexdays;
};

/* The most excluded dates a task carries (recurrence_exdates). */
#define TD_RRULE_EXDATES_MAX 100

/* Expansion follows RFC 5545 in the series' zone: the rule runs over wall-clock times
 * (09:00 stays 09:00 across DST), each one then placed in the zone as td_tz_local_to_utc
 * does (a time in a spring-forward gap is read with the offset before the gap, a repeated
 * time is its first instant). dtstart is always the first instance, also when it does not
 * match the rule (RFC 5545 3.8.5.3). COUNT counts instances from dtstart, excluded ones
 * too; UNTIL is inclusive, compared as an instant when written in UTC ("...Z"), as a wall
 * clock or date in the zone otherwise; an EXDATE removes the instance at that exact
 * instant, an excluded day every instance whose local date it is (both still count
 * towards COUNT). FREQ is DAILY, WEEKLY, MONTHLY or YEARLY: sub-daily rules give -EINVAL. */

/* The first instance strictly after `after` (unix s): 0 with *next set; -ENOENT when the
 * series has none left (COUNT, UNTIL, or a rule that never matches within the scan
 * bounds); -EINVAL for a bad rule or zone, or NULL arguments. */
int td_rrule_next(const struct td_rrule_series *s, long long after, long long *next);

/* Up to n instances strictly after `after`, ascending, into out. Returns how many
 * (0..n), or -EINVAL as td_rrule_next. */
int td_rrule_upcoming(const struct td_rrule_series *s, long long after, long long *out, int n);

/* The completion anchor ("every!"): the local date (in zone) of completed_at plus
 * INTERVAL times FREQ, at dtstart's wall-clock time. Month and year steps that land on a
 * day the month lacks clamp to its last day (Jan 31 + 1 month = Feb 28/29, Feb 29 + 1
 * year = Feb 28). BY* parts, COUNT and EXDATE are not applied (they need the series'
 * history); UNTIL is: past it, -ENOENT. Returns 0, -ENOENT or -EINVAL. */
int td_rrule_after_completion(const struct td_rrule_series *s, long long completed_at,
                              long long *next);

#endif

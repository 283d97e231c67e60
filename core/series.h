/* A recurring task's place in its series, and the next due time after it: the one piece
 * of recurrence logic the recur role (a completion) and the api (skip, the occurrences
 * preview) share, so both compute the same instants. The calendar math is core/rrule.h. */
#ifndef TD_SERIES_H
#define TD_SERIES_H
#include <jansson.h>

enum td_series_anchor {
    TD_SERIES_SCHEDULE,     /* the first occurrence after both the due time and the completion */
    TD_SERIES_COMPLETION,   /* the completion's local date + INTERVAL x FREQ, at DTSTART's time */
};

/* One occurrence. Pointers are borrowed from the caller. */
struct td_series_occ {
    const char           *rrule;    /* stored rule (RRULE text) */
    const char           *zone;     /* IANA zone */
    long long             start;    /* DTSTART: the series' first due (or creation) instant */
    long long             due;      /* this occurrence's due instant (valid when has_due) */
    int                   has_due;
    int                   index;    /* this occurrence's place: 0 for the first task */
    enum td_series_anchor anchor;
    json_t               *exdates;  /* excluded: array of local dates ("2027-01-15": every
                                     * instance that day) and local date-times
                                     * ("2027-01-15T09:00:00": that instance) in zone, as
                                     * td_series_exdate_check takes them; NULL: none */
};

/* Checks one excluded date of recurrence_exdates: a local date or a local date-time
 * without offset (seconds optional). Writes its stored form ("2027-01-15" or
 * "2027-01-15T09:00:00") into out (n >= 20). 0, or -EINVAL. */
int td_series_exdate_check(const char *s, char *out, size_t n);

/* "schedule" or "completion" into *out; -EINVAL otherwise (NULL means schedule). */
int td_series_anchor_parse(const char *s, enum td_series_anchor *out);

/* The due time of the occurrence after o when o is done (completed, or skipped) at
 * `at`: schedule anchor: td_rrule_next after the later of o's due (DTSTART when it has
 * none) and `at`; completion anchor: td_rrule_after_completion(at), and never at or
 * before o's due. Either way a rule with COUNT=n has at most n occurrences: o.index + 1
 * occurrences are made, so none follows when that reaches n (for the completion anchor
 * this is the only COUNT there is; for the schedule anchor instants past COUNT end it
 * too). Excluded dates (o->exdates) are passed over: for the schedule anchor an excluded
 * instance still uses up COUNT (RFC 5545); for the completion anchor the one after it is
 * taken. Returns 0 with *next, -ENOENT when the series is exhausted (COUNT, UNTIL),
 * -EINVAL for a bad rule, zone or excluded date. */
int td_series_next(const struct td_series_occ *o, long long at, long long *next);

/* Up to n due times of the occurrences that would follow o if each were done on time
 * and o were done at `at` (the first is td_series_next's answer). Returns how many
 * (0..n) or -EINVAL. */
int td_series_upcoming(const struct td_series_occ *o, long long at, long long *out, int n);

/* Reads o and the completion time from an event's task_data (proto/events: rrule in
 * "recurrence", "time_zone", "due_date", "completed_at", "series" {start, anchor},
 * "recurrence_exdates").
 * Pointers in o point into td. -ENOENT when the task has no recurrence, -EINVAL when a
 * member is missing or malformed. */
int td_series_from_task_data(json_t *td, struct td_series_occ *o, long long *completed_at);

#endif

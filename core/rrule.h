/* Recurrence rules (RFC 5545 RRULE) through libical: validation now, expansion into
 * occurrences later. */
#ifndef TD_RRULE_H
#define TD_RRULE_H
#include <stddef.h>

/* Far above any real rule; bounds libical's work. */
#define TD_RRULE_MAX 1000

/* Checks an RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE"; a leading "RRULE:" in any case is
 * accepted) the way libical will later expand it. Returns 0, or -EINVAL with a reason
 * that completes "recurrence ..." written into why (why may be NULL). */
int td_rrule_validate(const char *rrule, char *why, size_t whylen);

/* rrule without a leading "RRULE:" (any case); the stored form is without it. */
const char *td_rrule_strip_prefix(const char *rrule);

#endif

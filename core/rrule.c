/* core/rrule.c: RRULE validation with libical. */
#include "core/rrule.h"

#include <errno.h>
#include <libical/ical.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

int td_rrule_validate(const char *rrule, char *why, size_t whylen)
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
    /* The parser accepts some combinations the expander refuses; ask the expander too. */
    icalrecur_iterator *it = icalrecur_iterator_new(r, icaltime_from_string("20260101T090000Z"));
    if (!it)
        return snprintf(why, whylen, "cannot be expanded"), -EINVAL;
    icalrecur_iterator_free(it);
    return 0;
}

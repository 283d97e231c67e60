/* The task model shared by the roles: validating and normalising client input.
 * Input is JSON (jansson); output is a normalised jansson object the api role hands to
 * PostgreSQL as one jsonb parameter, plus a list of field errors for a 422. */
#ifndef TD_TASK_H
#define TD_TASK_H
#include <stddef.h>
#include <jansson.h>

#include "core/datetime.h"
#include "core/rrule.h"
#include "core/tz.h"

enum td_task_mode {
    TD_TASK_CREATE,   /* POST: title required, defaults for the rest */
    TD_TASK_REPLACE,  /* PUT: like create; every absent field takes its default */
    TD_TASK_PATCH,    /* PATCH: only present fields; null clears nullable ones */
    /* Or'ed into a mode: unknown members are ignored instead of refused. For the
     * hackathon contract's /api/{user_id}/... routes, whose front-ends send UI state
     * along; todod's own routes stay strict, so a typo there is caught. */
    TD_TASK_LENIENT = 1 << 8,
};

struct td_task_error {
    char field[64];    /* "title", "tags[3]", "reminders[0].offset" */
    char message[160]; /* "must be 1 to 500 characters" */
};

struct td_task_errors {
    struct td_task_error items[32];
    int                  count;
};

/* Validates input (a JSON object) for mode (optionally | TD_TASK_LENIENT). user_tz is the
 * user's IANA zone used when time_zone is absent on create. On success returns 0 and *out
 * is a new object with only known, normalised members:
 *   title (trimmed), description, status ("pending"|"completed"), priority (0..4 integer:
 *   none, low, medium, high, urgent; "p1".."p4" map to urgent..low), tags (array of
 *   unique lower-cased strings), due_at (RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" or null),
 *   all_day (bool; a date alone "YYYY-MM-DD" means all-day at 00:00 in time_zone),
 *   time_zone (IANA), recurrence (RRULE text validated with libical, or null),
 *   recurrence_anchor ("schedule", the default, or "completion": Todoist's "every!", the
 *   next occurrence counts from the completion date; core/series.h; no alias, null refused),
 *   recurrence_exdates (dates taken out of the series, at most TD_RRULE_EXDATES_MAX: local
 *   dates "2027-01-15" or date-times "2027-01-15T09:00:00" in time_zone; null means []),
 *   reminders (array of {"offset":"PT15M","channel":..} or {"at":RFC3339 UTC,"channel":..}).
 * due_at takes an RFC 3339 date-time (seconds optional), a date alone, or a local
 * date-time without offset as an HTML datetime-local input sends it ("2026-12-20T09:00"),
 * read in time_zone (RFC 5545 3.3.5 for times a DST change skips or repeats).
 * recurrence takes an RRULE ("RRULE:" prefix dropped) or a word, case-insensitive: none
 * or "" (null), daily, weekly, monthly, yearly (FREQ=DAILY...). A recurrence needs no due
 * date (without one it counts from the creation); offset reminders do.
 * Aliases accepted from the seeds and the hackathon contract: due_date = due_at,
 * recurrence_pattern = recurrence, completed (bool) = status; a member and its alias
 * together are accepted when they agree (a GET answer sent back), else an error.
 * Server-managed members (id, user_id, created_at, updated_at, completed_at, version,
 * all_day) are ignored. Other unknown members are errors ("unknown field"), or ignored
 * with TD_TASK_LENIENT. On failure returns -EINVAL and errs lists every bad field
 * (-EINVAL without errors for a bad mode; -ENOMEM). */
int td_task_validate(json_t *input, enum td_task_mode mode, const char *user_tz, json_t **out,
                     struct td_task_errors *errs);

/* The word a stored rule is named by (the seeds' recurrence_pattern): "daily", "weekly",
 * "monthly" or "yearly" when rrule is exactly FREQ=DAILY, FREQ=WEEKLY, FREQ=MONTHLY or
 * FREQ=YEARLY (in any case), else NULL (rrule may be NULL). proto/sql's
 * todod_recurrence_pattern says the same for events. */
const char *td_task_recurrence_word(const char *rrule);
/* Priority name for 0..4, or NULL. */
const char *td_task_priority_name(int p);
/* Parses "none|low|medium|high|urgent|p1..p4" into 0..4; -EINVAL otherwise. */
int td_task_priority_parse(const char *s, int *out);
/* 1 when s is a UUID in its 8-4-4-4-12 hex text form. */
int td_task_is_uuid(const char *s);
/* Appends the errors as a problem+json "errors" member: "errors":[{"field":..,"message":..}] */
int td_task_errors_json(const struct td_task_errors *errs, char **out);

#endif

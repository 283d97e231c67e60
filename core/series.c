/* The next occurrence of a recurring task (core/series.h). */
#include "core/series.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/datetime.h"
#include "core/rrule.h"
#include "core/tz.h"

int td_series_anchor_parse(const char *s, enum td_series_anchor *out)
{
    if (!s || strcmp(s, "schedule") == 0)
        *out = TD_SERIES_SCHEDULE;
    else if (strcmp(s, "completion") == 0)
        *out = TD_SERIES_COMPLETION;
    else
        return -EINVAL;
    return 0;
}

int td_series_exdate_check(const char *s, char *out, size_t n)
{
    long long t;
    enum td_datetime_form form;
    struct td_datetime_civil c;
    if (!s || !out || n < 20 || td_datetime_parse_input(s, &t, &form) ||
        form == TD_DATETIME_INSTANT || td_datetime_split(t, &c))
        return -EINVAL;
    if (form == TD_DATETIME_DATE)
        snprintf(out, n, "%04d-%02d-%02d", c.year, c.month, c.day);
    else
        snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                 c.minute, c.second);
    return 0;
}

/* The series of o, its excluded dates placed in o's zone (into ex). */
struct exclusions {
    long long instants[TD_RRULE_EXDATES_MAX], days[TD_RRULE_EXDATES_MAX];
};

static int rule_of(const struct td_series_occ *o, struct td_rrule_series *s,
                   struct exclusions *ex)
{
    *s = (struct td_rrule_series){.rrule = o->rrule, .zone = o->zone, .dtstart = o->start,
                                  .exdates = ex->instants, .exdays = ex->days};
    if (!o->exdates)
        return 0;
    if (!json_is_array(o->exdates) || json_array_size(o->exdates) > TD_RRULE_EXDATES_MAX)
        return -EINVAL;
    size_t i;
    json_t *v;
    json_array_foreach(o->exdates, i, v) {
        long long t;
        enum td_datetime_form form;
        struct td_datetime_civil c;
        const char *text = json_string_value(v);
        if (!text || td_datetime_parse_input(text, &t, &form) || form == TD_DATETIME_INSTANT)
            return -EINVAL;
        if (form == TD_DATETIME_DATE) {
            ex->days[s->nexdays++] = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
            continue;
        }
        /* placed as an instance at that wall clock is (a gap time after the gap) */
        int rc = td_datetime_split(t, &c);
        if (!rc)
            rc = td_tz_local_to_utc(o->zone, &c, &t);
        if (rc == -ERANGE)
            continue;   /* a time the zone cannot place is no instance */
        if (rc)
            return -EINVAL;
        ex->instants[s->nexdates++] = t;
    }
    return 0;
}

static bool is_excluded(const struct td_rrule_series *s, long long t)
{
    for (size_t i = 0; i < s->nexdates; i++)
        if (s->exdates[i] == t)
            return true;
    if (!s->nexdays)
        return false;
    struct td_datetime_civil c;
    long long wall;
    if (td_tz_utc_to_local(s->zone, t, &c) || td_datetime_join(&c, &wall))
        return false;
    long long day = wall >= 0 ? wall / 86400 : -((-wall + 86399) / 86400);
    for (size_t i = 0; i < s->nexdays; i++)
        if (s->exdays[i] == day)
            return true;
    return false;
}

int td_series_next(const struct td_series_occ *o, long long at, long long *next)
{
    if (!o || !o->rrule || !o->zone || !next)
        return -EINVAL;
    int count = td_rrule_count(o->rrule);
    if (count < 0 || o->index < 0)
        return -EINVAL;
    if (count > 0 && o->index + 1 >= count)
        return -ENOENT;
    struct td_rrule_series s;
    struct exclusions ex;
    if (rule_of(o, &s, &ex))
        return -EINVAL;
    long long due = o->has_due ? o->due : o->start;
    if (o->anchor == TD_SERIES_COMPLETION) {
        long long n;
        int rc = td_rrule_after_completion(&s, at, &n);
        if (rc)
            return rc;
        if (n <= due) {
            /* Done well ahead of time (a skip, say): the occurrence after this one's due
             * date, so the task never stays where it is or moves back. */
            rc = td_rrule_after_completion(&s, due, &n);
            if (rc)
                return rc;
        }
        /* An excluded date: the step after it (each excluded date is passed once). */
        for (int i = 0; i <= TD_RRULE_EXDATES_MAX && is_excluded(&s, n); i++) {
            rc = td_rrule_after_completion(&s, n, &n);
            if (rc)
                return rc;
        }
        *next = n;
        return 0;
    }
    return td_rrule_next(&s, at > due ? at : due, next);
}

int td_series_upcoming(const struct td_series_occ *o, long long at, long long *out, int n)
{
    if (!out || n < 0)
        return -EINVAL;
    if (n == 0)
        return 0;
    long long first;
    int rc = td_series_next(o, at, &first);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    out[0] = first;
    if (o->anchor == TD_SERIES_SCHEDULE) {
        struct td_rrule_series s;
        struct exclusions ex;
        if (rule_of(o, &s, &ex))
            return -EINVAL;
        rc = td_rrule_upcoming(&s, first, out + 1, n - 1);
        return rc < 0 ? rc : rc + 1;
    }
    int got = 1;
    struct td_series_occ cur = *o;
    while (got < n) {
        cur.due = out[got - 1];
        cur.has_due = 1;
        cur.index = o->index + got;
        rc = td_series_next(&cur, cur.due, &out[got]);
        if (rc == -ENOENT)
            break;
        if (rc)
            return rc;
        got++;
    }
    return got;
}

static int time_member(json_t *obj, const char *key, long long *out, int *present)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *present = 0;
        return 0;
    }
    int date_only;
    if (!json_is_string(v) || td_datetime_parse_rfc3339(json_string_value(v), out, &date_only))
        return -EINVAL;
    *present = 1;
    return 0;
}

int td_series_from_task_data(json_t *td, struct td_series_occ *o, long long *completed_at)
{
    if (!json_is_object(td) || !o)
        return -EINVAL;
    json_t *rule = json_object_get(td, "recurrence");
    if (!rule || json_is_null(rule))
        return -ENOENT;
    json_t *zone = json_object_get(td, "time_zone"), *series = json_object_get(td, "series");
    if (!json_is_string(rule) || !json_is_string(zone) || !json_is_object(series))
        return -EINVAL;
    *o = (struct td_series_occ){.rrule = json_string_value(rule), .zone = json_string_value(zone)};
    int has_start, has_done = 0;
    long long done = 0;
    if (time_member(series, "start", &o->start, &has_start) || !has_start ||
        time_member(td, "due_date", &o->due, &o->has_due) ||
        time_member(td, "completed_at", &done, &has_done))
        return -EINVAL;
    json_t *anchor = json_object_get(series, "anchor");
    if (anchor && !json_is_string(anchor))
        return -EINVAL;
    if (td_series_anchor_parse(anchor ? json_string_value(anchor) : NULL, &o->anchor))
        return -EINVAL;
    json_t *index = json_object_get(series, "index");
    if (index && (!json_is_integer(index) || json_integer_value(index) < 0 ||
                  json_integer_value(index) > 1000000000))
        return -EINVAL;
    o->index = index ? (int)json_integer_value(index) : 0;
    json_t *ex = json_object_get(td, "recurrence_exdates");
    if (ex && !json_is_null(ex)) {
        if (!json_is_array(ex))
            return -EINVAL;
        o->exdates = json_array_size(ex) ? ex : NULL;
    }
    if (completed_at) {
        if (!has_done)
            return -EINVAL;
        *completed_at = done;
    }
    return 0;
}

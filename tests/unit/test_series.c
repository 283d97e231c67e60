/* core/series.c: the next occurrence of a recurring task on completion or skip, with
 * both anchors, exhaustion, previews, and reading a series from an event's task_data. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/datetime.h"
#include "core/series.h"

static long long at(const char *s)
{
    long long t;
    int d;
    cr_assert_eq(td_datetime_parse_rfc3339(s, &t, &d), 0, "%s", s);
    return t;
}

static void expect_time(long long got, const char *want)
{
    char buf[32];
    td_datetime_format_utc(got, buf, sizeof buf);
    cr_expect_str_eq(buf, want);
}

TestSuite(series);

/* Daily at 09:00 New York (14:00Z in winter), first due 2026-01-05. */
static struct td_series_occ daily(void)
{
    return (struct td_series_occ){.rrule = "FREQ=DAILY", .zone = "America/New_York",
                                  .start = at("2026-01-05T14:00:00Z"),
                                  .due = at("2026-01-05T14:00:00Z"), .has_due = 1};
}

Test(series, schedule_completed_on_time_is_the_next_day_same_local_time)
{
    struct td_series_occ o = daily();
    long long n;
    cr_assert_eq(td_series_next(&o, at("2026-01-05T15:00:00Z"), &n), 0);
    expect_time(n, "2026-01-06T14:00:00Z");
}

Test(series, schedule_skips_occurrences_already_past)
{
    struct td_series_occ o = daily();
    long long n;
    /* done three days late, after that day's 09:00 */
    cr_assert_eq(td_series_next(&o, at("2026-01-08T16:00:00Z"), &n), 0);
    expect_time(n, "2026-01-09T14:00:00Z");
    /* done early: the occurrence after the due one, not the due one again */
    cr_assert_eq(td_series_next(&o, at("2026-01-04T10:00:00Z"), &n), 0);
    expect_time(n, "2026-01-06T14:00:00Z");
}

Test(series, local_time_holds_across_dst)
{
    struct td_series_occ o = daily();
    o.due = at("2026-03-07T14:00:00Z");   /* Saturday before the spring change */
    long long n;
    cr_assert_eq(td_series_next(&o, o.due, &n), 0);
    expect_time(n, "2026-03-08T13:00:00Z");   /* 09:00 EDT */
}

Test(series, completion_anchor_counts_from_the_completion_date)
{
    struct td_series_occ o = daily();
    o.rrule = "FREQ=WEEKLY;INTERVAL=2";
    o.anchor = TD_SERIES_COMPLETION;
    long long n;
    /* completed Thursday 2026-01-08 local: two weeks later, at 09:00 */
    cr_assert_eq(td_series_next(&o, at("2026-01-08T20:00:00Z"), &n), 0);
    expect_time(n, "2026-01-22T14:00:00Z");
    /* completed long before its due: never before the due date, never the same */
    cr_assert_eq(td_series_next(&o, at("2025-12-01T20:00:00Z"), &n), 0);
    cr_expect(n > o.due);
}

Test(series, count_and_until_end_the_series)
{
    struct td_series_occ o = daily();
    o.rrule = "FREQ=DAILY;COUNT=2";
    long long n;
    cr_assert_eq(td_series_next(&o, o.due, &n), 0);
    expect_time(n, "2026-01-06T14:00:00Z");
    o.due = n;
    cr_expect_eq(td_series_next(&o, o.due, &n), -ENOENT, "COUNT=2: no third");
    o = daily();
    o.rrule = "FREQ=DAILY;UNTIL=20260106T235959Z";
    o.due = at("2026-01-06T14:00:00Z");
    cr_expect_eq(td_series_next(&o, o.due, &n), -ENOENT);
}

Test(series, count_ends_a_completion_anchored_series_after_its_last_occurrence)
{
    struct td_series_occ o = daily();
    o.rrule = "FREQ=DAILY;COUNT=3";
    o.anchor = TD_SERIES_COMPLETION;
    long long n, done = at("2026-03-01T20:00:00Z");   /* completed weeks late */
    cr_assert_eq(td_series_next(&o, done, &n), 0, "the first of 3: a second follows");
    o.index = 1;
    cr_assert_eq(td_series_next(&o, done, &n), 0, "the second of 3: a third follows");
    o.index = 2;
    cr_expect_eq(td_series_next(&o, done, &n), -ENOENT, "the third of 3 is the last");
    o.index = 7;
    cr_expect_eq(td_series_next(&o, done, &n), -ENOENT);
    /* the schedule anchor ends by index too, even when an instant would be left */
    o.anchor = TD_SERIES_SCHEDULE;
    o.index = 2;
    cr_expect_eq(td_series_next(&o, o.due, &n), -ENOENT);
    o.index = -1;
    cr_expect_eq(td_series_next(&o, o.due, &n), -EINVAL);
    /* the preview stops there as well */
    long long out[5];
    o.anchor = TD_SERIES_COMPLETION;
    o.index = 0;
    cr_expect_eq(td_series_upcoming(&o, done, out, 5), 2, "occurrences 2 and 3 of 3");
    o.index = 1;
    cr_expect_eq(td_series_upcoming(&o, done, out, 5), 1);
}

Test(series, no_due_date_counts_from_the_start)
{
    struct td_series_occ o = daily();
    o.has_due = 0;
    long long n;
    cr_assert_eq(td_series_next(&o, at("2026-01-05T10:00:00Z"), &n), 0);
    expect_time(n, "2026-01-06T14:00:00Z");
}

Test(series, upcoming_lists_what_next_would_give_in_order)
{
    struct td_series_occ o = daily();
    long long out[5], first;
    cr_assert_eq(td_series_upcoming(&o, o.due, out, 5), 5);
    cr_assert_eq(td_series_next(&o, o.due, &first), 0);
    cr_expect_eq(out[0], first);
    expect_time(out[4], "2026-01-10T14:00:00Z");
    o.rrule = "FREQ=DAILY;COUNT=3";
    cr_expect_eq(td_series_upcoming(&o, o.due, out, 5), 2, "instances 2 and 3 of 3");
    o.rrule = "FREQ=MONTHLY";
    o.anchor = TD_SERIES_COMPLETION;
    cr_assert_eq(td_series_upcoming(&o, o.due, out, 3), 3);
    expect_time(out[2], "2026-04-05T13:00:00Z");
    cr_expect_eq(td_series_upcoming(&o, o.due, out, 0), 0);
}

Test(series, bad_rules_and_anchors_are_refused)
{
    struct td_series_occ o = daily();
    o.rrule = "FREQ=SOMETIMES";
    long long n;
    cr_expect_eq(td_series_next(&o, o.due, &n), -EINVAL);
    enum td_series_anchor a;
    cr_expect_eq(td_series_anchor_parse("completion", &a), 0);
    cr_expect_eq(a, TD_SERIES_COMPLETION);
    cr_expect_eq(td_series_anchor_parse(NULL, &a), 0);
    cr_expect_eq(a, TD_SERIES_SCHEDULE);
    cr_expect_eq(td_series_anchor_parse("whenever", &a), -EINVAL);
}

Test(series, reads_task_data)
{
    json_t *td = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "recurrence", "FREQ=DAILY",
                           "time_zone", "Europe/Paris", "due_date", "2026-01-05T08:00:00Z",
                           "completed_at", "2026-01-05T09:30:00Z", "series", "start",
                           "2026-01-01T08:00:00Z", "anchor", "completion");
    struct td_series_occ o;
    long long done;
    cr_assert_eq(td_series_from_task_data(td, &o, &done), 0);
    cr_expect_str_eq(o.rrule, "FREQ=DAILY");
    cr_expect_str_eq(o.zone, "Europe/Paris");
    cr_expect_eq(o.start, at("2026-01-01T08:00:00Z"));
    cr_expect_eq(o.due, at("2026-01-05T08:00:00Z"));
    cr_expect_eq(done, at("2026-01-05T09:30:00Z"));
    cr_expect_eq(o.anchor, TD_SERIES_COMPLETION);
    cr_expect_eq(o.index, 0, "no index: the first task");
    json_object_set_new(json_object_get(td, "series"), "index", json_integer(4));
    cr_assert_eq(td_series_from_task_data(td, &o, &done), 0);
    cr_expect_eq(o.index, 4);
    json_object_set_new(json_object_get(td, "series"), "index", json_string("4"));
    cr_expect_eq(td_series_from_task_data(td, &o, &done), -EINVAL);
    json_object_set_new(json_object_get(td, "series"), "index", json_integer(-1));
    cr_expect_eq(td_series_from_task_data(td, &o, &done), -EINVAL);
    json_object_del(json_object_get(td, "series"), "index");
    json_object_set_new(td, "recurrence", json_null());
    cr_expect_eq(td_series_from_task_data(td, &o, &done), -ENOENT);
    json_object_set_new(td, "recurrence", json_string("FREQ=DAILY"));
    json_object_set_new(td, "completed_at", json_string("yesterday"));
    cr_expect_eq(td_series_from_task_data(td, &o, &done), -EINVAL);
    json_object_del(td, "series");
    cr_expect_eq(td_series_from_task_data(td, &o, NULL), -EINVAL);
    json_decref(td);
}

/* recurrence_exdates: a local date takes out every instance that day, a local date-time
 * (in the task's zone, a spring-forward time placed as instances are) that instance; the
 * completion anchor steps over an excluded date; previews pass over them too. */
Test(series, excluded_dates_are_passed_over)
{
    struct td_series_occ o = daily();   /* 09:00 New York */
    o.exdates = json_pack("[s, s]", "2026-01-06", "2026-01-08T09:00:00");
    long long n, out[4];
    cr_assert_eq(td_series_next(&o, at("2026-01-05T15:00:00Z"), &n), 0);
    expect_time(n, "2026-01-07T14:00:00Z");
    cr_assert_eq(td_series_upcoming(&o, at("2026-01-05T15:00:00Z"), out, 4), 4);
    expect_time(out[0], "2026-01-07T14:00:00Z");
    expect_time(out[1], "2026-01-09T14:00:00Z");
    expect_time(out[2], "2026-01-10T14:00:00Z");
    expect_time(out[3], "2026-01-11T14:00:00Z");
    /* the same with the completion anchor */
    o.anchor = TD_SERIES_COMPLETION;
    cr_assert_eq(td_series_next(&o, at("2026-01-05T15:00:00Z"), &n), 0);
    expect_time(n, "2026-01-07T14:00:00Z");
    cr_assert_eq(td_series_upcoming(&o, at("2026-01-05T15:00:00Z"), out, 2), 2);
    expect_time(out[1], "2026-01-09T14:00:00Z");
    /* an excluded instance uses up COUNT: COUNT=3 from Jan 5 is Jan 5, (6), 7 */
    o.anchor = TD_SERIES_SCHEDULE;
    o.rrule = "FREQ=DAILY;COUNT=3";
    cr_assert_eq(td_series_next(&o, at("2026-01-05T15:00:00Z"), &n), 0);
    expect_time(n, "2026-01-07T14:00:00Z");
    o.due = n, o.index = 1;
    cr_expect_eq(td_series_next(&o, n, &n), -ENOENT);
    /* an instance in the spring-forward gap: 02:30 on Mar 8 is 03:30 EDT (07:30Z) */
    json_decref(o.exdates);
    o = daily();
    o.start = o.due = at("2026-03-07T07:30:00Z");   /* 02:30 EST */
    o.exdates = json_pack("[s]", "2026-03-08T02:30:00");
    cr_assert_eq(td_series_next(&o, o.due, &n), 0);
    expect_time(n, "2026-03-09T06:30:00Z");
    /* a malformed one (an instant with an offset is not a local time) */
    json_decref(o.exdates);
    o.exdates = json_pack("[s]", "2026-03-08T02:30:00Z");
    cr_expect_eq(td_series_next(&o, o.due, &n), -EINVAL);
    json_decref(o.exdates);
}

Test(series, exdate_check_normalises)
{
    char out[32];
    cr_assert_eq(td_series_exdate_check("2027-01-15", out, sizeof out), 0);
    cr_expect_str_eq(out, "2027-01-15");
    cr_assert_eq(td_series_exdate_check("2027-01-15T09:00", out, sizeof out), 0);
    cr_expect_str_eq(out, "2027-01-15T09:00:00");
    cr_expect_eq(td_series_exdate_check("2027-01-15T09:00:00+01:00", out, sizeof out), -EINVAL);
    cr_expect_eq(td_series_exdate_check("2027-02-29", out, sizeof out), -EINVAL);
    cr_expect_eq(td_series_exdate_check("soon", out, sizeof out), -EINVAL);
    cr_expect_eq(td_series_exdate_check("2027-01-15", out, 8), -EINVAL);
}

Test(series, reads_exdates_from_task_data)
{
    json_t *td = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:[s]}", "recurrence", "FREQ=DAILY",
                           "time_zone", "Europe/Paris", "due_date", "2026-01-05T08:00:00Z",
                           "completed_at", "2026-01-05T09:30:00Z", "series", "start",
                           "2026-01-01T08:00:00Z", "recurrence_exdates", "2026-01-06");
    struct td_series_occ o;
    long long done, n;
    cr_assert_eq(td_series_from_task_data(td, &o, &done), 0);
    cr_assert(json_is_array(o.exdates));
    cr_assert_eq(td_series_next(&o, done, &n), 0);
    expect_time(n, "2026-01-07T08:00:00Z");
    json_object_set_new(td, "recurrence_exdates", json_string("2026-01-06"));
    cr_expect_eq(td_series_from_task_data(td, &o, &done), -EINVAL);
    json_object_set_new(td, "recurrence_exdates", json_null());
    cr_assert_eq(td_series_from_task_data(td, &o, &done), 0);
    cr_expect_null(o.exdates);
    json_decref(td);
}

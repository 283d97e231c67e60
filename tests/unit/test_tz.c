/* core/tz.c: which zone names are valid, and wall clock <-> UTC in real zones. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/tz.h"

TestSuite(tz);

Test(tz, valid_names_and_aliases)
{
    static const char *const good[] = {
        "Europe/Paris", "America/Argentina/Buenos_Aires", "UTC", "Etc/UTC", "Etc/GMT+5",
        "US/Eastern", "GMT", "Asia/Kolkata", "Pacific/Chatham",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(td_tz_valid(good[i]), 1, "%s", good[i]);
}

Test(tz, unknown_and_unsafe_names_are_refused)
{
    static const struct { const char *name, *why; } poor[] = {
        {"Mars/Base", "unknown"},
        {"europe/paris", "names are case-sensitive"},
        {"../../etc/passwd", "climbs out"},
        {"/etc/passwd", "absolute"},
        {"Europe/../Europe/Paris", "dot-dot"},
        {"Europe//Paris", "empty component"},
        {"zone.tab", "not a TZif file"},
        {"leapseconds", "a text file, not TZif"},
        {"localtime", "the host's zone, not a name"},
        {"Europe", "a directory"},
        {"Europe/", "trailing slash"},
        {"right/Europe/Paris", "leap-second variant"},
        {"posix/Europe/Paris", "build variant"},
        {"Europe/Paris ", "trailing space"},
        {"", "empty"},
        {"-Europe", "leading dash"},
    };
    for (size_t i = 0; i < sizeof poor / sizeof poor[0]; i++)
        cr_expect_eq(td_tz_valid(poor[i].name), 0, "%s: %s", poor[i].name, poor[i].why);
    char long_name[TD_TZ_NAME_MAX + 2];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_expect_eq(td_tz_valid(long_name), 0, "longer than any IANA name");
    cr_expect_eq(td_tz_valid(NULL), 0);
}

static long long to_utc(const char *zone, int y, int mo, int d, int h, int mi)
{
    struct td_datetime_civil c = {y, mo, d, h, mi, 0};
    long long t = 0;
    cr_assert_eq(td_tz_local_to_utc(zone, &c, &t), 0, "%s %04d-%02d-%02d %02d:%02d", zone, y,
                 mo, d, h, mi);
    return t;
}

static void assert_utc(long long t, const char *want)
{
    char buf[32];
    cr_assert_eq(td_datetime_format_utc(t, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, want);
}

Test(tz, local_to_utc_follows_the_zone_rules)
{
    assert_utc(to_utc("America/New_York", 2026, 1, 15, 0, 0), "2026-01-15T05:00:00Z");
    assert_utc(to_utc("America/New_York", 2026, 7, 15, 0, 0), "2026-07-15T04:00:00Z");
    assert_utc(to_utc("US/Eastern", 2026, 7, 15, 0, 0), "2026-07-15T04:00:00Z");
    assert_utc(to_utc("Europe/Paris", 2026, 7, 1, 0, 0), "2026-06-30T22:00:00Z");
    assert_utc(to_utc("Asia/Kolkata", 2026, 3, 1, 9, 30), "2026-03-01T04:00:00Z");
    assert_utc(to_utc("Pacific/Chatham", 2026, 1, 1, 0, 0), "2025-12-31T10:15:00Z");
    assert_utc(to_utc("UTC", 2026, 7, 1, 0, 0), "2026-07-01T00:00:00Z");
    assert_utc(to_utc("Etc/GMT+5", 2026, 7, 1, 0, 0), "2026-07-01T05:00:00Z");
}

Test(tz, utc_to_local_follows_the_zone_rules)
{
    struct td_datetime_civil c;
    /* New York springs forward at 07:00Z on 2026-03-08: 01:59:59 EST, then 03:00 EDT. */
    cr_assert_eq(td_tz_utc_to_local("America/New_York", 1772953199, &c), 0);
    cr_expect(c.day == 8 && c.hour == 1 && c.minute == 59 && c.second == 59, "%02d:%02d:%02d",
              c.hour, c.minute, c.second);
    cr_assert_eq(td_tz_utc_to_local("America/New_York", 1772953200, &c), 0);
    cr_expect(c.day == 8 && c.hour == 3 && c.minute == 0, "%02d:%02d", c.hour, c.minute);
    cr_assert_eq(td_tz_utc_to_local("Asia/Kolkata", 0, &c), 0);
    cr_expect(c.year == 1970 && c.hour == 5 && c.minute == 30);
}

Test(tz, round_trips_outside_dst_changes)
{
    static const char *const zones[] = {"Europe/Berlin", "America/Los_Angeles",
                                        "Australia/Sydney", "Asia/Kathmandu", "UTC"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        for (long long t = 1735689600; t < 1767225600; t += 86400 * 7 + 3600) { /* 2025 */
            struct td_datetime_civil c;
            long long back;
            cr_assert_eq(td_tz_utc_to_local(zones[z], t, &c), 0);
            if (c.hour >= 1 && c.hour <= 3)
                continue; /* skipped or repeated hours have no single answer */
            cr_assert_eq(td_tz_local_to_utc(zones[z], &c, &back), 0);
            cr_assert_eq(back, t, "%s at %lld", zones[z], t);
        }
    }
}

Test(tz, conversion_errors)
{
    struct td_datetime_civil c = {2026, 1, 15, 0, 0, 0}, bad_day = {2026, 2, 30, 0, 0, 0};
    long long t;
    cr_expect_eq(td_tz_local_to_utc("Mars/Base", &c, &t), -ENOENT);
    cr_expect_eq(td_tz_local_to_utc("../../etc/passwd", &c, &t), -ENOENT);
    cr_expect_eq(td_tz_utc_to_local("Mars/Base", 0, &c), -ENOENT);
    cr_expect_eq(td_tz_local_to_utc("Europe/Paris", &bad_day, &t), -EINVAL);
    cr_expect_eq(td_tz_local_to_utc(NULL, &c, &t), -EINVAL);
    cr_expect_eq(td_tz_local_to_utc("UTC", NULL, &t), -EINVAL);
    cr_expect_eq(td_tz_utc_to_local("UTC", 0, NULL), -EINVAL);
    /* Midnight of the first day in a zone east of UTC is still year 0000 in UTC. */
    struct td_datetime_civil first = {1, 1, 1, 0, 0, 0}, last = {9999, 12, 31, 23, 0, 0};
    cr_expect_eq(td_tz_local_to_utc("Asia/Tokyo", &first, &t), -ERANGE);
    cr_expect_eq(td_tz_local_to_utc("America/New_York", &last, &t), -ERANGE);
    cr_expect_eq(td_tz_utc_to_local("America/New_York", TD_DATETIME_MIN, &c), -ERANGE);
    cr_expect_eq(td_tz_utc_to_local("UTC", TD_DATETIME_MAX + 1, &c), -ERANGE);
}

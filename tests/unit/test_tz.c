/* core/tz.c: which zone names are valid, that lookups use the set read once instead of
 * the disk, and wall clock <-> UTC in real zones. Criterion runs each test in its own
 * process, so a test that loads a test directory leaves the others the system set. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---------- the cached set ---------- */

Test(tz, init_reads_the_system_tzdata)
{
    cr_assert_eq(td_tz_init(), 0);
    cr_expect_eq(td_tz_init(), 0, "a second call is a no-op");
    cr_expect_eq(td_tz_valid("Europe/Paris"), 1);
    cr_expect_eq(td_tz_valid("Mars/Base"), 0);
}

static char tmpdir[64];

static void put_file(const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    for (char *p = strchr(path + strlen(tmpdir) + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(content, f);
    fclose(f);
}

/* A small tzdata tree: two zones, an alias, and things that are not zones. */
static void make_tzdata(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/td-tz-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    put_file("Test/Zone", "TZif2 fake zone");
    put_file("Test/Deep/Zone", "TZif2 another");
    put_file("Test/notes", "not a zone");
    put_file("zone.tab", "# text");
    put_file("posix/Test/Zone", "TZif2 variant");
    put_file("Bad Name", "TZif2 a space is not an IANA character");
    char target[256], link[256];
    snprintf(target, sizeof target, "Test/Zone");
    snprintf(link, sizeof link, "%s/Alias", tmpdir);
    cr_assert_eq(symlink(target, link), 0);
    snprintf(link, sizeof link, "%s/Dangling", tmpdir);
    cr_assert_eq(symlink("Test/Missing", link), 0);
}

static void remove_tzdata(void)
{
    static const char *const entries[] = {
        "Test/Deep/Zone", "Test/Deep", "Test/Zone", "Test/notes", "Test", "zone.tab",
        "posix/Test/Zone", "posix/Test", "posix", "Bad Name", "Alias", "Dangling", "",
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", tmpdir, entries[i]);
        cr_assert_eq(remove(path), 0, "%s", path);
    }
}

Test(tz, lookups_use_the_loaded_set_not_the_disk)
{
    make_tzdata();
    cr_assert_eq(td_tz_load(tmpdir), 0);
    /* Gone from the disk: a lookup that opened files would now refuse everything. */
    remove_tzdata();
    cr_expect_eq(td_tz_valid("Test/Zone"), 1);
    cr_expect_eq(td_tz_valid("Test/Deep/Zone"), 1);
    cr_expect_eq(td_tz_valid("Alias"), 1, "a link is an alias");
    cr_expect_eq(td_tz_valid("Test/notes"), 0, "not TZif");
    cr_expect_eq(td_tz_valid("zone.tab"), 0);
    cr_expect_eq(td_tz_valid("Dangling"), 0);
    cr_expect_eq(td_tz_valid("Test"), 0, "a directory");
    cr_expect_eq(td_tz_valid("posix/Test/Zone"), 0);
    cr_expect_eq(td_tz_valid("Bad Name"), 0);
    /* Real zones are not in this set: a lookup that read the system tzdata would say 1. */
    cr_expect_eq(td_tz_valid("Europe/Paris"), 0);
    cr_expect_eq(td_tz_valid("UTC"), 0);
    cr_expect_eq(td_tz_init(), 0, "init keeps a set that is already loaded");
    cr_expect_eq(td_tz_valid("Test/Zone"), 1);
}

Test(tz, lookups_open_no_file_after_init)
{
    cr_assert_eq(td_tz_init(), 0);
    /* Fill every descriptor the process may have: any open() now fails with EMFILE. */
    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[256], n = 0, fd;
    while (n < 256 && (fd = open("/dev/null", O_RDONLY)) >= 0)
        fds[n++] = fd;
    int probe = open("/dev/null", O_RDONLY);
    int paris = td_tz_valid("Europe/Paris"), eastern = td_tz_valid("US/Eastern");
    int etc = td_tz_valid("Etc/UTC"), mars = td_tz_valid("Mars/Base");
    while (n > 0)
        close(fds[--n]);
    setrlimit(RLIMIT_NOFILE, &old);
    cr_assert_lt(probe, 0, "the descriptor table was not full");
    cr_expect_eq(paris, 1);
    cr_expect_eq(eastern, 1);
    cr_expect_eq(etc, 1);
    cr_expect_eq(mars, 0);
}

Test(tz, a_failed_load_keeps_the_previous_set)
{
    cr_assert_eq(td_tz_init(), 0);
    cr_expect_eq(td_tz_load("/nonexistent-todod-tzdata"), -ENOENT);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/td-tz-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_expect_eq(td_tz_load(tmpdir), -ENOENT, "a directory without zones");
    rmdir(tmpdir);
    cr_expect_eq(td_tz_load("/etc/hostname"), -ENOTDIR);
    cr_expect_eq(td_tz_load(NULL), -EINVAL);
    cr_expect_eq(td_tz_valid("Europe/Paris"), 1);
}

/* ---------- wall clock and UTC ---------- */

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

/* RFC 5545 3.3.5: a local time a spring-forward skips is read with the offset in force
 * before the gap; a local time a fall-back repeats is its first occurrence. */
Test(tz, local_to_utc_resolves_dst_gaps_and_overlaps_as_rfc5545_says)
{
    /* New York, 2026-03-08: 02:00 EST becomes 03:00 EDT. 02:30 is 03:30 EDT. */
    assert_utc(to_utc("America/New_York", 2026, 3, 8, 2, 30), "2026-03-08T07:30:00Z");
    assert_utc(to_utc("America/New_York", 2026, 3, 8, 2, 0), "2026-03-08T07:00:00Z");
    assert_utc(to_utc("America/New_York", 2026, 3, 8, 1, 59), "2026-03-08T06:59:00Z");
    assert_utc(to_utc("America/New_York", 2026, 3, 8, 3, 0), "2026-03-08T07:00:00Z");
    /* New York, 2026-11-01: 02:00 EDT becomes 01:00 EST. 01:30 is first 01:30 EDT. */
    assert_utc(to_utc("America/New_York", 2026, 11, 1, 1, 30), "2026-11-01T05:30:00Z");
    assert_utc(to_utc("America/New_York", 2026, 11, 1, 1, 0), "2026-11-01T05:00:00Z");
    assert_utc(to_utc("America/New_York", 2026, 11, 1, 0, 59), "2026-11-01T04:59:00Z");
    assert_utc(to_utc("America/New_York", 2026, 11, 1, 2, 0), "2026-11-01T07:00:00Z");
    /* Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST; 2026-10-25: 03:00 CEST → 02:00 CET. */
    assert_utc(to_utc("Europe/Paris", 2026, 3, 29, 2, 30), "2026-03-29T01:30:00Z");
    assert_utc(to_utc("Europe/Paris", 2026, 10, 25, 2, 30), "2026-10-25T00:30:00Z");
    assert_utc(to_utc("Europe/Paris", 2026, 10, 25, 3, 0), "2026-10-25T02:00:00Z");
    /* Southern hemisphere, Sydney: 2026-10-04 02:00 AEST → 03:00 AEDT; 2026-04-05 03:00
     * AEDT → 02:00 AEST. */
    assert_utc(to_utc("Australia/Sydney", 2026, 10, 4, 2, 30), "2026-10-03T16:30:00Z");
    assert_utc(to_utc("Australia/Sydney", 2026, 4, 5, 2, 30), "2026-04-04T15:30:00Z");
    /* Lord Howe shifts by 30 minutes: 2026-10-04 02:00 → 02:30 (+10:30 → +11). */
    assert_utc(to_utc("Australia/Lord_Howe", 2026, 10, 4, 2, 15), "2026-10-03T15:45:00Z");
    /* A whole skipped day: Samoa went from 2011-12-29 to 2011-12-31 (-10 → +14). */
    assert_utc(to_utc("Pacific/Apia", 2011, 12, 30, 12, 0), "2011-12-30T22:00:00Z");
}

/* Every wall-clock time the zone shows converts back to the first instant that shows it:
 * round trips everywhere except in repeated hours, where the earlier instant wins. */
Test(tz, local_to_utc_is_the_first_instant_showing_that_wall_time)
{
    static const char *const zones[] = {"America/New_York", "Europe/London", "Australia/Sydney",
                                        "Australia/Lord_Howe", "America/Santiago", "Asia/Tehran"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        int repeated = 0;
        for (long long t = 1767225600; t < 1798761600; t += 900) { /* 2026, every 15 min */
            struct td_datetime_civil c, again;
            long long back;
            cr_assert_eq(td_tz_utc_to_local(zones[z], t, &c), 0);
            cr_assert_eq(td_tz_local_to_utc(zones[z], &c, &back), 0);
            cr_assert_leq(back, t, "%s at %lld gave a later %lld", zones[z], t, back);
            cr_assert_eq(td_tz_utc_to_local(zones[z], back, &again), 0);
            cr_assert(again.day == c.day && again.hour == c.hour && again.minute == c.minute,
                      "%s at %lld: %lld shows another time", zones[z], t, back);
            repeated += back != t;
        }
        /* Tehran has had no DST since 2022: nothing repeats there. */
        if (strcmp(zones[z], "Asia/Tehran"))
            cr_expect_gt(repeated, 0, "%s: no repeated time seen in 2026", zones[z]);
        else
            cr_expect_eq(repeated, 0);
    }
}

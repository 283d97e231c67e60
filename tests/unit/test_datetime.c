/* core/datetime.c: RFC 3339 in and out, civil-date arithmetic, ISO 8601 durations and the
 * configuration's millisecond durations. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/datetime.h"

TestSuite(datetime);

/* ---------- RFC 3339 ---------- */

Test(datetime, parse_rfc3339_values)
{
    long long t;
    int date_only = -1;
    cr_assert_eq(td_datetime_parse_rfc3339("1970-01-01T00:00:00Z", &t, &date_only), 0);
    cr_expect_eq(t, 0);
    cr_expect_eq(date_only, 0);
    cr_assert_eq(td_datetime_parse_rfc3339("2024-02-29", &t, &date_only), 0);
    cr_expect_eq(t, 1709164800);
    cr_expect_eq(date_only, 1);
    cr_expect_eq(td_datetime_parse_rfc3339("2023-02-29", &t, &date_only), -EINVAL);
    cr_expect_eq(td_datetime_parse_rfc3339("2100-02-29", &t, &date_only), -EINVAL);
    cr_expect_eq(td_datetime_parse_rfc3339("2000-02-29", &t, &date_only), 0, "400-year leap");
    cr_assert_eq(td_datetime_parse_rfc3339("1969-12-31 23:00:00-01:00", &t, NULL), 0);
    cr_expect_eq(t, 0);
    cr_assert_eq(td_datetime_parse_rfc3339("2026-03-01t10:00:00z", &t, NULL), 0);
    cr_expect_eq(t, 1772359200);
    cr_assert_eq(td_datetime_parse_rfc3339("2026-12-31T22:30:00.987654-05:30", &t, NULL), 0);
    cr_expect_eq(t, 1798776000, "fraction dropped, offset applied across the year");
    cr_assert_eq(td_datetime_parse_rfc3339("1960-06-15T12:00:00Z", &t, NULL), 0);
    cr_expect_eq(t, -301233600, "before the epoch");
    cr_expect_eq(td_datetime_parse_rfc3339(NULL, &t, NULL), -EINVAL);
    cr_expect_eq(td_datetime_parse_rfc3339("2026-01-01", NULL, NULL), -EINVAL);
}

Test(datetime, parse_rfc3339_refuses_bad_syntax)
{
    static const char *const cases[] = {
        "2026-02-30", "2026-13-01", "2026-00-10", "2026-03-01T25:00:00Z", "2026-03-01T10:00:00",
        "2026-03-01T10:00Z", "tomorrow", "", "2026-3-1", "2026-03-01T10:00:00+2:00",
        "2026-03-01T10:00:00.Z", "2026-03-01T10:00:60Z", "2026-03-01T10:00:00Z ",
        "2026-03-01X10:00:00Z", "2026-03-01T10:00:00+24:00", "2026-03-01T10:00:00+02:60",
        "+2026-03-01", "2026-03-01T", "2026-03-01T10:00:00+0200",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long t;
        cr_expect_eq(td_datetime_parse_rfc3339(cases[i], &t, NULL), -EINVAL, "%s", cases[i]);
    }
}

Test(datetime, parse_rfc3339_range_is_four_digit_years)
{
    long long t;
    cr_assert_eq(td_datetime_parse_rfc3339("0001-01-01T00:00:00Z", &t, NULL), 0);
    cr_expect_eq(t, TD_DATETIME_MIN);
    cr_assert_eq(td_datetime_parse_rfc3339("9999-12-31T23:59:59Z", &t, NULL), 0);
    cr_expect_eq(t, TD_DATETIME_MAX);
    cr_expect_eq(td_datetime_parse_rfc3339("0000-12-31T00:00:00Z", &t, NULL), -ERANGE);
    cr_expect_eq(td_datetime_parse_rfc3339("0001-01-01T00:00:00+00:01", &t, NULL), -ERANGE);
    cr_expect_eq(td_datetime_parse_rfc3339("9999-12-31T23:59:59-00:01", &t, NULL), -ERANGE);
}

/* ---------- form input: RFC 3339 without seconds, dates, local date-times ---------- */

static long long input_ok(const char *s, enum td_datetime_form want)
{
    long long t = 0;
    enum td_datetime_form f = (enum td_datetime_form)-1;
    cr_assert_eq(td_datetime_parse_input(s, &t, &f), 0, "%s refused", s);
    cr_expect_eq(f, want, "%s read as form %d", s, f);
    return t;
}

Test(datetime, parse_input_reads_what_forms_send)
{
    /* 2026-12-20T09:00:00Z is 1797757200. */
    cr_expect_eq(input_ok("2026-12-20T09:00:00Z", TD_DATETIME_INSTANT), 1797757200);
    cr_expect_eq(input_ok("2026-12-20T09:00Z", TD_DATETIME_INSTANT), 1797757200, "no seconds");
    cr_expect_eq(input_ok("2026-12-20T09:00+01:00", TD_DATETIME_INSTANT), 1797757200 - 3600);
    cr_expect_eq(input_ok("2026-12-20t09:00-05:30", TD_DATETIME_INSTANT), 1797757200 + 19800);
    cr_expect_eq(input_ok("2026-12-20T09:00:00.250+00:00", TD_DATETIME_INSTANT), 1797757200);
    /* HTML datetime-local: no offset, seconds and a fraction optional. */
    cr_expect_eq(input_ok("2026-12-20T09:00", TD_DATETIME_LOCAL), 1797757200);
    cr_expect_eq(input_ok("2026-12-20T09:00:00", TD_DATETIME_LOCAL), 1797757200);
    cr_expect_eq(input_ok("2026-12-20T09:00:59.999", TD_DATETIME_LOCAL), 1797757259);
    cr_expect_eq(input_ok("2026-12-20 09:00", TD_DATETIME_LOCAL), 1797757200);
    cr_expect_eq(input_ok("2026-12-20", TD_DATETIME_DATE), 1797724800);
    cr_expect_eq(input_ok("0001-01-01T00:00", TD_DATETIME_LOCAL), TD_DATETIME_MIN);
    cr_expect_eq(input_ok("9999-12-31T23:59:59", TD_DATETIME_LOCAL), TD_DATETIME_MAX);
    long long t;
    cr_expect_eq(td_datetime_parse_input("2026-12-20T09:00", &t, NULL), 0, "form may be NULL");
    cr_expect_eq(td_datetime_parse_input("0000-12-31T23:00", &t, NULL), -ERANGE);
    cr_expect_eq(td_datetime_parse_input("0001-01-01T00:00+00:01", &t, NULL), -ERANGE);
    cr_expect_eq(td_datetime_parse_input(NULL, &t, NULL), -EINVAL);
    cr_expect_eq(td_datetime_parse_input("2026-12-20", NULL, NULL), -EINVAL);
}

Test(datetime, parse_input_refuses_bad_syntax)
{
    static const char *const cases[] = {
        "2026-12-20T09", "2026-12-20T9:00", "2026-12-20T09:0", "2026-12-20T09:00:",
        "2026-12-20T09:00:0", "2026-12-20T09:00.5", "2026-12-20T09:00:00.",
        "2026-12-20T24:00", "2026-12-20T09:60", "2026-12-20T09:00:60", "2026-12-20T09:00 ",
        "2026-12-20T09:00+1:00", "2026-12-20T09:00+0100", "2026-12-20T09:00+01",
        "2026-12-20T09:00Z ", "2026-12-20T", "2026-02-30T09:00", "2026-12-20X09:00",
        "20261220T0900", "tomorrow", "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long t;
        cr_expect_eq(td_datetime_parse_input(cases[i], &t, NULL), -EINVAL, "%s", cases[i]);
    }
}

Test(datetime, parse_rfc3339_stays_strict)
{
    /* What only forms may send: RFC 3339 itself needs the seconds and an offset. */
    static const char *const cases[] = {"2026-12-20T09:00", "2026-12-20T09:00Z",
                                        "2026-12-20T09:00+01:00", "2026-12-20T09:00:00"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long t;
        cr_expect_eq(td_datetime_parse_rfc3339(cases[i], &t, NULL), -EINVAL, "%s", cases[i]);
    }
}

Test(datetime, format_utc)
{
    char buf[21];
    cr_assert_eq(td_datetime_format_utc(0, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "1970-01-01T00:00:00Z");
    cr_assert_eq(td_datetime_format_utc(-1, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "1969-12-31T23:59:59Z");
    cr_assert_eq(td_datetime_format_utc(TD_DATETIME_MIN, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "0001-01-01T00:00:00Z");
    cr_assert_eq(td_datetime_format_utc(TD_DATETIME_MAX, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "9999-12-31T23:59:59Z");
    cr_expect_eq(td_datetime_format_utc(TD_DATETIME_MAX + 1, buf, sizeof buf), -ERANGE);
    cr_expect_eq(td_datetime_format_utc(TD_DATETIME_MIN - 1, buf, sizeof buf), -ERANGE);
    cr_expect_eq(td_datetime_format_utc(0, buf, 20), -ENOSPC);
    cr_expect_eq(td_datetime_format_utc(0, NULL, 21), -EINVAL);
}

Test(datetime, format_parses_back)
{
    static const long long samples[] = {TD_DATETIME_MIN, -1, 0, 951782400 /* 2000-02-29 */,
                                        1709164800, 4107542399LL, TD_DATETIME_MAX};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[32];
        long long back;
        cr_assert_eq(td_datetime_format_utc(samples[i], buf, sizeof buf), 0);
        cr_assert_eq(td_datetime_parse_rfc3339(buf, &back, NULL), 0, "%s", buf);
        cr_expect_eq(back, samples[i], "%s", buf);
    }
}

/* ---------- civil fields ---------- */

Test(datetime, split_and_join)
{
    struct td_datetime_civil c;
    cr_assert_eq(td_datetime_split(1709251199, &c), 0); /* 2024-02-29T23:59:59Z */
    cr_expect_eq(c.year, 2024);
    cr_expect_eq(c.month, 2);
    cr_expect_eq(c.day, 29);
    cr_expect_eq(c.hour, 23);
    cr_expect_eq(c.minute, 59);
    cr_expect_eq(c.second, 59);
    long long t;
    cr_assert_eq(td_datetime_join(&c, &t), 0);
    cr_expect_eq(t, 1709251199);
    cr_assert_eq(td_datetime_split(-86400, &c), 0);
    cr_expect(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 0);
    cr_expect_eq(td_datetime_split(TD_DATETIME_MAX + 1, &c), -ERANGE);
    cr_expect_eq(td_datetime_split(0, NULL), -EINVAL);
}

Test(datetime, join_refuses_impossible_fields)
{
    static const struct td_datetime_civil bad[] = {
        {2026, 2, 29, 0, 0, 0}, {2026, 13, 1, 0, 0, 0}, {2026, 0, 1, 0, 0, 0},
        {2026, 4, 31, 0, 0, 0}, {2026, 1, 0, 0, 0, 0},  {2026, 1, 1, 24, 0, 0},
        {2026, 1, 1, 0, 60, 0}, {2026, 1, 1, 0, 0, 60}, {2026, 1, 1, -1, 0, 0},
    };
    long long t = 42;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(td_datetime_join(&bad[i], &t), -EINVAL, "case %zu", i);
    cr_expect_eq(t, 42, "untouched on failure");
    struct td_datetime_civil y0 = {0, 12, 31, 23, 59, 59}, y10k = {10000, 1, 1, 0, 0, 0};
    cr_expect_eq(td_datetime_join(&y0, &t), -ERANGE);
    cr_expect_eq(td_datetime_join(&y10k, &t), -ERANGE);
    cr_expect_eq(td_datetime_join(NULL, &t), -EINVAL);
}

Test(datetime, split_join_round_trip_across_years)
{
    /* Every 97 days and a few seconds from year 1 to 9999 hits each month, leap years,
     * century years and negative day numbers. */
    for (long long t = TD_DATETIME_MIN; t <= TD_DATETIME_MAX; t += 97LL * 86400 + 3601) {
        struct td_datetime_civil c;
        long long back;
        cr_assert_eq(td_datetime_split(t, &c), 0);
        cr_assert_eq(td_datetime_join(&c, &back), 0, "%lld", t);
        cr_assert_eq(back, t);
    }
}

/* ---------- ISO 8601 durations ---------- */

Test(datetime, iso_durations)
{
    static const struct { const char *in; long want; } good[] = {
        {"PT15M", 900}, {"P1D", 86400}, {"P1DT2H", 93600}, {"P2W", 1209600},
        {"PT1H30M", 5400}, {"PT45S", 45}, {"P1DT1M", 86460}, {"PT999999999S", 999999999},
    };
    static const char *const poor[] = {
        "P", "PT", "15M", "-PT5M", "+PT5M", "P1Y", "P1M", "P1W2D", "PT1.5H", "P1H",
        "PT5M1H", "PT1H1H", "pt15m", "P1DT", "", "P1234567890D", "PT15M ",
    };
    long s = -1;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_expect_eq(td_datetime_parse_duration(good[i].in, &s), 0, "%s", good[i].in);
        cr_expect_eq(s, good[i].want, "%s", good[i].in);
    }
    for (size_t i = 0; i < sizeof poor / sizeof poor[0]; i++)
        cr_expect_eq(td_datetime_parse_duration(poor[i], &s), -EINVAL, "%s", poor[i]);
    cr_expect_eq(td_datetime_parse_duration("P0D", &s), -ERANGE, "zero is not before the due");
    cr_expect_eq(td_datetime_parse_duration("PT0S", &s), -ERANGE);
    cr_expect_eq(td_datetime_parse_duration(NULL, &s), -EINVAL);
    cr_expect_eq(td_datetime_parse_duration("PT1M", NULL), -EINVAL);
}

/* ---------- configuration durations ---------- */

Test(datetime, parse_ms_units)
{
    static const struct { const char *in; int ms; } good[] = {
        {"500ms", 500}, {"10s", 10000}, {"2m", 120000}, {"250", 250}, {"1s", 1000},
        {"1.5s", 1500}, {"24m", 1440000}, {"1", 1}, {"1ms", 1}, {"1.9", 1},
        {"1440m", 86400000}, {"86400s", 86400000}, {"86400000", 86400000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int ms = -1;
        cr_expect_eq(td_datetime_parse_ms(good[i].in, &ms), 0, "%s", good[i].in);
        cr_expect_eq(ms, good[i].ms, "%s", good[i].in);
    }
}

Test(datetime, parse_ms_refuses_out_of_bounds_and_junk)
{
    static const char *const bad[] = {
        "", "0", "0ms", "0.5ms", "0.0009s", "-1s", "10h", "10 s", " 10s", "s", "ms", "ten",
        "10sec", "10S", "10MS", "25h", "1441m", "86401s", "86400001", ".5s", "1e999", "inf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ms = 7;
        cr_expect_eq(td_datetime_parse_ms(bad[i], &ms), -EINVAL, "%s", bad[i]);
        cr_expect_eq(ms, 7, "%s: untouched on failure", bad[i]);
    }
    int ms;
    cr_expect_eq(td_datetime_parse_ms(NULL, &ms), -EINVAL);
    cr_expect_eq(td_datetime_parse_ms("1s", NULL), -EINVAL);
}

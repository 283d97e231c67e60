/* Next-occurrence computations per second with core/rrule.h, over a mix of rules and zones
 * (daily, weekly, monthly on the 31st, BYSETPOS, yearly leap day, DST zones), each series
 * walked forward the way the recur role does it (the next instance after the previous
 * one), then mixed; and how long td_rrule_validate takes on the worst rules found (rules
 * without any occurrence, which libical alone searches for up to the year 20000).
 *
 *   build/bench/bench_rrule [seconds per rule, default 1]
 *
 * Built with the release build (meson: bench/meson.build), run by bench/run.sh; not a
 * test. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rrule.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct rule {
    const char *name, *rrule, *zone;
    long long dtstart;   /* unix s */
};

static const struct rule rules[] = {
    {"daily 09:00 New York", "FREQ=DAILY", "America/New_York", 1767276000},
    {"weekly MO,WE,FR Berlin", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "Europe/Berlin", 1767600000},
    {"monthly 31st Sydney", "FREQ=MONTHLY;BYMONTHDAY=31", "Australia/Sydney", 1769814000},
    {"last weekday (BYSETPOS=-1)", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
     "America/New_York", 1769781600},
    {"3rd Friday Lord Howe", "FREQ=MONTHLY;BYDAY=3FR", "Australia/Lord_Howe", 1768518000},
    {"yearly Feb 29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "UTC", 1835427600},
    {"daily 00:00 Santiago", "FREQ=DAILY", "America/Santiago", 1767236400},
    {"daily 02:30 New York (gap)", "FREQ=DAILY", "America/New_York", 1767252600},
};
#define NRULES (sizeof rules / sizeof rules[0])

/* Walks the series from its start for `secs` seconds; answers computations per second. */
static double walk(const struct rule *r, double secs, long long *calls_out)
{
    struct td_rrule_series s = {r->rrule, r->zone, r->dtstart, NULL, 0, NULL, 0};
    long long at = r->dtstart, calls = 0;
    double t0 = now(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 64; i++) {
            long long next;
            if (td_rrule_next(&s, at, &next)) {
                at = r->dtstart;   /* past the scan bounds: start over */
                continue;
            }
            at = next;
            calls++;
            /* keep the series in this century: what tasks ask */
            if (at > r->dtstart + 50LL * 366 * 86400)
                at = r->dtstart;
        }
        t = now();
    }
    *calls_out = calls;
    return calls / (t - t0);
}

static const char *const worst[] = {
    "FREQ=MONTHLY;BYSETPOS=5;BYDAY=FR;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYSETPOS=2;BYDAY=FR;BYMONTHDAY=13",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=YEARLY;BYSETPOS=-2;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=1;BYDAY=TH",
    "FREQ=YEARLY;BYDAY=-53MO;BYMONTH=3",
    "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=SU",
};

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0)
        secs = 1.0;
    printf("== next-occurrence computations (td_rrule_next, each series walked forward)\n");
    long long total = 0;
    double spent = 0;
    for (size_t i = 0; i < NRULES; i++) {
        long long calls;
        double t0 = now();
        double rate = walk(&rules[i], secs, &calls);
        spent += now() - t0;
        total += calls;
        printf("  %-32s %10.0f /s  (%s)\n", rules[i].name, rate, rules[i].rrule);
    }
    printf("  mix of the above: %.0f next-occurrence computations per second (one core)\n",
           total / spent);

    printf("== td_rrule_validate on the worst rules (median of 21 runs, and the slowest)\n");
    for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++) {
        double t[21];
        char why[96] = "";
        int rc = 0;
        for (int k = 0; k < 21; k++) {
            double t0 = now();
            rc = td_rrule_validate(worst[i], why, sizeof why);
            t[k] = now() - t0;
        }
        for (int a = 0; a < 21; a++)   /* sort: 21 values */
            for (int b = a + 1; b < 21; b++)
                if (t[b] < t[a]) {
                    double x = t[a];
                    t[a] = t[b], t[b] = x;
                }
        long long next = 0;
        struct td_rrule_series s = {worst[i], "America/New_York", 1767621600, NULL, 0, NULL, 0};
        double t0 = now();
        int nrc = td_rrule_next(&s, s.dtstart, &next);
        double tn = now() - t0;
        printf("  %-50s %7.3f ms (max %7.3f)  %s; next: %7.3f ms\n", worst[i], t[10] * 1e3,
               t[20] * 1e3, rc ? why : "valid", tn * 1e3);
        (void)nrc;
    }
    return 0;
}

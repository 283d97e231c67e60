/* core/proc.c: what the process knows about itself (/proc/self, getrusage). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/proc.h"

Test(proc, basic_values_are_plausible)
{
    struct td_proc_stats s;
    cr_assert_eq(td_proc_stats(&s), 0);
    cr_assert_gt(s.rss_bytes, 0);
    cr_assert_geq(s.vsize_bytes, s.rss_bytes);
    cr_assert_geq(s.open_fds, 3, "stdin, stdout, stderr at least: %d", s.open_fds);
    cr_assert_geq(s.cpu_user_seconds, 0);
    cr_assert_geq(s.cpu_system_seconds, 0);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur == RLIM_INFINITY)
        cr_assert_eq(s.max_fds, -1);
    else
        cr_assert_eq((rlim_t)s.max_fds, rl.rlim_cur);
}

Test(proc, start_time_is_recent_unix_time)
{
    struct td_proc_stats s;
    cr_assert_eq(td_proc_stats(&s), 0);
    double now = (double)time(NULL);
    /* This test process was started moments ago (criterion forks per test, but the
     * runner itself started at most a few minutes ago). */
    cr_assert_leq(s.start_time_seconds, now + 1, "start %.2f now %.0f", s.start_time_seconds, now);
    cr_assert_geq(s.start_time_seconds, now - 3600, "start %.2f now %.0f", s.start_time_seconds,
                  now);
}

Test(proc, rss_grows_after_touching_memory)
{
    struct td_proc_stats before, after;
    cr_assert_eq(td_proc_stats(&before), 0);
    size_t n = 20u << 20;
    volatile char *p = malloc(n);
    cr_assert_not_null((void *)p);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (char)i;
    cr_assert_eq(td_proc_stats(&after), 0);
    cr_assert_geq(after.rss_bytes, before.rss_bytes + (15u << 20),
                  "rss %zu -> %zu after touching 20 MiB", before.rss_bytes, after.rss_bytes);
    cr_assert_geq(after.vsize_bytes, before.vsize_bytes + (15u << 20));
    free((void *)p);
}

Test(proc, open_fds_follow_open_and_close)
{
    struct td_proc_stats s0, s1, s2;
    cr_assert_eq(td_proc_stats(&s0), 0);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = open("/dev/null", O_RDONLY);
        cr_assert_geq(fds[i], 0);
    }
    cr_assert_eq(td_proc_stats(&s1), 0);
    cr_assert_eq(s1.open_fds, s0.open_fds + 5, "%d -> %d", s0.open_fds, s1.open_fds);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    cr_assert_eq(td_proc_stats(&s2), 0);
    cr_assert_eq(s2.open_fds, s0.open_fds, "%d -> %d", s0.open_fds, s2.open_fds);
}

Test(proc, cpu_time_grows_after_busy_loop)
{
    struct td_proc_stats before, after;
    cr_assert_eq(td_proc_stats(&before), 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i * 2654435761u;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
    cr_assert_eq(td_proc_stats(&after), 0);
    double b = before.cpu_user_seconds + before.cpu_system_seconds;
    double a = after.cpu_user_seconds + after.cpu_system_seconds;
    cr_assert_geq(a - b, 0.1, "cpu %.3f -> %.3f after 300 ms of spinning", b, a);
    cr_assert_gt(after.cpu_user_seconds, before.cpu_user_seconds);
}

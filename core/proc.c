#include "core/proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* the directory stream's own fd */
}

/* Start time from /proc/self/stat field 22 (clock ticks after boot) plus boot time. */
static double start_time(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   /* comm may hold spaces */
    if (!p)
        return 0;
    unsigned long long ticks = 0;
    int field = 2;
    for (const char *s = p + 1; *s && field < 22; s++)
        if (*s == ' ' && ++field == 22)
            sscanf(s + 1, "%llu", &ticks);
    double btime = 0;
    f = fopen("/proc/stat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %lf", &btime) == 1)
                break;
        fclose(f);
    }
    return btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

int td_proc_stats(struct td_proc_stats *out)
{
    memset(out, 0, sizeof *out);
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -errno;
    unsigned long size = 0, resident = 0;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (got != 2)
        return -EIO;
    out->vsize_bytes = size * (size_t)page;
    out->rss_bytes = resident * (size_t)page;

    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->cpu_user_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        out->cpu_system_seconds = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int)rl.rlim_cur;
    out->open_fds = count_fds();
    out->start_time_seconds = start_time();
    return 0;
}

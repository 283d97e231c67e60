/* What the process knows about itself, for /metrics and the benchmarks. */
#ifndef TD_PROC_H
#define TD_PROC_H
#include <stddef.h>

struct td_proc_stats {
    size_t rss_bytes;
    size_t vsize_bytes;
    double cpu_user_seconds;
    double cpu_system_seconds;
    int    open_fds;
    double start_time_seconds;  /* unix time the process started */
    int    max_fds;
};

int td_proc_stats(struct td_proc_stats *out);

#endif

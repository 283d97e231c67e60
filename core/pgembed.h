/* A private PostgreSQL cluster for `todod all` without a database URL, and for tests.
 * Lives in <data_dir>/pg, listens only on a unix socket inside <data_dir>, is created
 * with initdb on first use, runs as a child process and stops with us. When we run as
 * root it runs as an unprivileged user (PostgreSQL refuses root). Synchronous: called
 * before the loop starts and after it ends. */
#ifndef TD_PGEMBED_H
#define TD_PGEMBED_H
#include <stddef.h>
#include "core/log.h"

struct td_pgembed;

struct td_pgembed_opts {
    const char          *data_dir;   /* created if missing */
    const char          *bin_dir;    /* NULL: $TODOD_PG_BIN, else /usr/lib/postgresql/<v>/bin */
    const char          *run_as;     /* user when root; NULL: "postgres", else "nobody" */
    int                  port;       /* socket name only (no TCP); 0 = 5432 */
    const struct td_log *log;        /* may be NULL */
};

/* initdb if needed, start, wait until it accepts connections (database "todod" exists).
 * err gets one human line naming what failed. */
int  td_pgembed_start(const struct td_pgembed_opts *opts, struct td_pgembed **out,
                      char *err, size_t errlen);
/* libpq conninfo for the running cluster, e.g. "host=/x/.todod port=5432 dbname=todod user=todod". */
const char *td_pgembed_conninfo(const struct td_pgembed *pg);
/* Fast shutdown, waits for the postmaster to exit, frees pg. */
int  td_pgembed_stop(struct td_pgembed *pg);
/* pid of the postmaster (tests use it to stop and restart the server). */
int  td_pgembed_pid(const struct td_pgembed *pg);

#endif

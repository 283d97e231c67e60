/* The role interface and the process runtime that hosts roles (DESIGN.md "The role
 * interface"). core never knows which roles exist; cmd/todod.c passes the table. */
#ifndef TD_SVC_H
#define TD_SVC_H
#include <stddef.h>
#include <uv.h>
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

struct td_http;
struct td_db;
struct td_bus;      /* core/bus.h */
struct td_outbox;   /* core/outbox.h: the relay; writers call td_outbox_wake */

enum {
    TD_NEED_DB   = 1u << 0,
    TD_NEED_BUS  = 1u << 1,
    TD_NEED_HTTP = 1u << 2,
    TD_NEED_RELAY = 1u << 3,   /* publish the outbox (implies DB and BUS) */
};

struct td_svc {
    uv_loop_t               *loop;
    const struct td_config  *cfg;
    struct td_log           *log;
    struct td_metrics       *metrics;
    struct td_http          *http;
    struct td_bus           *bus;
    struct td_db            *db;
    struct td_outbox        *outbox;   /* NULL unless a role needs the relay */
};

struct td_health {
    int  ok;            /* 1 ready, 0 not */
    char reason[200];   /* why not */
};

typedef void (*td_done_cb)(void *arg);

struct td_role {
    const char *name;
    unsigned    needs;
    size_t      state_size;   /* core allocates and zeroes it */
    int  (*init)(struct td_svc *svc, void *state);   /* register routes, subscriptions */
    int  (*start)(void *state);
    void (*drain)(void *state, td_done_cb done, void *arg);  /* finish in-flight work */
    void (*fini)(void *state);
    int  (*health)(void *state, struct td_health *out);
};

/* How the process runs: which roles, under which name (for logs), and whether it may
 * run its own PostgreSQL when no database URL is given. */
struct td_svc_plan {
    const char                  *name;          /* "all", "api", ... */
    const struct td_role *const *roles;
    size_t                       nroles;
    unsigned                     needs;         /* needs beyond the roles' own */
    int                          embedded_db;   /* 1: no URL means a private cluster */
    int                          dump_routes;   /* print "METHOD PATTERN" lines and stop */
};

/* Runs until SIGTERM/SIGINT and a drain. Returns 0 after a clean stop, -EINTR after a
 * second signal, or a negative code with one human line in err. */
int td_svc_run(const struct td_config *cfg, const struct td_svc_plan *plan, char *err,
               size_t errlen);

#endif

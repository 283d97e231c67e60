/* The role interface and the process runtime that hosts roles (CONTRIBUTING.md, "Adding a
 * role"). core never knows which roles exist; cmd/todod.c passes the table. */
#ifndef TD_SVC_H
#define TD_SVC_H
#include <stddef.h>
#include <uv.h>
#include "core/config.h"
#include "core/log.h"
#include "core/buf.h"
#include "core/metrics.h"

struct td_http;
struct td_http_req;
struct td_db;
struct td_bus;      /* core/bus.h */
struct td_outbox;   /* core/outbox.h: the relay; writers call td_outbox_wake */

enum {
    TD_NEED_DB   = 1u << 0,
    TD_NEED_BUS  = 1u << 1,
    TD_NEED_HTTP = 1u << 2,
    TD_NEED_RELAY = 1u << 3,   /* publish the outbox (implies DB and BUS) */
};

struct td_door;     /* core/door.h: the /api front door */
struct td_bus_msg;
struct td_bus_delivery;

struct td_svc {
    uv_loop_t               *loop;
    const struct td_config  *cfg;      /* core's settings; td_config_group for a role's */
    struct td_log           *log;
    struct td_metrics       *metrics;
    struct td_http          *http;
    struct td_bus           *bus;
    struct td_db            *db;
    struct td_outbox        *outbox;   /* NULL unless a role needs the relay */
    struct td_door          *door;     /* NULL unless a role has /api routes */
};

struct td_health {
    int  ok;            /* 1 ready, 0 not */
    char reason[200];   /* why not */
};

typedef void (*td_done_cb)(void *arg);

/* What a role registers is data: core reads these tables, registers them against the
 * running parts (handlers get the role's state as their argument), and lists them for
 * `todod routes` without running anything. Tables end with a zeroed row. */
struct td_route_def {
    const char *method;
    const char *pattern;
    void      (*fn)(struct td_http_req *req, void *state);
    unsigned    flags;     /* TD_ROUTE_QUIET (core/http.h), TD_DOOR_* (core/door.h) */
};
struct td_sub_def {
    const char *topic;
    const char *group;     /* consumer group */
    void      (*fn)(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *state);
    int         depth;     /* consecutive messages of a lane at once (0: one) */
};
struct td_stmt_def {
    const char *name;
    const char *sql;
    int         nparams;   /* 0: PostgreSQL infers them */
};

struct td_role {
    const char *name;
    unsigned    needs;
    size_t      state_size;   /* core allocates and zeroes it */
    /* Tables of tables, NULL-terminated, so each file of a role keeps its own rows. */
    const struct td_route_def *const *routes;
    const struct td_sub_def   *subs;
    const struct td_stmt_def  *const *stmts;
    const struct td_settings_group *settings;   /* the role's own settings, or NULL */
    /* What cannot be a table. After a failed init core still calls fini: fini must cope
     * with state that init left half-built. */
    int  (*init)(struct td_svc *svc, void *state);
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
};

/* Adds the settings groups the roles and the parts they need use (before loading). */
int td_svc_add_settings(struct td_config *cfg, const struct td_role *const *roles, size_t n);
/* Every route the roles and core serve, "METHOD PATTERN" per line, from the tables alone. */
int td_svc_routes_dump(const struct td_role *const *roles, size_t n, struct td_buf *out);

/* Runs until SIGTERM/SIGINT and a drain. Returns 0 after a clean stop, -EINTR after a
 * second signal, or a negative code with one human line in err. */
int td_svc_run(const struct td_config *cfg, const struct td_svc_plan *plan, char *err,
               size_t errlen);

#endif

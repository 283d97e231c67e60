/* The audit role (`todod audit`): consumes task-events into an append-only, hash-chained
 * log (proto/sql/0003_events_audit.sql) and serves it at /api/audit. */
#ifndef TD_ROLE_AUDIT_H
#define TD_ROLE_AUDIT_H
#include "core/auth.h"
#include "core/ratelimit.h"
#include "core/svc.h"

#define AUDIT_GROUP "todod-audit"

enum {
    AUDIT_BATCH_MAX = 512,
    AUDIT_LANE_DEPTH = 128,     /* consecutive events of one lane in a batch */
    AUDIT_PENDING_MAX = 4096,
};

struct td_gcommit;

struct audit {
    struct td_svc          *svc;
    struct td_auth         *auth;
    struct td_ratelimit    *per_user;
    struct td_gcommit      *batcher;    /* group commit of events (core/gcommit.h) */
};

/* routes.c */
void audit_routes(struct audit *a);
int  audit_prepare_routes(struct audit *a);

#endif

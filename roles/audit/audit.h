/* The audit role (`todod audit`): consumes task-events into an append-only, hash-chained
 * log (proto/sql/0003_events_audit.sql) and serves it at /api/audit. */
#ifndef TD_ROLE_AUDIT_H
#define TD_ROLE_AUDIT_H
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
    struct td_gcommit      *batcher;    /* group commit of events (core/gcommit.h) */
};

/* routes.c: GET /api/audit and /api/audit/verify */
extern const struct td_route_def audit_read_routes[];
extern const struct td_stmt_def audit_read_stmts[];

#endif

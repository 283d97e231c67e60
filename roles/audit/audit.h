/* The audit role (`todod audit`): consumes task-events into an append-only, hash-chained
 * log (proto/sql/0003_events_audit.sql) and serves it at /api/audit. */
#ifndef TD_ROLE_AUDIT_H
#define TD_ROLE_AUDIT_H
#include "core/auth.h"
#include "core/ratelimit.h"
#include "core/svc.h"

#define AUDIT_GROUP "todod-audit"

struct audit {
    struct td_svc       *svc;
    struct td_auth      *auth;
    struct td_ratelimit *per_user;
    struct td_metric_series *m_appended, *m_duplicate;
};

/* routes.c */
void audit_routes(struct audit *a);
int  audit_prepare_routes(struct audit *a);

#endif

/* The audit role's hooks and its consumer: each task event becomes one audit record,
 * exactly once per event (todod_audit_append claims the inbox row in the same statement,
 * so the effect and the inbox row commit together). */
#include "roles/audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/bus.h"
#include "core/db.h"

static void on_appended(int status, struct td_db_res *res, void *arg)
{
    struct td_bus_delivery *d = arg;
    if (status == 0) {
        td_bus_done(d, 0, NULL);
        return;
    }
    /* SQLSTATE class 22 (bad JSON, not a task event, bad uuid or time): it never will be */
    const char *state = td_db_res_sqlstate(res);
    int bad = status == -EIO && strncmp(state, "22", 2) == 0;
    td_bus_done(d, bad ? TD_BUS_REJECT : TD_BUS_RETRY, td_db_res_error(res));
}

static void on_task_event(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct audit *a = arg;
    const char *params[] = {AUDIT_GROUP, msg->value};
    if (strlen(msg->value) != msg->len) {
        td_bus_done(d, TD_BUS_REJECT, "the event holds a NUL byte: not JSON text");
        return;
    }
    int rc = td_db_exec(a->svc->db, "audit_append", 2, params, on_appended, d);
    if (rc)
        td_bus_done(d, TD_BUS_RETRY, strerror(-rc));
}

static int audit_init(struct td_svc *svc, void *state)
{
    struct audit *a = state;
    a->svc = svc;
    const struct td_config *cfg = svc->cfg;
    if (!cfg->jwt_secret) {
        td_log_error(svc->log, "audit needs a JWT secret: set TODOD_JWT_SECRET or TODOD_JWT_SECRET_FILE");
        return -EINVAL;
    }
    struct td_auth_opts ao = {.secret = cfg->jwt_secret, .issuer = cfg->jwt_issuer,
                              .audience = cfg->jwt_audience, .leeway_s = 60};
    int rc = td_auth_new(&ao, &a->auth);
    if (!rc)
        rc = td_ratelimit_new(cfg->rate_limit_user, cfg->rate_limit_user * 2, 100000,
                              &a->per_user);
    if (!rc)
        rc = td_db_prepare(svc->db, "audit_append", "SELECT todod_audit_append($1, $2::jsonb)", 2);
    if (!rc)
        rc = audit_prepare_routes(a);
    if (!rc)
        rc = td_bus_subscribe(svc->bus, "task-events", AUDIT_GROUP, on_task_event, a);
    if (rc)
        return rc;
    audit_routes(a);
    return 0;
}

static void audit_fini(void *state)
{
    struct audit *a = state;
    td_auth_free(a->auth);
    td_ratelimit_free(a->per_user);
    a->auth = NULL;
    a->per_user = NULL;
}

const struct td_role td_role_audit = {
    .name = "audit",
    .needs = TD_NEED_DB | TD_NEED_BUS | TD_NEED_HTTP,
    .state_size = sizeof(struct audit),
    .init = audit_init,
    .fini = audit_fini,
};

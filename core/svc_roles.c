/* Roles from their tables (svc_roles.h). */
#include "core/svc_roles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/door.h"
#include "core/failpoint.h"
#include "core/http.h"

/* Does any role have routes behind the /api door? */
int td_roles_need_door(const struct td_role *const *roles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (const struct td_route_def *const *t = roles[i]->routes; t && *t; t++)
            for (const struct td_route_def *r = *t; r->method; r++)
                if (r->flags & TD_DOOR_FLAGS)
                    return 1;
    return 0;
}

int td_svc_add_settings(struct td_config *cfg, const struct td_role *const *roles, size_t n)
{
    int rc = td_roles_need_door(roles, n) ? td_config_add_group(cfg, &td_door_settings) : 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (roles[i]->settings)
            rc = td_config_add_group(cfg, roles[i]->settings);
    return rc;
}

int td_roles_dump(const struct td_role *const *roles, size_t n, struct td_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        for (const struct td_route_def *const *t = roles[i]->routes; t && *t; t++)
            for (const struct td_route_def *r = *t; r->method && !rc; r++)
                rc = td_buf_printf(out, "%s %s\n", r->method, r->pattern);
    return rc ? -ENOMEM : 0;
}

/* One JWT verifier and one set of limits for every role's /api routes. */
static int open_door(struct td_svc *svc, const struct td_role *const *roles, size_t n,
                     int private_secret, char *err, size_t errlen)
{
    struct td_door_conf *conf = td_config_group(svc->cfg, &td_door_settings);
    if (!conf || !td_roles_need_door(roles, n))
        return 0;
    /* `all` must just work: with no secret configured it keeps one in its data dir. */
    int rc = 0;
    if (!conf->jwt_secret && private_secret &&
        (rc = td_door_secret_from_data_dir(conf, svc->cfg->data_dir, err, errlen)) != 0)
        return rc;
    if ((rc = td_door_new(conf, svc->loop, svc->metrics, svc->log, &svc->door)))
        snprintf(err, errlen, "cannot open the /api door: %s%s", strerror(-rc),
                 rc == -EINVAL ? " (no JWT secret: set TODOD_JWT_SECRET or TODOD_JWT_SECRET_FILE)" : "");
    return rc;
}

/* The role's tables, registered once init has built its state. */
static int register_role(struct td_svc *svc, const struct td_role *r, void *state)
{
    int rc = td_failpoint("svc.register");
    for (const struct td_route_def *const *t = r->routes; t && *t && !rc; t++)
        for (const struct td_route_def *d = *t; d->method && !rc; d++)
            rc = (d->flags & TD_DOOR_FLAGS)
                     ? td_door_route(svc->door, svc->http, d->method, d->pattern,
                                     d->flags, d->fn, state)
                     : td_http_route_flags(svc->http, d->method, d->pattern, d->flags,
                                           d->fn, state);
    for (const struct td_sub_def *s = r->subs; s && s->topic && !rc; s++) {
        rc = td_bus_subscribe(svc->bus, s->topic, s->group, s->fn, state);
        if (!rc && s->depth > 1)
            rc = td_bus_set_depth(svc->bus, s->topic, s->group, s->depth);
    }
    return rc;
}

static int prepare_role(struct td_svc *svc, const struct td_role *r)
{
    int rc = 0;
    for (const struct td_stmt_def *const *t = r->stmts; t && *t && !rc; t++)
        for (const struct td_stmt_def *d = *t; d->name && !rc; d++)
            rc = td_db_prepare(svc->db, d->name, d->sql, d->nparams);
    return rc;
}

int td_roles_start(struct td_svc *svc, const struct td_role *const *roles, size_t n,
                   void **states, int *started, int private_secret, char *err, size_t errlen)
{
    int rc = open_door(svc, roles, n, private_secret, err, errlen);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct td_role *r = roles[i];
        if (!(states[i] = calloc(1, r->state_size ? r->state_size : 1)))
            return -ENOMEM;
        if ((rc = prepare_role(svc, r)) != 0)
            break;
        *started = (int)i + 1;   /* init was called: fini runs, whatever happens */
        if (r->init)
            rc = r->init(svc, states[i]);
        if (!rc)
            rc = register_role(svc, r, states[i]);
        if (!rc && r->start)
            rc = r->start(states[i]);
        if (rc && !err[0])
            snprintf(err, errlen, "role %s failed to start: %s", r->name, strerror(-rc));
    }
    return rc;
}

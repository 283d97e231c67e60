/* Bringing roles up from their tables (core/svc.c's start-up uses it): the /api door when
 * a role has routes behind it, prepared statements, init, the routes and subscriptions,
 * start. Also what `todod routes` and the settings need, from the tables alone. */
#ifndef TD_SVC_ROLES_H
#define TD_SVC_ROLES_H
#include <stddef.h>
#include "core/buf.h"
#include "core/svc.h"

/* 1 when a role has routes behind the /api door. */
int td_roles_need_door(const struct td_role *const *roles, size_t n);
/* The roles' routes, "METHOD PATTERN" per line. */
int td_roles_dump(const struct td_role *const *roles, size_t n, struct td_buf *out);
/* Starts the roles in order into states[i] (allocated here, freed by the caller);
 * *started counts the roles whose init was called, whose fini the caller must run, also
 * after a failure. private_secret: with no JWT secret, keep one in the data dir. */
int td_roles_start(struct td_svc *svc, const struct td_role *const *roles, size_t n,
                   void **states, int *started, int private_secret, char *err, size_t errlen);

#endif

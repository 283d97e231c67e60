/* The front door of /api: every role's routes marked in their tables go through it, so
 * bearer authentication, rate limits, the {user_id} path check, Cache-Control and the
 * problem answers for database errors are written once, with one JWT verifier per
 * process. Its settings (JWT, rate limits) are a group of their own. */
#ifndef TD_DOOR_H
#define TD_DOOR_H
#include <stddef.h>
#include <uv.h>
#include "core/auth.h"
#include "core/config.h"
#include "core/db.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

/* Route flags the door reads (core/http.h reserves bit 0 for TD_ROUTE_QUIET). */
enum {
    TD_DOOR_BEARER = 1u << 1,   /* Bearer JWT, per-user and per-address limits, {user_id} */
    TD_DOOR_PUBLIC = 1u << 2,   /* no token (signup, login): the role limits it itself */
};
#define TD_DOOR_FLAGS (TD_DOOR_BEARER | TD_DOOR_PUBLIC)

#define TD_DOOR_SUB_MAX 129   /* token subjects longer than 128 bytes are refused */

struct td_door_conf {
    char  *jwt_secret;        /* owned */
    char  *jwt_issuer;        /* owned; NULL = not checked */
    char  *jwt_audience;      /* owned; NULL = not checked */
    double rate_limit_user;   /* requests per second per user; 0 = off */
    double rate_limit_addr;   /* requests per second per client address; 0 = off */
};
extern const struct td_settings_group td_door_settings;

/* `todod all` without a secret: read <data_dir>/jwt-secret, creating it (0600, 32 random
 * bytes) on first run, so tokens survive restarts without any configuration. */
int td_door_secret_from_data_dir(struct td_door_conf *conf, const char *data_dir, char *err,
                                 size_t errlen);

struct td_door;
int  td_door_new(const struct td_door_conf *conf, uv_loop_t *loop, struct td_metrics *metrics,
                 struct td_log *log, struct td_door **out);
/* After the server that routes through it is closed. */
void td_door_free(struct td_door *door);
/* Registers a route whose requests pass the door first (flags: TD_DOOR_* | TD_ROUTE_*). */
int  td_door_route(struct td_door *door, struct td_http *http, const char *method,
                   const char *pattern, unsigned flags, td_http_handler_fn fn, void *arg);
/* The token's subject for a TD_DOOR_BEARER route's request, valid until it is answered;
 * NULL elsewhere. */
const char *td_door_subject(const struct td_http_req *req);
/* The process's token verifier and issuer. */
struct td_auth *td_door_auth(struct td_door *door);

/* Answers a failed database call: 503 database-unavailable (with Retry-After) when
 * PostgreSQL is out of reach, 409/422 by SQLSTATE, otherwise 500 (logged). */
void td_door_db_problem(struct td_http_req *req, int status, struct td_db_res *res,
                        const struct td_log *log);

#endif

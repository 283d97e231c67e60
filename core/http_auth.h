/* Bearer-token authentication for HTTP handlers, shared by every role that serves /api. */
#ifndef TD_HTTP_AUTH_H
#define TD_HTTP_AUTH_H
#include <stddef.h>
#include "core/auth.h"
#include "core/http.h"

/* Verifies "Authorization: Bearer <jwt>". On success copies the subject into sub and
 * returns 0. Otherwise answers 401 problem+json (with WWW-Authenticate), sets *why
 * (TD_AUTH_MALFORMED when the header is missing) and returns -EACCES. */
int td_http_bearer(struct td_http_req *req, struct td_auth *auth, char *sub, size_t sublen,
                   enum td_auth_error *why);
/* A stable label for metrics: "signature", "expired", ... */
const char *td_auth_error_label(enum td_auth_error e);

#endif

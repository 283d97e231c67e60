/* Bearer-token authentication for HTTP handlers (see http_auth.h). */
#include "core/http_auth.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

const char *td_auth_error_label(enum td_auth_error e)
{
    static const char *const labels[] = {"ok", "malformed", "algorithm", "signature",
                                         "expired", "not_yet_valid", "no_expiry",
                                         "no_subject", "issuer", "audience"};
    return (unsigned)e < sizeof labels / sizeof *labels ? labels[e] : "other";
}

int td_http_bearer(struct td_http_req *req, struct td_auth *auth, char *sub, size_t sublen,
                   enum td_auth_error *why)
{
    const char *authz = td_http_header(req, "authorization");
    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0) {
        *why = TD_AUTH_MALFORMED;
        td_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"todod\"");
        td_http_problem(req, 401, "unauthorized", "Unauthorized",
                        "send Authorization: Bearer <token>", NULL);
        return -EACCES;
    }
    *why = td_auth_verify(auth, authz + 7, time(NULL), sub, sublen);
    if (*why == TD_AUTH_OK)
        return 0;
    td_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"todod\", error=\"invalid_token\"");
    td_http_problem(req, 401, "unauthorized", "Unauthorized", td_auth_error_text(*why), NULL);
    return -EACCES;
}

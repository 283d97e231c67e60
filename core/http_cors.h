/* CORS for the HTTP server, off unless td_http_opts.cors is set. With it, the server
 * answers preflights itself (204, or 403 for an origin not on the list) and every answer
 * to a request from an allowed Origin carries Access-Control-Allow-Origin. */
#ifndef TD_HTTP_CORS_H
#define TD_HTTP_CORS_H
#include <stddef.h>

struct td_cors;

/* origins_csv: "*" (any origin), or a comma-separated list of exact origins,
 * scheme://host[:port] with http or https and no path ("http://localhost:3000,
 * https://app.example.com"); blanks around entries are ignored. "*" cannot go with
 * allow_credentials (browsers refuse it). Returns 0, -EINVAL with a one-line reason in
 * err naming the bad entry, or -ENOMEM. */
int  td_cors_new(const char *origins_csv, int allow_credentials, struct td_cors **out,
                 char *err, size_t errlen);
void td_cors_free(struct td_cors *cors);   /* NULL is fine */

/* The Access-Control-Allow-Origin value for a request's Origin header: "*" or origin
 * itself when allowed, NULL when not (or origin is NULL). Origins compare without regard
 * to case. */
const char *td_cors_allow_origin(const struct td_cors *cors, const char *origin);
int  td_cors_credentials(const struct td_cors *cors);

#endif

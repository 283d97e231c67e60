/* CORS: the allowed origins, the server's own preflight answers and the headers every
 * answer to an allowed Origin carries. */
#include "core/http_cors.h"
#include "core/http_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What browsers may send and read across origins: the API's own request and answer
 * headers (conditional updates, idempotent creates, cursors, request ids). */
/* Mcp-Session-Id and MCP-Protocol-Version: MCP clients in a browser (/mcp). */
#define ALLOW_HEADERS  "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-ID, " \
                       "Mcp-Session-Id, MCP-Protocol-Version"
#define EXPOSE_HEADERS "ETag, X-Next-Cursor, X-Request-ID, Mcp-Session-Id"
#define MAX_AGE        "600"

struct td_cors {
    int    any;          /* "*" */
    int    credentials;
    int    n;
    char **origins;
};

void td_cors_free(struct td_cors *cors)
{
    if (!cors)
        return;
    for (int i = 0; i < cors->n; i++)
        free(cors->origins[i]);
    free(cors->origins);
    free(cors);
}

static int is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

/* scheme://host[:port] as a browser sends it in Origin; NULL when s[0..n) is one,
 * else why not. */
static const char *origin_problem(const char *s, size_t n)
{
    const char *end = s + n, *p;
    if (n > 7 && strncasecmp(s, "http://", 7) == 0)
        p = s + 7;
    else if (n > 8 && strncasecmp(s, "https://", 8) == 0)
        p = s + 8;
    else
        return "must start with http:// or https:// and name a host";
    const char *host = p;
    if (*p == '[') {   /* IPv6 literal */
        p++;
        while (p < end && (isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
            p++;
        if (p == host + 1 || p == end || *p != ']')
            return "has a malformed [IPv6] host";
        p++;
    } else {
        while (p < end && is_host_char(*p))
            p++;
        if (p == host)
            return "has no host";
    }
    if (p < end && *p == ':') {
        const char *digits = ++p;
        long port = 0;
        while (p < end && isdigit((unsigned char)*p) && p - digits < 6)
            port = port * 10 + (*p++ - '0');
        if (p == digits || port < 1 || port > 65535)
            return "has a port that is not 1-65535";
    }
    if (p != end)
        return "must be scheme://host[:port], with no path, query or user";
    return NULL;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

int td_cors_new(const char *origins_csv, int allow_credentials, struct td_cors **out,
                char *err, size_t errlen)
{
    *out = NULL;
    const char *csv = origins_csv ? origins_csv : "";
    struct td_cors *c = calloc(1, sizeof *c);
    int cap = 1;
    for (const char *p = csv; *p; p++)
        cap += *p == ',';
    if (!c || !(c->origins = calloc((size_t)cap, sizeof *c->origins))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->credentials = allow_credentials != 0;
    for (const char *p = csv;;) {
        const char *comma = strchr(p, ',');
        const char *s = p;
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        trim(&s, &n);
        const char *why = NULL;
        if (n == 0)
            why = cap > 1 ? "is empty" : "is empty: give \"*\" or a list of origins";
        else if (n == 1 && *s == '*')
            why = cap > 1 ? "must stand alone, not in a list" : NULL;
        else
            why = origin_problem(s, n);
        if (why) {
            snprintf(err, errlen, "CORS origin \"%.*s\" %s", (int)(n < 200 ? n : 200), s, why);
            td_cors_free(c);
            return -EINVAL;
        }
        if (n == 1 && *s == '*') {
            c->any = 1;
        } else if (!(c->origins[c->n++] = strndup(s, n))) {
            td_cors_free(c);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    if (c->any && c->credentials) {
        td_cors_free(c);
        snprintf(err, errlen, "CORS origin \"*\" cannot be combined with credentials "
                              "(browsers refuse it): list the allowed origins instead");
        return -EINVAL;
    }
    *out = c;
    return 0;
}

const char *td_cors_allow_origin(const struct td_cors *cors, const char *origin)
{
    if (!cors || !origin)
        return NULL;
    if (cors->any)
        return "*";
    for (int i = 0; i < cors->n; i++)
        if (strcasecmp(cors->origins[i], origin) == 0)
            return origin;
    return NULL;
}

int td_cors_credentials(const struct td_cors *cors)
{
    return cors ? cors->credentials : 0;
}

void td_cors_preflight(struct td_http_req *req, const char *methods)
{
    if (!req->cors_origin) {
        /* No Access-Control-* headers: the browser keeps the real request back. */
        td_http_problem(req, 403, "cors-origin-denied", "Forbidden",
                        "this origin may not call the server from a browser", NULL);
        return;
    }
    req->preflight = 1;
    td_http_add_header(req, "Access-Control-Allow-Methods", methods);
    td_http_add_header(req, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    td_http_add_header(req, "Access-Control-Max-Age", MAX_AGE);
    td_http_respond(req, 204, NULL, NULL, 0);
}

size_t td_cors_head_bytes(const struct td_http_req *req)
{
    if (!req->cors)
        return 0;
    return 16 + (req->cors_origin ? 160 + strlen(req->cors_origin) : 0);
}

void td_cors_write(const struct td_http_req *req, struct td_buf *out)
{
    if (!req->cors)
        return;
    /* The answer depends on Origin whenever CORS is on, so caches must key on it. */
    td_buf_puts(out, "Vary: Origin\r\n");
    if (!req->cors_origin)
        return;
    td_buf_puts(out, "Access-Control-Allow-Origin: ");
    td_buf_puts(out, req->cors_origin);
    td_buf_puts(out, "\r\n");
    if (req->cors->credentials)
        td_buf_puts(out, "Access-Control-Allow-Credentials: true\r\n");
    if (!req->preflight)
        td_buf_puts(out, "Access-Control-Expose-Headers: " EXPOSE_HEADERS "\r\n");
}

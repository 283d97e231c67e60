#include "core/http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void free_route(struct td_route *rt)
{
    for (int i = 0; i < rt->nsegs; i++)
        free(rt->segs[i]);
    free(rt->segs);
    free(rt->method);
    free(rt->pattern);
    free(rt);
}

void td_router_free(struct td_router *r)
{
    struct td_route *rt = r->head;
    while (rt) {
        struct td_route *next = rt->next;
        free_route(rt);
        rt = next;
    }
    r->head = r->tail = NULL;
}

int td_router_add(struct td_router *r, const char *method, const char *pattern,
                  unsigned flags, td_http_handler_fn fn, void *arg)
{
    if (pattern[0] != '/')
        return -EINVAL;
    struct td_route *rt = calloc(1, sizeof *rt);
    if (!rt)
        return -ENOMEM;
    rt->method = strdup(method);
    rt->pattern = strdup(pattern);
    rt->fn = fn;
    rt->arg = arg;
    rt->flags = flags;
    int max = 1;
    for (const char *p = pattern; *p; p++)
        max += *p == '/';
    rt->segs = calloc((size_t)max, sizeof *rt->segs);
    if (!rt->method || !rt->pattern || !rt->segs) {
        free_route(rt);
        return -ENOMEM;
    }
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        rt->segs[rt->nsegs] = strndup(p, len);
        if (!rt->segs[rt->nsegs++]) {
            free_route(rt);
            return -ENOMEM;
        }
        p += len + (slash ? 1 : 0);
    }
    if (p > pattern + 1 && p[-1] == '/') {
        /* "/docs/" ends in an empty segment, so it matches "/docs/" and not "/docs". */
        rt->segs[rt->nsegs] = strdup("");
        if (!rt->segs[rt->nsegs++]) {
            free_route(rt);
            return -ENOMEM;
        }
    }
    for (struct td_route *o = r->head; o; o = o->next)
        if (strcmp(o->method, method) == 0 && strcmp(o->pattern, pattern) == 0) {
            free_route(rt);
            return -EEXIST;
        }
    if (r->tail)
        r->tail->next = rt;
    else
        r->head = rt;
    r->tail = rt;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int td_http_decode(const char *src, size_t len, int plus_is_space, struct td_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -EINVAL;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -EINVAL;   /* a NUL would silently cut the value short */
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (td_buf_append(out, &c, 1))
            return -ENOMEM;
    }
    return td_buf_append(out, "", 1);   /* keep the terminator as a separator */
}

static int is_param(const char *seg)
{
    size_t n = strlen(seg);
    return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

/* Segment-by-segment comparison: literals beat parameters, earlier segments count more.
 * Returns the number of literal matches weighted by position, or -1 for no match. */
static long match_score(const struct td_route *rt, const char *path)
{
    const char *p = path + 1;
    long score = 0;
    int i = 0;
    for (; i < rt->nsegs; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (is_param(rt->segs[i])) {
            if (len == 0)
                return -1;
        } else {
            if (strlen(rt->segs[i]) != len || memcmp(rt->segs[i], p, len) != 0)
                return -1;
            score |= 1L << (30 - (i < 30 ? i : 30));
        }
        p += len;
        if (i + 1 < rt->nsegs) {
            if (*p != '/')
                return -1;
            p++;
        }
    }
    return *p == '\0' ? score : -1;
}

static int bind_params(const struct td_route *rt, const char *path, struct td_buf *arena,
                       struct td_http_param *params, int *nparams)
{
    size_t offs[TD_HTTP_MAX_PARAMS];
    const char *p = path + 1;
    int n = 0;
    for (int i = 0; i < rt->nsegs; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (is_param(rt->segs[i]) && n < TD_HTTP_MAX_PARAMS) {
            offs[n] = arena->len;
            if (td_http_decode(p, len, 0, arena))
                return -EINVAL;
            params[n++].name = rt->segs[i];
        }
        p += len + (slash ? 1 : 0);
    }
    /* Pointers only once the arena stops growing. */
    for (int i = 0; i < n; i++)
        params[i].value = arena->data + offs[i];
    *nparams = n;
    return 0;
}

/* Appends ", method" (or "method" first) unless the list has it; a name that does not
 * fit is left out whole. */
static void list_method(char *list, size_t *len, size_t cap, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = list; (p = strstr(p, method)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return;
    int w = snprintf(list + *len, cap - *len, "%s%s", *len ? ", " : "", method);
    if (w > 0 && (size_t)w < cap - *len)
        *len += (size_t)w;
    else
        list[*len] = '\0';
}

int td_router_methods(const struct td_router *r, const char *path, char *out, size_t outlen)
{
    size_t len = 0;
    int n = 0;
    out[0] = '\0';
    for (const struct td_route *rt = r->head; rt; rt = rt->next)
        if (match_score(rt, path) >= 0) {
            list_method(out, &len, outlen, rt->method);
            n++;
        }
    return n;
}

const struct td_route *td_router_match(const struct td_router *r, const char *method,
                                       const char *path, struct td_buf *arena,
                                       struct td_http_param *params, int *nparams,
                                       char *allow, size_t allowlen, int *status)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const struct td_route *best = NULL;
    long best_score = -1;
    size_t allow_len = 0;
    allow[0] = '\0';
    *nparams = 0;
    for (const struct td_route *rt = r->head; rt; rt = rt->next) {
        long score = match_score(rt, path);
        if (score < 0)
            continue;
        if (strcmp(rt->method, want) == 0) {
            if (score > best_score) {
                best = rt;
                best_score = score;
            }
        } else {
            list_method(allow, &allow_len, allowlen, rt->method);
        }
    }
    if (best) {
        if (bind_params(best, path, arena, params, nparams)) {
            *status = 400;
            return NULL;
        }
        return best;
    }
    *status = allow_len ? 405 : 404;
    return NULL;
}

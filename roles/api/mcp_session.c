/* MCP sessions in memory (mcp.h), and which browser origins may talk to /mcp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "core/http_cors.h"
#include "roles/api/mcp.h"

struct api_mcp {
    struct td_cors          *origins;   /* NULL: no CORS list */
    struct api_mcp_session **sessions;
    int                      n, cap;
};

const char *const api_mcp_versions[] = {"2025-06-18", "2025-03-26", "2024-11-05", NULL};

int api_mcp_version_known(const char *v)
{
    for (int i = 0; v && api_mcp_versions[i]; i++)
        if (strcmp(v, api_mcp_versions[i]) == 0)
            return 1;
    return 0;
}

const char *api_mcp_negotiate(const char *requested)
{
    for (int i = 0; requested && api_mcp_versions[i]; i++)
        if (strcmp(requested, api_mcp_versions[i]) == 0)
            return api_mcp_versions[i];
    return api_mcp_versions[0];
}

int api_mcp_init(struct api *api)
{
    struct api_mcp *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    api->mcp = m;
    const char *csv = api->svc->cfg->cors_origins;
    char err[200];
    if (csv && *csv && td_cors_new(csv, 0, &m->origins, err, sizeof err) != 0)
        m->origins = NULL;   /* core refused the list at start already; no list here */
    return 0;
}

void api_mcp_fini(struct api *api)
{
    struct api_mcp *m = api->mcp;
    if (!m)
        return;
    for (int i = 0; i < m->n; i++)
        free(m->sessions[i]);
    free(m->sessions);
    td_cors_free(m->origins);
    free(m);
    api->mcp = NULL;
}

static uint64_t now_ms(struct api *api)
{
    return uv_now(api->svc->loop);
}

static void drop(struct api_mcp *m, int i)
{
    free(m->sessions[i]);
    m->sessions[i] = m->sessions[--m->n];
}

/* Idle sessions go; at the cap, the least recently used one too. */
static void evict(struct api *api)
{
    struct api_mcp *m = api->mcp;
    uint64_t now = now_ms(api);
    int oldest = -1;
    for (int i = m->n - 1; i >= 0; i--)
        if (now - m->sessions[i]->last_used > MCP_SESSION_IDLE_MS)
            drop(m, i);
    for (int i = 0; m->n >= MCP_SESSIONS_MAX && i < m->n; i++)
        if (oldest < 0 || m->sessions[i]->last_used < m->sessions[oldest]->last_used)
            oldest = i;
    if (oldest >= 0)
        drop(m, oldest);
}

struct api_mcp_session *api_mcp_session_new(struct api *api, const char *user,
                                            const char *version)
{
    struct api_mcp *m = api->mcp;
    evict(api);
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 16;
        struct api_mcp_session **grown = realloc(m->sessions, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        m->sessions = grown;
        m->cap = cap;
    }
    struct api_mcp_session *s = calloc(1, sizeof *s);
    unsigned char raw[MCP_SESSION_ID_LEN / 2];
    if (!s || RAND_bytes(raw, sizeof raw) != 1) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(s->version, sizeof s->version, "%s", version);
    s->last_used = now_ms(api);
    m->sessions[m->n++] = s;
    return s;
}

static int index_of(struct api *api, const char *id, const char *user)
{
    struct api_mcp *m = api->mcp;
    if (!id || strlen(id) != MCP_SESSION_ID_LEN)
        return -1;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->sessions[i]->id, id) == 0)
            /* Another user's session is no session of this caller's. */
            return strcmp(m->sessions[i]->user, user) == 0 ? i : -1;
    return -1;
}

struct api_mcp_session *api_mcp_session_find(struct api *api, const char *id, const char *user)
{
    int i = index_of(api, id, user);
    if (i < 0)
        return NULL;
    struct api_mcp_session *s = api->mcp->sessions[i];
    uint64_t now = now_ms(api);
    if (now - s->last_used > MCP_SESSION_IDLE_MS) {
        drop(api->mcp, i);
        return NULL;
    }
    s->last_used = now;
    return s;
}

int api_mcp_session_end(struct api *api, const char *id, const char *user)
{
    int i = index_of(api, id, user);
    if (i < 0)
        return -ENOENT;
    drop(api->mcp, i);
    return 0;
}

int api_mcp_session_count(struct api *api)
{
    return api->mcp ? api->mcp->n : 0;
}

/* "http://localhost:3000" → 1 when the host is a loopback name or address. */
static int loopback_origin(const char *origin)
{
    const char *host = strstr(origin, "://");
    if (!host || (strncasecmp(origin, "http://", 7) && strncasecmp(origin, "https://", 8)))
        return 0;
    host += 3;
    size_t len = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/");
    const char *end = host + len;
    if (*end && *end != ':' && *end != '/')
        return 0;
    return (len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (len >= 9 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == len) ||
           (len == 5 && strncmp(host, "[::1]", 5) == 0);
}

int api_mcp_origin_ok(struct api *api, const char *origin)
{
    if (!origin)
        return 1;
    if (api->mcp && api->mcp->origins && td_cors_allow_origin(api->mcp->origins, origin))
        return 1;
    return loopback_origin(origin);
}

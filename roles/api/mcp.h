/* The MCP server's sessions and Origin check (mcp_session.c), used by its transport and
 * JSON-RPC handling (mcp.c). Sessions live in this process's memory: a client that
 * reaches another replica with its Mcp-Session-Id gets 404 and initializes again, which
 * the MCP spec asks clients to do. */
#ifndef TD_ROLE_API_MCP_H
#define TD_ROLE_API_MCP_H
#include <stdint.h>

#include "roles/api/api.h"

#define MCP_SESSION_ID_LEN 32           /* hex characters */
#define MCP_SESSIONS_MAX   10000        /* past it the least recently used goes */
#define MCP_SESSION_IDLE_MS (60ull * 60 * 1000)

struct api_mcp_session {
    char     id[MCP_SESSION_ID_LEN + 1];
    char     user[API_SUB_MAX];
    char     version[16];               /* the negotiated protocol version */
    int      initialized;               /* notifications/initialized arrived */
    uint64_t last_used;                 /* loop time, ms */
};

/* The protocol versions served, newest first. */
extern const char *const api_mcp_versions[];
/* The version for a client's requested one: itself when served, else the newest. */
const char *api_mcp_negotiate(const char *requested);
int         api_mcp_version_known(const char *v);

/* A new session for user; NULL when out of memory. Valid until the next call that may
 * evict (new) or api_mcp_session_end. */
struct api_mcp_session *api_mcp_session_new(struct api *api, const char *user,
                                            const char *version);
/* The session id names, if it is user's and not idle past MCP_SESSION_IDLE_MS; touches it. */
struct api_mcp_session *api_mcp_session_find(struct api *api, const char *id, const char *user);
/* Ends the session; 0, or -ENOENT. */
int api_mcp_session_end(struct api *api, const char *id, const char *user);
int api_mcp_session_count(struct api *api);

/* 1 when a request with this Origin header may use /mcp: no Origin (not a browser), an
 * origin on the CORS list (--cors-origins), or a loopback origin (http://localhost:3000,
 * http://127.0.0.1, http://[::1]). Anything else could be a DNS-rebinding page. */
int api_mcp_origin_ok(struct api *api, const char *origin);

#endif

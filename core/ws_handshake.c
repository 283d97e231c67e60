/* The WebSocket opening handshake (RFC 6455 4.2): checking a client's request and the
 * Sec-WebSocket-Accept key (core/ws.h). */
#include "core/ws.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <openssl/sha.h>

#include "core/base64.h"

int td_ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return -EINVAL;
    for (int i = 0; i < 22; i++)
        if (td_base64_value((unsigned char)key[i], 0) < 0)
            return -EINVAL;
    /* 16 bytes leave the last character's low four bits zero. */
    if (td_base64_value((unsigned char)key[21], 0) & 15)
        return -EINVAL;
    unsigned char cat[24 + sizeof guid], md[SHA_DIGEST_LENGTH];
    memcpy(cat, key, 24);
    memcpy(cat + 24, guid, sizeof guid - 1);
    SHA1(cat, 24 + sizeof guid - 1, md);
    td_base64_encode(md, sizeof md, out, 0);
    return 0;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static int has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *end = e;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - p) == tl && strncasecmp(p, token, tl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

int td_ws_check(struct td_http_req *req)
{
    const char *up = td_http_header(req, "upgrade");
    const char *conn = td_http_header(req, "connection");
    if (!td_http_req_is_upgrade(req) || !has_token(up, "websocket") || !has_token(conn, "upgrade")) {
        td_http_add_header(req, "Upgrade", "websocket");
        td_http_problem(req, 426, "upgrade-required", "Upgrade Required",
                        "this resource speaks WebSocket only (Upgrade: websocket)", NULL);
        return -EINVAL;
    }
    const char *version = td_http_header(req, "sec-websocket-version");
    if (!version || strcmp(version, "13") != 0) {
        td_http_add_header(req, "Sec-WebSocket-Version", "13");
        td_http_problem(req, 426, "websocket-version", "Upgrade Required",
                        "only WebSocket version 13 (RFC 6455) is spoken", NULL);
        return -EINVAL;
    }
    char accept[29];
    if (td_ws_accept_key(td_http_header(req, "sec-websocket-key"), accept) != 0) {
        td_http_problem(req, 400, "websocket-key", "Bad Request",
                        "Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);
        return -EINVAL;
    }
    return 0;
}


/* The Model Context Protocol over streamable HTTP at /mcp: JSON-RPC 2.0 with initialize
 * (version negotiation), ping, tools/list and tools/call over the tool layer (tools.h).
 * POST carries the client's messages; the answer is JSON, or one SSE event per answer
 * when the client's Accept prefers text/event-stream. There is no server-to-client
 * stream (GET is 405) and the server never sends requests of its own. DELETE ends a
 * session. Authentication is the /api door's bearer token; the session belongs to the
 * token's user.
 *
 * HTTP-level refusals (Origin, session, header, media type) are problem+json; a message
 * that is not JSON-RPC gets a JSON-RPC error (-32700, -32600) with 400, and errors of
 * well-formed requests (-32601, -32602) are answers like any other. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "roles/api/mcp.h"
#include "roles/api/tools.h"

#define MCP_BATCH_MAX 64

enum { RPC_PARSE = -32700, RPC_INVALID = -32600, RPC_NO_METHOD = -32601, RPC_PARAMS = -32602 };

/* One POST: its answers gather here until the last tool call is done. */
struct exchange {
    struct api         *api;
    struct td_http_req *req;
    char                user[API_SUB_MAX];
    char                version[16];
    int                 sse;
    int                 batch;
    int                 pending;     /* tool calls out, plus one while dispatching */
    json_t             *answers;     /* array of JSON-RPC responses */
};

struct tool_wait {
    struct exchange *x;
    json_t          *id;
};

static const char *str_or(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* ---------- answers ---------- */

static json_t *rpc_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* Writes one or several JSON-RPC messages as JSON or as SSE events. */
static void send_messages(struct td_http_req *req, int status, int sse, json_t *msgs, int batch)
{
    struct td_buf b = {0};
    if (sse) {
        size_t i;
        json_t *m;
        json_t *list = batch ? msgs : NULL;
        if (!batch) {
            list = json_array();
            json_array_append(list, msgs);
        }
        json_array_foreach(list, i, m) {
            char *s = json_dumps(m, JSON_COMPACT);
            td_buf_puts(&b, "event: message\ndata: ");
            td_buf_puts(&b, s ? s : "null");
            td_buf_puts(&b, "\n\n");
            free(s);
        }
        if (!batch)
            json_decref(list);
        td_http_add_header(req, "X-Accel-Buffering", "no");
        td_http_respond_buf(req, status, "text/event-stream", &b);
        return;
    }
    char *s = json_dumps(msgs, JSON_COMPACT);
    td_http_respond(req, status, "application/json", s ? s : "null", s ? strlen(s) : 4);
    free(s);
}

static void finish(struct exchange *x)
{
    if (--x->pending > 0)
        return;
    if (json_array_size(x->answers) == 0)
        td_http_respond(x->req, 202, NULL, NULL, 0);
    else
        send_messages(x->req, 200, x->sse,
                      x->batch ? x->answers : json_array_get(x->answers, 0), x->batch);
    json_decref(x->answers);
    free(x);
}

static void answer(struct exchange *x, json_t *msg)
{
    if (msg)
        json_array_append_new(x->answers, msg);
}

/* ---------- methods ---------- */

static json_t *tools_list(struct api *api)
{
    size_t n;
    const struct api_tool *t = api_tools(&n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "name", t[i].name,
                                              "description", t[i].description, "inputSchema",
                                              api_tool_schema(api, t[i].name)));
    return json_pack("{s:o}", "tools", list);
}

static int structured(const char *version)
{
    return strcmp(version, "2025-06-18") >= 0;   /* structuredContent came with 2025-06-18 */
}

static void on_tool_done(json_t *result, int is_error, void *arg)
{
    struct tool_wait *w = arg;
    struct exchange *x = w->x;
    char *text = NULL;
    if (is_error) {
        const char *slug = json_string_value(json_object_get(result, "error"));
        const char *msg = json_string_value(json_object_get(result, "message"));
        struct td_buf b = {0};
        td_buf_printf(&b, "%s: %s", slug ? slug : "error", msg ? msg : "the tool failed");
        json_t *errors = json_object_get(result, "errors");
        if (errors) {
            char *e = json_dumps(errors, JSON_COMPACT);
            td_buf_printf(&b, " %s", e ? e : "");
            free(e);
        }
        text = td_buf_steal(&b, NULL);
    } else {
        text = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                          text ? text : "", "isError", is_error);
    if (r && structured(x->version))
        json_object_set_new(r, "structuredContent", json_is_array(result)
                                                        ? json_pack("{s:O}", "tasks", result)
                                                        : json_incref(result));
    free(text);
    answer(x, r ? rpc_result(w->id, r) : rpc_error(w->id, -32603, "out of memory"));
    json_decref(w->id);
    free(w);
    finish(x);
}

static void tools_call(struct exchange *x, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!name) {
        answer(x, rpc_error(id, RPC_PARAMS, "tools/call needs params.name, a tool's name"));
        return;
    }
    if (!api_tool_schema(x->api, name)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Unknown tool: %.100s", name);
        answer(x, rpc_error(id, RPC_PARAMS, msg));
        return;
    }
    if (args && !json_is_object(args)) {
        answer(x, rpc_error(id, RPC_PARAMS, "params.arguments must be an object"));
        return;
    }
    struct tool_wait *w = calloc(1, sizeof *w);
    if (!w) {
        answer(x, rpc_error(id, -32603, "out of memory"));
        return;
    }
    w->x = x;
    w->id = json_incref(id);
    x->pending++;
    char tp[56];
    td_trace_format(td_http_trace(x->req), tp);
    struct api_tool_origin origin = {tp, td_http_request_id(x->req)};
    json_t *empty = args ? NULL : json_object();
    api_tools_call(x->api, x->user, name, args ? args : empty, &origin, on_tool_done, w);
    json_decref(empty);
}

/* One message of a POST (not initialize). */
static void dispatch(struct exchange *x, struct api_mcp_session *s, json_t *m)
{
    json_t *id = json_object_get(m, "id");
    json_t *method = json_object_get(m, "method");
    int id_ok = json_is_string(id) || json_is_integer(id);
    if (!json_is_object(m) || strcmp(str_or(json_object_get(m, "jsonrpc")), "2.0") ||
        (method && !json_is_string(method)) || (id && !id_ok)) {
        answer(x, rpc_error(id_ok ? id : NULL, RPC_INVALID, "not a JSON-RPC 2.0 message"));
        return;
    }
    if (!method) {
        if (!id || !(json_object_get(m, "result") || json_object_get(m, "error")))
            answer(x, rpc_error(id, RPC_INVALID, "not a JSON-RPC 2.0 message"));
        return;   /* a response: this server sends no requests, nothing waits for it */
    }
    const char *name = json_string_value(method);
    json_t *params = json_object_get(m, "params");
    if (!id) {   /* a notification: nothing answers it */
        if (strcmp(name, "notifications/initialized") == 0)
            s->initialized = 1;
        return;
    }
    if (params && !json_is_object(params)) {
        answer(x, rpc_error(id, RPC_PARAMS, "params must be an object"));
        return;
    }
    if (strcmp(name, "ping") == 0)
        answer(x, rpc_result(id, json_object()));
    else if (strcmp(name, "tools/list") == 0)
        answer(x, rpc_result(id, tools_list(x->api)));
    else if (strcmp(name, "tools/call") == 0)
        tools_call(x, id, params);
    else if (strcmp(name, "initialize") == 0)
        answer(x, rpc_error(id, RPC_INVALID, "initialize must be sent alone, not in a batch"));
    else
        answer(x, rpc_error(id, RPC_NO_METHOD, "Method not found"));
}

static void initialize(struct exchange *x, json_t *m)
{
    json_t *id = json_object_get(m, "id");
    json_t *params = json_object_get(m, "params");
    if (strcmp(str_or(json_object_get(m, "jsonrpc")), "2.0") != 0 ||
        !(json_is_string(id) || json_is_integer(id))) {
        answer(x, rpc_error(NULL, RPC_INVALID, "not a JSON-RPC 2.0 request"));
        return;
    }
    const char *requested = json_string_value(json_object_get(params, "protocolVersion"));
    if (!requested) {
        answer(x, rpc_error(id, RPC_PARAMS, "initialize needs params.protocolVersion"));
        return;
    }
    const char *version = api_mcp_negotiate(requested);
    struct api_mcp_session *s = api_mcp_session_new(x->api, x->user, version);
    if (!s) {
        answer(x, rpc_error(id, -32603, "out of memory"));
        return;
    }
    snprintf(x->version, sizeof x->version, "%s", version);
    td_http_add_header(x->req, "Mcp-Session-Id", s->id);
    answer(x, rpc_result(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}",
        "protocolVersion", version, "capabilities", "tools", "listChanged", 0,
        "serverInfo", "name", "todod", "version", TODOD_VERSION,
        "instructions", "Task tools for the authenticated user: pass that user's id as "
        "user_id. Task ids are UUIDs; list_tasks or search_tasks finds them.")));
}

/* ---------- transport ---------- */

/* The q of the most specific range in accept that matches type/sub; 0 when none does. */
static double accept_q(const char *accept, const char *type, const char *sub)
{
    double q = 0;
    int best = -1;
    const char *p = accept;
    while (*p) {
        size_t len = strcspn(p, ",");
        char range[128];
        snprintf(range, sizeof range, "%.*s", (int)(len < sizeof range ? len : sizeof range - 1), p);
        p += len + (p[len] == ',');
        char *params = strchr(range, ';'), *r = range;
        if (params)
            *params++ = '\0';
        while (*r == ' ' || *r == '\t')
            r++;
        size_t n = strcspn(r, " \t");
        r[n] = '\0';
        char *slash = strchr(r, '/');
        if (!slash)
            continue;
        *slash = '\0';
        const char *rt = r, *rs = slash + 1;
        int spec = strcmp(rt, "*") == 0 ? 0 : strcmp(rs, "*") == 0 ? 1 : 2;
        if ((spec >= 1 && strcasecmp(rt, type)) || (spec == 2 && strcasecmp(rs, sub)))
            continue;
        double rq = 1;
        const char *qp = params ? strstr(params, "q=") : NULL;
        if (qp)
            rq = strtod(qp + 2, NULL);
        if (spec > best) {
            best = spec;
            q = rq;
        }
    }
    return q;
}

/* 0 JSON, 1 SSE, -1 neither acceptable. */
static int choose_sse(const char *accept)
{
    if (!accept || !*accept)
        return 0;
    double json = accept_q(accept, "application", "json");
    double sse = accept_q(accept, "text", "event-stream");
    if (json <= 0 && sse <= 0)
        return -1;
    return sse > json;
}

static int admit(struct api *api, struct td_http_req *req)
{
    if (!api_mcp_origin_ok(api, td_http_header(req, "origin"))) {
        td_http_problem(req, 403, "forbidden-origin", "Forbidden",
                        "this Origin may not use /mcp (add it to --cors-origins)", NULL);
        return -EPERM;
    }
    return 0;
}

static struct api_mcp_session *session_of(struct api *api, struct td_http_req *req,
                                          const char *user)
{
    const char *id = td_http_header(req, "mcp-session-id");
    if (!id) {
        td_http_problem(req, 400, "mcp-session-required", "Bad Request",
                        "send the Mcp-Session-Id header that initialize returned", NULL);
        return NULL;
    }
    struct api_mcp_session *s = api_mcp_session_find(api, id, user);
    if (!s) {
        td_http_problem(req, 404, "mcp-session-not-found", "Not Found",
                        "no such MCP session (it ended or expired): initialize again", NULL);
        return NULL;
    }
    const char *v = td_http_header(req, "mcp-protocol-version");
    if (v && (!api_mcp_version_known(v) || strcmp(v, s->version) != 0)) {
        char detail[160];
        snprintf(detail, sizeof detail, "MCP-Protocol-Version must be the negotiated version, %s",
                 s->version);
        td_http_problem(req, 400, "mcp-protocol-version", "Bad Request", detail, NULL);
        return NULL;
    }
    return s;
}

static void send_rpc_error(struct td_http_req *req, int sse, int code, const char *message)
{
    json_t *e = rpc_error(NULL, code, message);
    send_messages(req, 400, sse, e, 0);
    json_decref(e);
}

static int is_initialize(json_t *m)
{
    return json_is_object(m) &&
           strcmp(str_or(json_object_get(m, "method")), "initialize") == 0;
}

static void handle_post(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    if (admit(api, req))
        return;
    const char *type = td_http_header(req, "content-type");
    if (!type || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] && type[16] != ';' && type[16] != ' ')) {
        td_http_problem(req, 415, "unsupported-media-type", "Unsupported Media Type",
                        "send JSON-RPC messages as application/json", NULL);
        return;
    }
    int sse = choose_sse(td_http_header(req, "accept"));
    if (sse < 0) {
        td_http_problem(req, 406, "not-acceptable", "Not Acceptable",
                        "accept application/json or text/event-stream", NULL);
        return;
    }
    size_t len;
    const char *body = td_http_body(req, &len);
    json_t *msg = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!msg) {
        send_rpc_error(req, sse, RPC_PARSE, "Parse error");
        return;
    }
    if (!json_is_object(msg) && (!json_is_array(msg) || json_array_size(msg) == 0 ||
                                 json_array_size(msg) > MCP_BATCH_MAX)) {
        int array = json_is_array(msg);
        json_decref(msg);
        send_rpc_error(req, sse, RPC_INVALID, array ? "a batch holds 1 to 64 messages"
                                                    : "Invalid Request");
        return;
    }
    struct exchange *x = calloc(1, sizeof *x);
    if (!x || !(x->answers = json_array())) {
        free(x);
        json_decref(msg);
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return;
    }
    *x = (struct exchange){.api = api, .req = req, .sse = sse, .pending = 1,
                           .batch = json_is_array(msg), .answers = x->answers};
    snprintf(x->user, sizeof x->user, "%s", td_door_subject(req));
    if (is_initialize(msg) && json_object_get(msg, "id")) {
        initialize(x, msg);
        json_decref(msg);
        finish(x);
        return;
    }
    struct api_mcp_session *s = session_of(api, req, x->user);
    if (!s) {
        json_decref(x->answers);
        free(x);
        json_decref(msg);
        return;
    }
    snprintf(x->version, sizeof x->version, "%s", s->version);
    if (x->batch && strcmp(s->version, "2025-06-18") >= 0) {
        json_decref(x->answers);
        free(x);
        json_decref(msg);
        send_rpc_error(req, sse, RPC_INVALID, "JSON-RPC batches are not part of MCP 2025-06-18");
        return;
    }
    if (x->batch) {
        size_t i;
        json_t *m;
        json_array_foreach(msg, i, m)
            dispatch(x, s, m);
    } else {
        dispatch(x, s, msg);
        /* A single message that is not JSON-RPC is the request's fault: 400. */
        json_t *only = json_array_get(x->answers, 0);
        json_t *err = json_object_get(only, "error");
        if (x->pending == 1 && json_integer_value(json_object_get(err, "code")) == RPC_INVALID &&
            json_is_null(json_object_get(only, "id"))) {
            send_messages(req, 400, sse, only, 0);
            json_decref(x->answers);
            free(x);
            json_decref(msg);
            return;
        }
    }
    json_decref(msg);
    finish(x);
}

static void handle_delete(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    if (admit(api, req))
        return;
    const char *id = td_http_header(req, "mcp-session-id");
    if (!id) {
        td_http_problem(req, 400, "mcp-session-required", "Bad Request",
                        "send the Mcp-Session-Id header of the session to end", NULL);
        return;
    }
    if (api_mcp_session_end(api, id, td_door_subject(req)) != 0) {
        td_http_problem(req, 404, "mcp-session-not-found", "Not Found", "no such MCP session",
                        NULL);
        return;
    }
    td_http_respond(req, 204, NULL, NULL, 0);
}

/* No server-to-client stream: this server never sends requests or notifications. */
static void handle_get(struct td_http_req *req, void *arg)
{
    if (admit(arg, req))
        return;
    td_http_add_header(req, "Allow", "POST, DELETE");
    td_http_problem(req, 405, "method-not-allowed", "Method Not Allowed",
                    "this MCP server offers no SSE stream on GET; POST messages to /mcp", NULL);
}

const struct td_route_def api_mcp_routes[] = {
    {"POST", "/mcp", handle_post, TD_DOOR_BEARER},
    {"GET", "/mcp", handle_get, TD_DOOR_BEARER},
    {"DELETE", "/mcp", handle_delete, TD_DOOR_BEARER},
    {0},
};

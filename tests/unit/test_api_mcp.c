/* roles/api/mcp.c: MCP over streamable HTTP. initialize negotiates the version and issues
 * Mcp-Session-Id; later messages need it (400 without, 404 for an unknown or another
 * user's) and a matching MCP-Protocol-Version; JSON-RPC errors; notifications get 202;
 * batches only where the version has them; SSE when Accept prefers it; bearer auth and
 * the Origin check; GET 405, DELETE ends the session. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/mcp_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_user user;

static void start(void)
{
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_mcp, .init = start, .fini = stop, .timeout = 60);

/* POST body in session with extra headers; returns the status, the body as JSON in *j. */
static int post(const char *session, const char *body, const char *const *headers, json_t **j,
                char **content_type)
{
    struct td_test_http r;
    int status = td_test_mcp_post(S.port, user.token, session, body, headers, &r);
    if (j)
        *j = r.body_len ? json_loads(r.body, 0, NULL) : NULL;
    if (content_type)
        *content_type = td_test_header(r.headers, "Content-Type");
    td_test_http_free(&r);
    return status;
}

static long error_code(json_t *j)
{
    return json_integer_value(td_test_jget(j, "error.code"));
}

Test(api_mcp, initialize_negotiates_the_protocol_version)
{
    char session[33];
    const char *asked[] = {"2025-06-18", "2025-03-26", "2024-11-05", "2099-01-01"};
    const char *got[] = {"2025-06-18", "2025-03-26", "2024-11-05", "2025-06-18"};
    for (int i = 0; i < 4; i++) {
        json_t *r = td_test_mcp_init(S.port, user.token, asked[i], session);
        cr_expect_str_eq(td_test_jstr(r, "protocolVersion"), got[i], "asked %s", asked[i]);
        cr_expect_str_eq(td_test_jstr(r, "serverInfo.name"), "todod");
        cr_expect(json_is_object(td_test_jget(r, "capabilities.tools")));
        json_decref(r);
    }
    json_t *j;
    cr_expect_eq(post(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}",
                      NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32602, "no protocolVersion");
    json_decref(j);
    cr_expect_eq(post(NULL, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                      "{\"protocolVersion\":\"2025-06-18\"}}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32600, "not JSON-RPC 2.0");
    json_decref(j);
}

Test(api_mcp, later_messages_need_the_session_and_its_version)
{
    char session[33];
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", session));
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}";
    json_t *j;
    cr_expect_eq(post(session, ping, NULL, &j, NULL), 200);
    cr_expect_str_eq(td_test_jstr(j, "id"), "p");
    cr_expect(json_is_object(json_object_get(j, "result")));
    json_decref(j);
    cr_expect_eq(post(NULL, ping, NULL, NULL, NULL), 400, "no session");
    cr_expect_eq(post("0123456789abcdef0123456789abcdef", ping, NULL, NULL, NULL), 404);
    const char *good[] = {"MCP-Protocol-Version: 2025-06-18", NULL};
    const char *other[] = {"MCP-Protocol-Version: 2025-03-26", NULL};
    const char *bad[] = {"MCP-Protocol-Version: 1.0", NULL};
    cr_expect_eq(post(session, ping, good, NULL, NULL), 200);
    cr_expect_eq(post(session, ping, other, NULL, NULL), 400, "not the negotiated version");
    cr_expect_eq(post(session, ping, bad, NULL, NULL), 400);
    /* Another user's token cannot use the session. */
    struct td_test_user u2;
    td_test_user_fake(&u2);
    struct td_test_http r;
    cr_expect_eq(td_test_mcp_post(S.port, u2.token, session, ping, NULL, &r), 404);
    td_test_http_free(&r);
    /* DELETE ends it. */
    const char *sid[] = {td_test_fmt("Mcp-Session-Id: %s", session), NULL};
    cr_expect_eq(td_test_api(S.port, u2.token, "DELETE", "/mcp", NULL, sid, &r), 404);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, user.token, "DELETE", "/mcp", NULL, sid, &r), 204);
    td_test_http_free(&r);
    cr_expect_eq(post(session, ping, NULL, NULL, NULL), 404, "ended");
    cr_expect_eq(td_test_api(S.port, user.token, "DELETE", "/mcp", NULL, NULL, &r), 400);
    td_test_http_free(&r);
    free((char *)sid[0]);
}

Test(api_mcp, json_rpc_errors_and_notifications)
{
    char session[33];
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", session));
    json_t *j;
    cr_expect_eq(post(session, "{\"jsonrpc\":", NULL, &j, NULL), 400);
    cr_expect_eq(error_code(j), -32700);
    cr_expect(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    cr_expect_eq(post(session, "\"ping\"", NULL, &j, NULL), 400);
    cr_expect_eq(error_code(j), -32600);
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32600);
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"method\":7}", NULL, &j, NULL), 400);
    cr_expect_eq(error_code(j), -32600);
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\"}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32601);
    cr_expect_eq(json_integer_value(json_object_get(j, "id")), 2);
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":[1]}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32602);
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{}}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32602, "no tool name");
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"rm_rf\"}}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32602, "unknown tool");
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"list_tasks\",\"arguments\":[]}}", NULL, &j, NULL), 200);
    cr_expect_eq(error_code(j), -32602, "arguments not an object");
    json_decref(j);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{}}", NULL, NULL, NULL), 202);
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}", NULL, NULL, NULL), 202, "a response");
    const char *text[] = {"Content-Type: text/plain", NULL};
    cr_expect_eq(post(session, "{}", text, NULL, NULL), 415);
}

Test(api_mcp, batches_only_in_versions_that_have_them)
{
    char old[33], now[33];
    json_decref(td_test_mcp_init(S.port, user.token, "2025-03-26", old));
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", now));
    const char *batch = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"list_tasks\",\"arguments\":{\"user_id\":\"%s\"}}},"
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}]";
    char *body = td_test_fmt(batch, user.id);
    json_t *j;
    cr_expect_eq(post(old, body, NULL, &j, NULL), 200);
    cr_assert(json_is_array(j));
    cr_expect_eq(json_array_size(j), 3, "one answer per request");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *a = json_array_get(j, i);
        long id = json_integer_value(json_object_get(a, "id"));
        seen |= 1 << id;
        if (id == 2) {
            cr_expect(json_is_false(td_test_jget(a, "result.isError")));
            cr_expect_null(td_test_jget(a, "result.structuredContent"), "no structuredContent before 2025-06-18");
        }
        if (id == 3)
            cr_expect_eq(error_code(a), -32600, "initialize in a batch");
    }
    cr_expect_eq(seen, 0xe);
    json_decref(j);
    cr_expect_eq(post(now, body, NULL, &j, NULL), 400);
    cr_expect_eq(error_code(j), -32600);
    json_decref(j);
    cr_expect_eq(post(old, "[]", NULL, &j, NULL), 400);
    json_decref(j);
    free(body);
}

Test(api_mcp, sse_when_accept_prefers_it)
{
    char session[33];
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", session));
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    const char *only[] = {"Accept: text/event-stream", NULL};
    const char *pref[] = {"Accept: application/json;q=0.5, text/event-stream", NULL};
    const char *both[] = {"Accept: text/event-stream, application/json", NULL};
    const char *any[] = {"Accept: */*", NULL};
    const char *none[] = {"Accept: text/html", NULL};
    const char *const *cases[] = {only, pref, both, any};
    const char *want[] = {"text/event-stream", "text/event-stream", "application/json", "application/json"};
    for (int i = 0; i < 4; i++) {
        struct td_test_http r;
        cr_expect_eq(td_test_mcp_post(S.port, user.token, session, ping, cases[i], &r), 200);
        char *type = td_test_header(r.headers, "Content-Type");
        cr_expect_str_eq(type ? type : "", want[i], "%s", cases[i][0]);
        if (i < 2)
            cr_expect_str_eq(r.body, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n");
        free(type);
        td_test_http_free(&r);
    }
    cr_expect_eq(post(session, ping, none, NULL, NULL), 406);
}

Test(api_mcp, auth_origin_and_methods)
{
    struct td_test_http r;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}";
    cr_expect_eq(td_test_mcp_post(S.port, NULL, NULL, ping, NULL, &r), 401, "no token");
    td_test_http_free(&r);
    const char *evil[] = {"Origin: http://evil.example:8080", NULL};
    cr_expect_eq(td_test_mcp_post(S.port, user.token, NULL, ping, evil, &r), 403);
    td_test_expect_problem(&r, 403, "forbidden-origin", "rebinding origin");
    td_test_http_free(&r);
    const char *local[] = {"Origin: http://localhost:3000", NULL};
    cr_expect_eq(td_test_mcp_post(S.port, user.token, NULL, ping, local, &r), 200);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, user.token, "GET", "/mcp", NULL, NULL, &r), 405);
    char *allow = td_test_header(r.headers, "Allow");
    cr_expect_str_eq(allow ? allow : "", "POST, DELETE");
    free(allow);
    td_test_http_free(&r);
}

Test(api_mcp, tools_list_and_a_call)
{
    char session[33];
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", session));
    json_t *j;
    cr_expect_eq(post(session, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL, &j, NULL), 200);
    json_t *tools = td_test_jget(j, "result.tools");
    cr_expect_eq(json_array_size(tools), 16);
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *t = json_array_get(tools, i);
        cr_expect(json_is_string(json_object_get(t, "name")));
        cr_expect(json_is_string(json_object_get(t, "description")));
        cr_expect_str_eq(td_test_jstr(t, "inputSchema.type"), "object");
    }
    cr_expect_str_eq(td_test_jstr(json_array_get(tools, 0), "name"), "add_task");
    json_decref(j);
    int is_error;
    char *args = td_test_fmt("{\"user_id\":\"%s\",\"title\":\"From MCP\"}", user.id);
    json_t *r = td_test_mcp_tool(S.port, user.token, session, "add_task", args, &is_error);
    cr_expect(!is_error);
    cr_expect_str_eq(td_test_jstr(r, "status"), "created");
    json_decref(r);
    free(args);
    args = td_test_fmt("{\"user_id\":\"%s\"}", user.id);
    r = td_test_mcp_tool(S.port, user.token, session, "list_tasks", args, &is_error);
    cr_expect_eq(json_array_size(json_object_get(r, "tasks")), 1, "a list is {tasks:[...]}");
    json_decref(r);
    free(args);
}

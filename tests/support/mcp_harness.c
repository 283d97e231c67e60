#include "tests/support/mcp_harness.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/support/api_harness.h"

int td_test_mcp_post(int port, const char *token, const char *session, const char *body,
                     const char *const *headers, struct td_test_http *out)
{
    const char *all[16];
    int n = 0, accept = 0;
    char *sid = session ? td_test_fmt("Mcp-Session-Id: %s", session) : NULL;
    if (sid)
        all[n++] = sid;
    for (int i = 0; headers && headers[i] && n < 14; i++) {
        accept |= strncasecmp(headers[i], "accept:", 7) == 0;
        all[n++] = headers[i];
    }
    if (!accept)
        all[n++] = "Accept: application/json, text/event-stream";
    all[n] = NULL;
    int status = td_test_api(port, token, "POST", "/mcp", body, all, out);
    free(sid);
    return status;
}

json_t *td_test_mcp_init(int port, const char *token, const char *version, char session[33])
{
    char *body = td_test_fmt("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                             "{\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":"
                             "{\"name\":\"test\",\"version\":\"1\"}}}", version);
    struct td_test_http r;
    cr_assert_eq(td_test_mcp_post(port, token, NULL, body, NULL, &r), 200, "initialize: %s", r.body);
    free(body);
    char *sid = td_test_header(r.headers, "Mcp-Session-Id");
    cr_assert(sid && strlen(sid) == 32, "initialize issues a session id");
    snprintf(session, 33, "%s", sid);
    free(sid);
    json_t *j = json_loads(r.body, 0, NULL);
    td_test_http_free(&r);
    cr_assert(j, "initialize answers JSON");
    json_t *result = json_incref(json_object_get(j, "result"));
    json_decref(j);
    cr_assert(result, "initialize has a result");
    struct td_test_http n;
    cr_assert_eq(td_test_mcp_post(port, token, session,
                                  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                                  NULL, &n), 202);
    td_test_http_free(&n);
    return result;
}

json_t *td_test_mcp_tool(int port, const char *token, const char *session, const char *name,
                         const char *args, int *is_error)
{
    char *body = td_test_fmt("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                             "{\"name\":\"%s\",\"arguments\":%s}}", name, args);
    struct td_test_http r;
    cr_assert_eq(td_test_mcp_post(port, token, session, body, NULL, &r), 200, "%s: %s", name, r.body);
    free(body);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert(j, "%s answers JSON: %s", name, r.body);
    json_t *result = json_object_get(j, "result");
    cr_assert(result, "%s has a result: %s", name, r.body);
    td_test_http_free(&r);
    *is_error = json_is_true(json_object_get(result, "isError"));
    json_t *content = json_object_get(json_array_get(json_object_get(result, "content"), 0), "text");
    cr_assert(json_is_string(content), "%s has text content", name);
    json_t *out = json_incref(json_object_get(result, "structuredContent"));
    json_decref(j);
    cr_assert(out, "%s has structuredContent", name);
    return out;
}

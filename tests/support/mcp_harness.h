/* Talking MCP (streamable HTTP, JSON-RPC) to a todod under test, for the tool layer's
 * and the MCP server's tests. */
#ifndef TD_TEST_MCP_HARNESS_H
#define TD_TEST_MCP_HARNESS_H
#include <jansson.h>

#include "tests/support/net_harness.h"

/* initialize with protocol version (then notifications/initialized); asserts 200 and
 * fills session (33 bytes). Returns the initialize result (caller frees). */
json_t *td_test_mcp_init(int port, const char *token, const char *version, char session[33]);
/* POSTs body to /mcp with the session (NULL: none) and extra headers (NULL-terminated, may
 * be NULL); Accept is both types unless extra headers set one. Returns the status. */
int td_test_mcp_post(int port, const char *token, const char *session, const char *body,
                     const char *const *headers, struct td_test_http *out);
/* tools/call name with args (a JSON object text) in session; asserts a JSON-RPC result and
 * returns its structuredContent (caller frees); *is_error gets isError. */
json_t *td_test_mcp_tool(int port, const char *token, const char *session, const char *name,
                         const char *args, int *is_error);

#endif

/* roles/api/mcp_session.c: protocol version negotiation, sessions bound to their user,
 * ending and expiring them, and the Origin check against DNS rebinding. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <uv.h>

#include "core/config.h"
#include "roles/api/mcp.h"

static struct td_config cfg;
static struct td_svc svc;
static struct api api;
static uv_loop_t loop;

static void setup_with(const char *origins)
{
    uv_loop_init(&loop);
    cfg.cors_origins = (char *)origins;
    svc.loop = &loop;
    svc.cfg = &cfg;
    api.svc = &svc;
    cr_assert_eq(api_mcp_init(&api), 0);
}

static void setup(void)
{
    setup_with(NULL);
}

static void teardown(void)
{
    api_mcp_fini(&api);
    api_mcp_fini(&api);   /* twice is fine (fini after a failed init) */
    uv_loop_close(&loop);
}

TestSuite(mcp_session, .init = setup, .fini = teardown);

Test(mcp_session, the_client_version_when_served_else_the_newest)
{
    cr_expect_str_eq(api_mcp_negotiate("2025-06-18"), "2025-06-18");
    cr_expect_str_eq(api_mcp_negotiate("2025-03-26"), "2025-03-26");
    cr_expect_str_eq(api_mcp_negotiate("2024-11-05"), "2024-11-05");
    cr_expect_str_eq(api_mcp_negotiate("2025-11-25"), "2025-06-18");
    cr_expect_str_eq(api_mcp_negotiate("garbage"), "2025-06-18");
    cr_expect_str_eq(api_mcp_negotiate(NULL), "2025-06-18");
    cr_expect(api_mcp_version_known("2024-11-05"));
    cr_expect(!api_mcp_version_known("2024-10-07"));
    cr_expect(!api_mcp_version_known(NULL));
}

Test(mcp_session, a_session_is_its_users_alone_until_it_ends)
{
    struct api_mcp_session *a = api_mcp_session_new(&api, "alice", "2025-06-18");
    cr_assert(a);
    char id[MCP_SESSION_ID_LEN + 1];
    strcpy(id, a->id);
    cr_expect_eq(strlen(id), MCP_SESSION_ID_LEN);
    cr_expect_eq(strspn(id, "0123456789abcdef"), MCP_SESSION_ID_LEN);
    struct api_mcp_session *b = api_mcp_session_new(&api, "alice", "2025-03-26");
    cr_assert(b);
    cr_expect_str_neq(b->id, id, "ids are random");
    cr_expect_eq(api_mcp_session_find(&api, id, "alice"), a);
    cr_expect_str_eq(api_mcp_session_find(&api, b->id, "alice")->version, "2025-03-26");
    cr_expect_null(api_mcp_session_find(&api, id, "mallory"), "another user's session is none");
    cr_expect_eq(api_mcp_session_end(&api, id, "mallory"), -ENOENT);
    cr_expect_null(api_mcp_session_find(&api, "short", "alice"));
    cr_expect_null(api_mcp_session_find(&api, NULL, "alice"));
    cr_expect_eq(api_mcp_session_end(&api, id, "alice"), 0);
    cr_expect_null(api_mcp_session_find(&api, id, "alice"));
    cr_expect_eq(api_mcp_session_end(&api, id, "alice"), -ENOENT);
    cr_expect_eq(api_mcp_session_count(&api), 1);
}

Test(mcp_session, an_idle_session_expires)
{
    struct api_mcp_session *s = api_mcp_session_new(&api, "bob", "2025-06-18");
    cr_assert(s);
    char id[MCP_SESSION_ID_LEN + 1];
    strcpy(id, s->id);
    s->last_used = uv_now(&loop) - MCP_SESSION_IDLE_MS - 1;
    cr_expect_null(api_mcp_session_find(&api, id, "bob"));
    cr_expect_eq(api_mcp_session_count(&api), 0, "the expired session is gone");
    /* Creating sessions sweeps idle ones too. */
    s = api_mcp_session_new(&api, "bob", "2025-06-18");
    s->last_used = uv_now(&loop) - MCP_SESSION_IDLE_MS - 1;
    cr_assert(api_mcp_session_new(&api, "bob", "2025-06-18"));
    cr_expect_eq(api_mcp_session_count(&api), 1);
}

Test(mcp_session, origins_from_loopback_or_the_cors_list_only)
{
    cr_expect(api_mcp_origin_ok(&api, NULL), "no Origin: not a browser");
    cr_expect(api_mcp_origin_ok(&api, "http://localhost:3000"));
    cr_expect(api_mcp_origin_ok(&api, "http://127.0.0.1:8080"));
    cr_expect(api_mcp_origin_ok(&api, "https://[::1]:8443"));
    cr_expect(api_mcp_origin_ok(&api, "http://localhost"));
    cr_expect(!api_mcp_origin_ok(&api, "http://evil.example"), "a rebinding page's origin");
    cr_expect(!api_mcp_origin_ok(&api, "http://localhost.evil.example"));
    cr_expect(!api_mcp_origin_ok(&api, "http://127.0.0.1.evil.example"));
    cr_expect(!api_mcp_origin_ok(&api, "null"));
    cr_expect(!api_mcp_origin_ok(&api, "file://localhost"));
}

Test(mcp_session, origins_on_the_cors_list, .init = NULL)
{
    setup_with("https://app.example.com");
    cr_expect(api_mcp_origin_ok(&api, "https://app.example.com"));
    cr_expect(!api_mcp_origin_ok(&api, "https://other.example.com"));
    cr_expect(api_mcp_origin_ok(&api, "http://localhost:5173"));
}

/* roles/sync/routes.c: GET /ws's checks (Origin list, since) and POST /api/ws-ticket. The
 * sync role runs alone in the test process with --ws-origins set. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles/sync/sync.h"
#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"
#include "tests/support/ws_harness.h"

extern const struct td_role td_role_sync;
static const struct td_role *const roles[] = {&td_role_sync};

static struct td_test_roles S;
static struct td_test_pg *pg;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_config(&S, roles, 1, 0);
    struct sync_conf *c = td_config_group(&S.cfg, &sync_settings);
    cr_assert_not_null(c);
    c->ws_origins = strdup("https://app.example, http://localhost:3000/");
    td_test_roles_run(&S);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(sync_routes, .init = start, .fini = stop, .timeout = 60);

Test(sync_routes, origin_rules)
{
    cr_expect(sync_origin_allowed(NULL, NULL, "h:1"), "no Origin: not a browser");
    cr_expect(sync_origin_allowed(NULL, "http://h:1", "h:1"));
    cr_expect(sync_origin_allowed(NULL, "https://H:1", "h:1"));
    cr_expect(!sync_origin_allowed(NULL, "http://h:2", "h:1"));
    cr_expect(!sync_origin_allowed(NULL, "http://h:1.evil", "h:1"));
    cr_expect(!sync_origin_allowed(NULL, "null", "h:1"));
    cr_expect(!sync_origin_allowed(NULL, "http://h:1", NULL));
    cr_expect(sync_origin_allowed("https://a, https://b/", "https://b", "h"));
    cr_expect(!sync_origin_allowed("https://a, https://b", "https://c", "h"));
    cr_expect(!sync_origin_allowed("https://a", "http://h", "h"), "a list replaces the default");
    cr_expect(sync_origin_allowed("*", "https://anything", "h"));
}

static int open_with_origin(const struct td_test_user *u, const char *origin, struct td_test_ws *ws)
{
    char *auth = td_test_fmt("Authorization: Bearer %s", u->token);
    char *o = td_test_fmt("Origin: %s", origin);
    const char *h[] = {auth, o, NULL};
    int st = td_test_ws_open(ws, S.port, "/ws", h, 0);
    free(auth);
    free(o);
    return st;
}

Test(sync_routes, only_listed_origins_may_open)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    struct td_test_ws ws;
    cr_expect_eq(open_with_origin(&u, "https://app.example", &ws), 101, "%s", ws.body);
    td_test_ws_free(&ws);
    cr_expect_eq(open_with_origin(&u, "http://localhost:3000", &ws), 101, "%s", ws.body);
    td_test_ws_free(&ws);
    char *own = td_test_fmt("http://127.0.0.1:%d", S.port);
    cr_expect_eq(open_with_origin(&u, own, &ws), 403, "the list replaces the default");
    cr_expect(strstr(ws.body, "origin-not-allowed"), "%s", ws.body);
    td_test_ws_free(&ws);
    free(own);
}

Test(sync_routes, since_must_be_a_number)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    char *auth = td_test_fmt("Authorization: Bearer %s", u.token);
    const char *h[] = {auth, NULL};
    static const char *const bad[] = {"/ws?since=", "/ws?since=x", "/ws?since=-3", "/ws?since=1e3",
                                      "/ws?since=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct td_test_ws ws;
        cr_expect_eq(td_test_ws_open(&ws, S.port, bad[i], h, 0), 400, "%s", bad[i]);
        td_test_ws_free(&ws);
    }
    struct td_test_ws ws;
    cr_expect_eq(td_test_ws_open(&ws, S.port, "/ws?since=0", h, 0), 101);
    json_t *hello = td_test_ws_next(&ws, 5000);
    cr_expect_str_eq(td_test_jstr(hello, "type"), "hello");
    json_decref(hello);
    td_test_ws_free(&ws);
    free(auth);
}

Test(sync_routes, tickets_are_single_use_bound_to_their_user_and_stored_hashed)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = NULL;
    cr_assert_eq(td_test_api_json(S.port, u.token, "POST", "/api/ws-ticket", NULL, NULL, &t), 201);
    const char *ticket = td_test_jstr(t, "ticket");
    cr_assert(ticket && strlen(ticket) == 32, "%s", ticket);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM ws_tickets WHERE user_id = '%s' AND "
                                     "hash = sha256(convert_to('%s', 'UTF8')) AND expires_at > now() "
                                     "AND expires_at < now() + interval '31 s'", u.id, ticket), 1);
    char *user = td_test_pg_queryf(pg, "SELECT todod_ws_ticket_redeem('%s')", ticket);
    cr_expect_str_eq(user, u.id);
    free(user);
    user = td_test_pg_queryf(pg, "SELECT count(*) FROM todod_ws_ticket_redeem('%s')", ticket);
    cr_expect_str_eq(user, "0", "redeemed twice");
    free(user);
    json_decref(t);
}

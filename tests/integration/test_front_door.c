/* The /api front door as a browser and an operator meet it, through a real `todod all`:
 * one set of answers for every role's routes (api's and audit's), CORS for a front-end
 * on another origin, the security headers, and the problem answers for an outage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *env[] = {"TODOD_JWT_SECRET=" TD_TEST_JWT_SECRET, NULL};
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate",
                          "--cors-origins", "http://localhost:3000", NULL};
    td_test_spawn(&todod, argv, env);
}

static void stop(void)
{
    td_test_stop(&todod, 15, 10000);
    td_test_pg_destroy(&pg);
}

TestSuite(front_door, .init = start, .fini = stop, .timeout = 120);

static void expect_header(const struct td_test_http *r, const char *name, const char *want)
{
    char *v = td_test_header(r->headers, name);
    if (want)
        cr_expect(v && strcmp(v, want) == 0, "%s: got \"%s\", want \"%s\"", name, v ? v : "(none)",
                  want);
    else
        cr_expect_null(v, "%s should be absent, got \"%s\"", name, v);
    free(v);
}

Test(front_door, preflight_from_an_allowed_origin)
{
    struct td_test_http r = {0};
    const char *h[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: PUT",
                       "Access-Control-Request-Headers: authorization, content-type", NULL};
    cr_assert_eq(td_test_http(todod.port, "OPTIONS", "/api/tasks/123", NULL, h, &r), 0);
    cr_expect_eq(r.status, 204, "a preflight needs no token: %d %s", r.status, r.body);
    expect_header(&r, "Access-Control-Allow-Origin", "http://localhost:3000");
    char *methods = td_test_header(r.headers, "Access-Control-Allow-Methods");
    cr_expect(methods && strstr(methods, "PUT") && strstr(methods, "DELETE") &&
              strstr(methods, "PATCH"), "methods: %s", methods);
    free(methods);
    char *allowed = td_test_header(r.headers, "Access-Control-Allow-Headers");
    cr_expect(allowed && strstr(allowed, "Authorization") && strstr(allowed, "Content-Type") &&
              strstr(allowed, "If-Match") && strstr(allowed, "Idempotency-Key"), "%s", allowed);
    free(allowed);
    td_test_http_free(&r);
}

Test(front_door, preflight_from_another_origin_gets_no_grant)
{
    struct td_test_http r = {0};
    const char *h[] = {"Origin: https://evil.example", "Access-Control-Request-Method: GET", NULL};
    cr_assert_eq(td_test_http(todod.port, "OPTIONS", "/api/tasks", NULL, h, &r), 0);
    cr_expect_neq(r.status, 204);
    expect_header(&r, "Access-Control-Allow-Origin", NULL);
    td_test_http_free(&r);
}

Test(front_door, answers_to_the_front_end_expose_its_headers)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    struct td_test_http r = {0};
    const char *h[] = {"Origin: http://localhost:3000", NULL};
    cr_assert_eq(td_test_api(todod.port, u.token, "GET", "/api/tasks", NULL, h, &r), 200);
    expect_header(&r, "Access-Control-Allow-Origin", "http://localhost:3000");
    char *expose = td_test_header(r.headers, "Access-Control-Expose-Headers");
    cr_expect(expose && strstr(expose, "ETag") && strstr(expose, "X-Next-Cursor") &&
              strstr(expose, "X-Request-ID"), "%s", expose);
    free(expose);
    td_test_http_free(&r);
}

/* api's and audit's routes answer alike: nosniff everywhere, no-store on /api. */
Test(front_door, security_headers_on_every_role)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    const char *paths[] = {"/api/tasks", "/api/audit", "/api/tags", "/api/audit/verify"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct td_test_http r = {0};
        cr_expect_eq(td_test_api(todod.port, u.token, "GET", paths[i], NULL, NULL, &r), 200,
                     "%s: %s", paths[i], r.body);
        expect_header(&r, "X-Content-Type-Options", "nosniff");
        expect_header(&r, "Cache-Control", "no-store");
        td_test_http_free(&r);
        cr_expect_eq(td_test_api(todod.port, NULL, "GET", paths[i], NULL, NULL, &r), 401);
        expect_header(&r, "X-Content-Type-Options", "nosniff");
        char *www = td_test_header(r.headers, "WWW-Authenticate");
        cr_expect_not_null(www, "%s: 401 names the scheme", paths[i]);
        free(www);
        td_test_http_free(&r);
    }
    struct td_test_http r = {0};
    cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, NULL, &r), 0);
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    expect_header(&r, "Cache-Control", NULL);
    td_test_http_free(&r);
}

/* A foreign {user_id} is refused the same way by the door, whichever role. */
Test(front_door, path_user_must_be_the_token_subject)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    struct td_test_http r = {0};
    cr_expect_eq(td_test_api(todod.port, u.token, "GET", "/api/someone-else/tasks", NULL, NULL,
                             &r), 403);
    td_test_http_free(&r);
}

/* While PostgreSQL is down, api and audit answer the same documented problem. */
Test(front_door, database_outage_is_the_same_problem_everywhere)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    td_test_pg_stop_server(&pg);
    const char *paths[] = {"/api/tasks", "/api/audit"};
    for (size_t i = 0; i < 2; i++) {
        json_t *j = NULL;
        int status = td_test_api_json(todod.port, u.token, "GET", paths[i], NULL, NULL, &j);
        cr_expect_eq(status, 503, "%s: %d", paths[i], status);
        const char *type = td_test_jstr(j, "type");
        cr_expect(type && strcmp(type, "https://todod.dev/problems/database-unavailable") == 0,
                  "%s: type %s", paths[i], type ? type : "(none)");
        json_decref(j);
    }
    td_test_pg_start_server(&pg);
}

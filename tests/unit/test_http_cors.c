/* core/http_cors.c: the origin list (parsing, refusals, matching), then CORS through a
 * real td_http server (tests/support/http_harness.c) over raw sockets: preflights
 * answered by the server itself, the headers on every other answer, and nothing at all
 * when CORS is off. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http.h"
#include "core/http_cors.h"
#include "tests/support/http_harness.h"

/* ------------------------------------------------------------------ the origin list */

Test(http_cors, list_of_origins)
{
    struct td_cors *c;
    char err[256] = "";
    cr_assert_eq(td_cors_new(" http://localhost:3000 ,https://app.example.com,"
                             "http://[::1]:8080,https://Mixed.Example.COM", 0, &c, err,
                             sizeof err), 0, "%s", err);
    cr_assert_str_eq(td_cors_allow_origin(c, "http://localhost:3000"), "http://localhost:3000");
    cr_assert_str_eq(td_cors_allow_origin(c, "https://app.example.com"),
                     "https://app.example.com", "the origin itself is echoed, never *");
    cr_assert_str_eq(td_cors_allow_origin(c, "http://[::1]:8080"), "http://[::1]:8080");
    cr_assert_str_eq(td_cors_allow_origin(c, "https://mixed.example.com"),
                     "https://mixed.example.com", "scheme and host are case-insensitive");
    const char *denied[] = {
        "http://localhost:3001", "http://localhost", "https://localhost:3000",
        "http://app.example.com", "https://app.example.com.evil.test",
        "https://evil.test/https://app.example.com", "https://app.example.com/", "null", "",
        "*",
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        cr_assert_null(td_cors_allow_origin(c, denied[i]), "%s allowed", denied[i]);
    cr_assert_null(td_cors_allow_origin(c, NULL));
    cr_assert_eq(td_cors_credentials(c), 0);
    td_cors_free(c);

    cr_assert_eq(td_cors_new("https://app.example.com", 1, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(td_cors_credentials(c), 1);
    td_cors_free(c);
    td_cors_free(NULL);
}

Test(http_cors, any_origin)
{
    struct td_cors *c;
    char err[256] = "";
    cr_assert_eq(td_cors_new(" * ", 0, &c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(td_cors_allow_origin(c, "https://anything.test"), "*");
    cr_assert_str_eq(td_cors_allow_origin(c, "null"), "*");
    cr_assert_null(td_cors_allow_origin(c, NULL), "no Origin: not a CORS request");
    td_cors_free(c);
}

Test(http_cors, any_origin_with_credentials_is_refused)
{
    struct td_cors *c = (struct td_cors *)1;
    char err[256] = "";
    cr_assert_eq(td_cors_new("*", 1, &c, err, sizeof err), -EINVAL);
    cr_assert_null(c);
    cr_assert_not_null(strstr(err, "\"*\""), "%s", err);
    cr_assert_not_null(strstr(err, "credentials"), "%s", err);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
}

Test(http_cors, bad_entries_are_named)
{
    struct { const char *csv, *named; } bad[] = {
        {"http://localhost:3000,https://app.example.com/", "\"https://app.example.com/\""},
        {"https://app.example.com/path", "\"https://app.example.com/path\""},
        {"app.example.com", "\"app.example.com\""},
        {"ftp://files.example.com", "\"ftp://files.example.com\""},
        {"http://", "\"http://\""},
        {"http://host:0", "\"http://host:0\""},
        {"http://host:65536", "\"http://host:65536\""},
        {"http://host:", "\"http://host:\""},
        {"http://user@host", "\"http://user@host\""},
        {"https://app.example.com?x=1", "\"https://app.example.com?x=1\""},
        {"http://[::1", "\"http://[::1\""},
        {"http://[]", "\"http://[]\""},
        {"null", "\"null\""},
        {"http://a.test,,http://b.test", "\"\""},
        {"http://a.test,", "\"\""},
        {"", "\"\""},
        {"*,http://a.test", "\"*\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct td_cors *c = (struct td_cors *)1;
        char err[256] = "";
        cr_assert_eq(td_cors_new(bad[i].csv, 0, &c, err, sizeof err), -EINVAL, "%s accepted",
                     bad[i].csv);
        cr_assert_null(c);
        cr_assert_not_null(strstr(err, bad[i].named), "\"%s\": %s", bad[i].csv, err);
        cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    }
    struct td_cors *c;
    char err[8];
    cr_assert_eq(td_cors_new("http://way-too-long-for-the-buffer/", 0, &c, err, sizeof err),
                 -EINVAL, "a short error buffer is cut, not overrun");
    cr_assert_eq(strlen(err), sizeof err - 1);
    cr_assert_eq(td_cors_new(NULL, 0, &c, err, sizeof err), -EINVAL);
}

/* ------------------------------------------------------------------ over sockets */

#define APP  "https://app.example.com"
#define EVIL "https://evil.example.com"

/* An OPTIONS handler the server must not reach for a preflight. */
static void h_options(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 200, "text/plain", "handler", 7);
}

static void cors_routes(struct td_http *http)
{
    cr_assert_eq(td_http_route(http, "DELETE", "/echo/{id}", td_test_srv_echo, NULL), 0);
    cr_assert_eq(td_http_route(http, "OPTIONS", "/items", h_options, NULL), 0);
}

static struct td_cors *cors;

static void start_with(const char *origins, int credentials)
{
    char err[256] = "";
    cors = NULL;
    if (origins)
        cr_assert_eq(td_cors_new(origins, credentials, &cors, err, sizeof err), 0, "%s", err);
    struct td_http_opts o = td_test_srv_opts();
    o.cors = cors;
    td_test_srv_start(o, cors_routes);
}

static void stop(void)
{
    td_test_srv_stop();
    td_cors_free(cors);   /* the server no longer holds it */
}

static char *get(const struct td_test_resp *r, const char *name)
{
    return td_test_resp_header(r, name);
}

static void assert_header(const struct td_test_resp *r, const char *name, const char *want)
{
    char *v = get(r, name);
    if (want)
        cr_assert_str_eq(v, want, "%s in:\n%s", name, r->head);
    else
        cr_assert_null(v, "%s: %s in:\n%s", name, v, r->head);
    free(v);
}

static int has_access_control(const struct td_test_resp *r)
{
    for (const char *p = r->head; (p = strstr(p, "\r\n")); p += 2)
        if (strncasecmp(p + 2, "Access-Control-", 15) == 0)
            return 1;
    return 0;
}

static void preflight(const char *path, const char *origin, struct td_test_resp *r)
{
    char raw[512];
    snprintf(raw, sizeof raw, "OPTIONS %s HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\n"
             "Access-Control-Request-Method: DELETE\r\n"
             "Access-Control-Request-Headers: authorization, if-match\r\n\r\n", path, origin);
    td_test_request(raw, r, 0);
}

Test(http_cors, preflight_is_answered_by_the_server)
{
    start_with("http://localhost:3000," APP, 0);
    struct td_test_resp r;
    preflight("/echo/7", APP, &r);
    cr_assert_eq(r.status, 204, "%s", r.head);
    assert_header(&r, "Access-Control-Allow-Origin", APP);
    assert_header(&r, "Vary", "Origin");
    assert_header(&r, "Access-Control-Allow-Methods", "GET, POST, DELETE");
    assert_header(&r, "Access-Control-Allow-Headers",
                  "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-ID, "
                  "Mcp-Session-Id, MCP-Protocol-Version");
    assert_header(&r, "Access-Control-Max-Age", "600");
    assert_header(&r, "Access-Control-Allow-Credentials", NULL);
    assert_header(&r, "X-Content-Type-Options", "nosniff");
    cr_assert_eq(r.body_len, 0);
    td_test_resp_free(&r);

    /* before any handler: the path's own OPTIONS route is not called */
    preflight("/items", "http://localhost:3000", &r);
    cr_assert_eq(r.status, 204, "%s%s", r.head, r.body);
    assert_header(&r, "Access-Control-Allow-Origin", "http://localhost:3000");
    assert_header(&r, "Access-Control-Allow-Methods", "POST, OPTIONS");
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, preflight_with_credentials)
{
    start_with(APP, 1);
    struct td_test_resp r;
    preflight("/echo/7", APP, &r);
    cr_assert_eq(r.status, 204, "%s", r.head);
    assert_header(&r, "Access-Control-Allow-Origin", APP);
    assert_header(&r, "Access-Control-Allow-Credentials", "true");
    assert_header(&r, "Access-Control-Allow-Methods", "GET, POST, DELETE");
    assert_header(&r, "Access-Control-Max-Age", "600");
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, preflight_from_another_origin_gets_no_cors_headers)
{
    start_with(APP, 1);
    struct td_test_resp r;
    preflight("/echo/7", EVIL, &r);
    json_decref(td_test_problem(&r, 403, "cors-origin-denied"));
    cr_assert(!has_access_control(&r), "%s", r.head);
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, preflight_to_a_path_without_routes_is_404)
{
    start_with(APP, 0);
    struct td_test_resp r;
    preflight("/nowhere", APP, &r);
    json_decref(td_test_problem(&r, 404, "not-found"));
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, any_origin_preflight_answers_star)
{
    start_with("*", 0);
    struct td_test_resp r;
    preflight("/echo/7", EVIL, &r);
    cr_assert_eq(r.status, 204, "%s", r.head);
    assert_header(&r, "Access-Control-Allow-Origin", "*");
    assert_header(&r, "Access-Control-Allow-Credentials", NULL);
    assert_header(&r, "Access-Control-Allow-Methods", "GET, POST, DELETE");
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, answers_to_an_allowed_origin_carry_the_headers)
{
    start_with(APP, 1);
    const char *raw[] = {
        "GET /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\n\r\n",
        "POST /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\nContent-Length: 2\r\n\r\n{}",
        "GET /nowhere HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\n\r\n",
        "PUT /items HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\nContent-Length: 0\r\n\r\n",
        "GET /empty HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\n\r\n",
        "POST /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\nContent-Length: 5000\r\n\r\n",
    };
    int want[] = {200, 200, 404, 405, 204, 413};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        struct td_test_resp r;
        td_test_request(raw[i], &r, 0);
        cr_assert_eq(r.status, want[i], "%s", r.head);
        assert_header(&r, "Access-Control-Allow-Origin", APP);
        assert_header(&r, "Vary", "Origin");
        assert_header(&r, "Access-Control-Expose-Headers",
                      "ETag, X-Next-Cursor, X-Request-ID, Mcp-Session-Id");
        assert_header(&r, "Access-Control-Allow-Credentials", "true");
        assert_header(&r, "Access-Control-Allow-Methods", NULL);
        td_test_resp_free(&r);
    }
    stop();
}

Test(http_cors, other_origins_and_no_origin_get_none)
{
    start_with(APP, 1);
    struct td_test_resp r;
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " EVIL "\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    cr_assert(!has_access_control(&r), "%s", r.head);
    assert_header(&r, "Vary", "Origin");   /* the answer still depends on Origin */
    td_test_resp_free(&r);
    td_test_request(TD_TEST_GET("/echo/1"), &r, 0);
    cr_assert(!has_access_control(&r), "%s", r.head);
    td_test_resp_free(&r);
    /* OPTIONS without Access-Control-Request-Method is no preflight: Allow as always */
    td_test_request("OPTIONS /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 204);
    assert_header(&r, "Allow", "GET, POST, DELETE");
    assert_header(&r, "Access-Control-Allow-Methods", NULL);
    assert_header(&r, "Access-Control-Allow-Origin", APP);
    td_test_resp_free(&r);
    stop();
}

Test(http_cors, off_by_default)
{
    start_with(NULL, 0);
    struct td_test_resp r;
    preflight("/echo/7", APP, &r);
    cr_assert_eq(r.status, 204, "the old OPTIONS answer: %s", r.head);
    assert_header(&r, "Allow", "GET, POST, DELETE");
    cr_assert(!has_access_control(&r), "%s", r.head);
    assert_header(&r, "Vary", NULL);
    td_test_resp_free(&r);
    preflight("/items", APP, &r);
    cr_assert_eq(r.status, 200, "the OPTIONS route's handler answers");
    cr_assert_str_eq(r.body, "handler");
    td_test_resp_free(&r);
    td_test_request("GET /echo/1 HTTP/1.1\r\nHost: t\r\nOrigin: " APP "\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 200);
    cr_assert(!has_access_control(&r), "%s", r.head);
    td_test_resp_free(&r);
    stop();
}

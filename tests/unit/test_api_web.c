/* roles/api/web.c: the embedded web app at /, through the api role running in the test
 * process (tests/support/role_harness.h): types, ETag and 304, the security headers of
 * the app (CSP, frame refusal) and of the API (nosniff, referrer policy), 404 problems
 * for unknown assets, and every embedded file served byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "roles/api/api.h"
#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;

static void start(void)
{
    td_test_roles_start(&S, roles, 1, 0);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_web, .init = start, .fini = stop, .timeout = 60);

static void expect_header(const struct td_test_http *r, const char *name, const char *want,
                          const char *what)
{
    char *v = td_test_header(r->headers, name);
    if (want)
        cr_expect(v && strcmp(v, want) == 0, "%s: %s: got \"%s\", want \"%s\"", what, name,
                  v ? v : "(none)", want);
    else
        cr_expect_null(v, "%s: %s should be absent, got \"%s\"", what, name, v);
    free(v);
}

/* The CSP's directives the app relies on, each checked on its own. */
static void expect_app_csp(const struct td_test_http *r, const char *what)
{
    char *csp = td_test_header(r->headers, "Content-Security-Policy");
    cr_assert_not_null(csp, "%s: no Content-Security-Policy", what);
    const char *want[] = {"default-src 'self'", "script-src 'self'", "style-src 'self'",
                          "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                          "base-uri 'none'"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_expect(strstr(csp, want[i]), "%s: CSP lacks %s: %s", what, want[i], csp);
    cr_expect_null(strstr(csp, "unsafe-inline"), "%s: %s", what, csp);
    cr_expect_null(strstr(csp, "unsafe-eval"), "%s: %s", what, csp);
    cr_expect_null(strstr(csp, "*"), "%s: no wildcard source: %s", what, csp);
    free(csp);
    expect_header(r, "X-Frame-Options", "DENY", what);
}

Test(api_web, index_at_the_root)
{
    struct td_test_http r = {0};
    cr_assert_eq(td_test_http(S.port, "GET", "/", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    expect_header(&r, "Content-Type", "text/html; charset=utf-8", "/");
    expect_header(&r, "Cache-Control", "no-cache", "/");
    expect_header(&r, "X-Content-Type-Options", "nosniff", "/");
    expect_header(&r, "Referrer-Policy", "no-referrer", "/");
    expect_app_csp(&r, "/");
    const struct td_embedded_file *f = api_web_find("index.html");
    cr_assert_not_null(f);
    cr_expect_eq(r.body_len, f->len);
    cr_expect_eq(memcmp(r.body, f->data, f->len), 0, "/ answers index.html");
    cr_expect(strstr(r.body, "<script type=\"module\" src=\"app.js\">"), "the app's entry");
    td_test_http_free(&r);
}

/* The page's own markup obeys its CSP: no inline script, handler or style attribute. */
Test(api_web, index_has_no_inline_script_or_style)
{
    const struct td_embedded_file *f = api_web_find("index.html");
    cr_assert_not_null(f);
    const char *html = f->data;
    for (const char *p = html; (p = strstr(p, "<script")); p++) {
        const char *end = strchr(p, '>');
        cr_assert_not_null(end);
        char tag[256];
        snprintf(tag, sizeof tag, "%.*s", (int)(end - p), p);
        cr_expect(strstr(tag, "src="), "inline script at %.60s", p);
        cr_expect_eq(strncmp(end, "></script>", 10), 0, "script with a body: %.60s", p);
    }
    cr_expect_null(strstr(html, "<style"), "inline style element");
    cr_expect_null(strstr(html, " style="), "style attribute");
    cr_expect_null(strstr(html, " onclick="), "inline handler");
    cr_expect_null(strstr(html, " onload="), "inline handler");
    cr_expect_null(strstr(html, "javascript:"), "javascript: URL");
    cr_expect_null(strstr(html, "http://"), "no foreign origin");
    cr_expect_null(strstr(html, "https://"), "no foreign origin (no CDN)");
}

/* Every embedded file is served under its name with its type, the same bytes, and a
 * strong ETag that a conditional GET turns into 304. */
Test(api_web, every_file_served_with_type_and_etag)
{
    cr_assert_gt(td_web_files_count, 5);
    for (size_t i = 0; i < td_web_files_count; i++) {
        const struct td_embedded_file *f = &td_web_files[i];
        char path[128];
        snprintf(path, sizeof path, "/%s", f->name);
        struct td_test_http r = {0};
        cr_assert_eq(td_test_http(S.port, "GET", path, NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "%s: %d", path, r.status);
        expect_header(&r, "Content-Type", api_web_content_type(f->name), path);
        cr_expect_eq(r.body_len, f->len, "%s", path);
        cr_expect_eq(memcmp(r.body, f->data, f->len), 0, "%s: same bytes", path);
        expect_app_csp(&r, path);
        char *etag = td_test_header(r.headers, "ETag");
        cr_assert(etag && etag[0] == '"' && strlen(etag) == 18, "%s: ETag %s", path, etag);
        td_test_http_free(&r);

        char inm[64];
        snprintf(inm, sizeof inm, "If-None-Match: W/\"0\", %s", etag);
        const char *h[] = {inm, NULL};
        cr_assert_eq(td_test_http(S.port, "GET", path, NULL, h, &r), 0);
        cr_expect_eq(r.status, 304, "%s: conditional GET", path);
        cr_expect_eq(r.body_len, 0);
        expect_header(&r, "ETag", etag, path);
        td_test_http_free(&r);

        const char *stale[] = {"If-None-Match: \"0000000000000000\"", NULL};
        cr_assert_eq(td_test_http(S.port, "GET", path, NULL, stale, &r), 0);
        cr_expect_eq(r.status, 200, "%s: another ETag gets the file", path);
        td_test_http_free(&r);
        free(etag);
    }
}

Test(api_web, types_by_extension)
{
    cr_expect_str_eq(api_web_content_type("a.js"), "text/javascript; charset=utf-8");
    cr_expect_str_eq(api_web_content_type("a.css"), "text/css; charset=utf-8");
    cr_expect_str_eq(api_web_content_type("index.html"), "text/html; charset=utf-8");
    cr_expect_str_eq(api_web_content_type("icon.svg"), "image/svg+xml");
    cr_expect_str_eq(api_web_content_type("noext"), "application/octet-stream");
    cr_expect_str_eq(api_web_content_type("a.js.bak"), "application/octet-stream");
    cr_expect_null(api_web_find("nope.js"));
    cr_expect_null(api_web_find(""));
}

Test(api_web, unknown_asset_is_a_404_problem)
{
    const char *paths[] = {"/nope.js", "/..%2Fapi.c", "/index.htm", "/favicon.ico"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct td_test_http r = {0};
        cr_assert_eq(td_test_http(S.port, "GET", paths[i], NULL, NULL, &r), 0);
        td_test_expect_problem(&r, 404, "not-found", paths[i]);
        expect_header(&r, "X-Content-Type-Options", "nosniff", paths[i]);
        expect_header(&r, "Referrer-Policy", "no-referrer", paths[i]);
        td_test_http_free(&r);
    }
    /* Deeper paths are no assets either (the app routes with the fragment). */
    struct td_test_http r = {0};
    cr_assert_eq(td_test_http(S.port, "GET", "/js/app.js", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 404);
    td_test_http_free(&r);
}

Test(api_web, head_and_other_methods)
{
    struct td_test_http r = {0};
    cr_assert_eq(td_test_http(S.port, "HEAD", "/app.js", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0, "HEAD has no body");
    td_test_http_free(&r);
    cr_assert_eq(td_test_http(S.port, "POST", "/", "x", NULL, &r), 0);
    cr_expect_eq(r.status, 405);
    char *allow = td_test_header(r.headers, "Allow");
    cr_expect(allow && strstr(allow, "GET"), "Allow: %s", allow);
    free(allow);
    td_test_http_free(&r);
}

/* The API answers carry the same headers as the app, but no page CSP: a JSON answer
 * is no document. */
Test(api_web, api_answers_carry_security_headers)
{
    struct td_test_http r = {0};
    cr_assert_eq(td_test_http(S.port, "GET", "/api/tasks", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 401);
    expect_header(&r, "X-Content-Type-Options", "nosniff", "/api/tasks");
    expect_header(&r, "Referrer-Policy", "no-referrer", "/api/tasks");
    td_test_http_free(&r);
    cr_assert_eq(td_test_http(S.port, "GET", "/health", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200);
    expect_header(&r, "Referrer-Policy", "no-referrer", "/health");
    expect_header(&r, "Content-Security-Policy", NULL, "/health");
    td_test_http_free(&r);
}

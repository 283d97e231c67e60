/* The web app at /: the files of web/ embedded in the binary (core/embed.h), answered with
 * their type, a strong ETag fixed at build time (304 on If-None-Match), revalidation on
 * every use (no-cache: the names carry no hash) and the app's Content-Security-Policy.
 * Nothing is read from disk (house rule 5). The app routes with the URL's fragment, so
 * every path it shows is "/": an unknown asset is a 404 problem, never the index. */
#include "roles/api/api.h"

#include <stdio.h>
#include <string.h>

#include "core/embed.h"

/* No inline script or style, no plugins, no framing, no foreign origin: the page may load
 * and connect to its own origin only ('self' covers ws: and wss: to the same host). */
#define WEB_CSP                                                                          \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "    \
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "          \
    "form-action 'self'; frame-ancestors 'none'"

const char *api_web_content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

const struct td_embedded_file *api_web_find(const char *name)
{
    for (size_t i = 0; i < td_web_files_count; i++)
        if (strcmp(td_web_files[i].name, name) == 0)
            return &td_web_files[i];
    return NULL;
}

/* If-None-Match holds "*" or a list of entity tags; weak ones compare too (RFC 9110
 * 13.1.2 uses the weak comparison for it). */
static int etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return 0;
    if (strchr(if_none_match, '*'))
        return 1;
    return strstr(if_none_match, etag) != NULL;
}

static void web_headers(struct td_http_req *req)
{
    td_http_add_header(req, "Content-Security-Policy", WEB_CSP);
    td_http_add_header(req, "X-Frame-Options", "DENY");
}

static void serve(struct td_http_req *req, const char *name)
{
    const struct td_embedded_file *f = api_web_find(name);
    if (!f) {
        web_headers(req);
        td_http_problem(req, 404, "not-found", "Not Found", "no such file in the web app",
                        NULL);
        return;
    }
    char etag[24];
    snprintf(etag, sizeof etag, "\"%016llx\"", td_web_files_hashes[f - td_web_files]);
    web_headers(req);
    td_http_add_header(req, "ETag", etag);
    td_http_add_header(req, "Cache-Control", "no-cache");
    if (etag_matches(td_http_header(req, "if-none-match"), etag)) {
        td_http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    td_http_respond(req, 200, api_web_content_type(f->name), f->data, f->len);
}

static void handle_index(struct td_http_req *req, void *state)
{
    (void)state;
    serve(req, "index.html");
}

static void handle_asset(struct td_http_req *req, void *state)
{
    (void)state;
    serve(req, td_http_param(req, "asset"));
}

const struct td_route_def api_web_routes[] = {
    {"GET", "/", handle_index, 0},
    {"GET", "/{asset}", handle_asset, 0},
    {0},
};

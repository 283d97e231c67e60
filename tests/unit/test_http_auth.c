/* core/http_auth.c: td_http_bearer behind a real td_http server (its loop in a thread),
 * asked by a real HTTP client (libcurl, tests/support/net_harness.h); tokens made and
 * checked by core/auth.c. td_auth_error_label's labels are part of the metrics contract. */
#include <criterion/criterion.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "core/auth.h"
#include "core/http.h"
#include "core/http_auth.h"
#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"

#define SECRET "0123456789abcdef0123456789abcdef-test-secret"

static struct {
    uv_loop_t       loop;
    uv_async_t      stop;
    pthread_t       thread;
    struct td_http *http;
    struct td_auth *auth;
    struct td_log   log;
    int             port;
    int             loop_close_rc;
    atomic_int      closed;
    atomic_int      why;       /* the last td_http_bearer's *why */
    atomic_int      rc;        /* ... and its return value */
    atomic_int      calls;
} S;

/* GET /me: the subject when the bearer token is good; td_http_bearer answered otherwise. */
static void h_me(struct td_http_req *req, void *arg)
{
    size_t sublen = (size_t)(uintptr_t)arg;
    char sub[128];
    enum td_auth_error why = (enum td_auth_error)-1;
    int rc = td_http_bearer(req, S.auth, sub, sublen, &why);
    atomic_store(&S.why, (int)why);
    atomic_store(&S.rc, rc);
    atomic_fetch_add(&S.calls, 1);
    if (rc == 0) {
        char body[160];
        int n = snprintf(body, sizeof body, "sub=%s", sub);
        td_http_respond(req, 200, "text/plain", body, (size_t)n);
    }
}

static void on_closed(void *arg)
{
    (void)arg;
    atomic_store(&S.closed, 1);
}

static void on_stop(uv_async_t *a)
{
    td_http_close(S.http, on_closed, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&S.loop, UV_RUN_DEFAULT);
    S.loop_close_rc = uv_loop_close(&S.loop);
    return NULL;
}

static void start(void)
{
    memset(&S, 0, sizeof S);
    /* as cmd/todod.c does: a peer gone mid-write is EPIPE, not a fatal signal */
    signal(SIGPIPE, SIG_IGN);
    S.log = (struct td_log){.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test",
                            .fd = open("/dev/null", O_WRONLY | O_CLOEXEC)};
    cr_assert_geq(S.log.fd, 0);
    struct td_auth_opts ao = {.secret = SECRET, .issuer = "todod", .leeway_s = 0};
    cr_assert_eq(td_auth_new(&ao, &S.auth), 0);
    cr_assert_eq(uv_loop_init(&S.loop), 0);
    cr_assert_eq(uv_async_init(&S.loop, &S.stop, on_stop), 0);
    struct td_http_opts o = {.host = "127.0.0.1", .port = 0, .max_header_bytes = 8192,
                             .max_headers = 50, .max_body_bytes = 1000,
                             .request_timeout_ms = 5000, .idle_timeout_ms = 5000,
                             .max_connections = 16, .log = &S.log};
    cr_assert_eq(td_http_new(&S.loop, &o, &S.http), 0);
    cr_assert_eq(td_http_listen(S.http), 0);
    S.port = td_http_port(S.http);
    cr_assert_gt(S.port, 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/me", h_me, (void *)(uintptr_t)128), 0);
    cr_assert_eq(td_http_route(S.http, "GET", "/tiny", h_me, (void *)(uintptr_t)4), 0);
    cr_assert_eq(pthread_create(&S.thread, NULL, loop_main, NULL), 0);
}

static void stop(void)
{
    uv_async_send(&S.stop);
    pthread_join(S.thread, NULL);
    cr_assert_eq(atomic_load(&S.closed), 1, "td_http_close never called done");
    cr_assert_eq(S.loop_close_rc, 0, "uv_loop_close: %s", uv_strerror(S.loop_close_rc));
    td_auth_free(S.auth);
    close(S.log.fd);
    td_test_assert_no_leaks();
}

TestSuite(http_auth, .init = start, .timeout = 30);

/* One request with an optional Authorization header. */
static void get(const char *path, const char *authz, struct td_test_http *r)
{
    char line[2048];
    const char *hdrs[2] = {NULL, NULL};
    if (authz) {
        snprintf(line, sizeof line, "Authorization: %s", authz);
        hdrs[0] = line;
    }
    memset(r, 0, sizeof *r);
    int before = atomic_load(&S.calls);
    cr_assert_eq(td_test_http(S.port, "GET", path, NULL, hdrs, r), 0, "no answer");
    /* td_http_bearer answers inside the handler, and the answer can reach us before the
     * loop thread gets to count the call: wait for the count (why and rc come before it) */
    for (int i = 0; i < 2000 && atomic_load(&S.calls) == before; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&S.calls), before + 1, "the handler did not run");
}

/* A 401 as RFC 6750 and RFC 9457 want it. */
static void assert_401(struct td_test_http *r, const char *www_authenticate, const char *detail)
{
    cr_assert_eq(r->status, 401, "status %d: %s", r->status, r->body);
    char *ct = td_test_header(r->headers, "Content-Type");
    cr_assert(ct && strncmp(ct, "application/problem+json", 24) == 0, "content type %s", ct);
    free(ct);
    char *wa = td_test_header(r->headers, "WWW-Authenticate");
    cr_assert(wa, "no WWW-Authenticate");
    cr_assert_str_eq(wa, www_authenticate);
    free(wa);
    json_error_t e;
    json_t *p = json_loads(r->body, 0, &e);
    cr_assert(p, "not JSON: %s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")),
                     TD_PROBLEM_BASE "unauthorized");
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), 401);
    cr_assert_str_eq(json_string_value(json_object_get(p, "title")), "Unauthorized");
    cr_assert_str_eq(json_string_value(json_object_get(p, "detail")), detail);
    json_decref(p);
    cr_assert_eq(atomic_load(&S.rc), -EACCES);
}

#define NO_TOKEN "Bearer realm=\"todod\""
#define BAD_TOKEN "Bearer realm=\"todod\", error=\"invalid_token\""

Test(http_auth, missing_header)
{
    struct td_test_http r;
    get("/me", NULL, &r);
    assert_401(&r, NO_TOKEN, "send Authorization: Bearer <token>");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_MALFORMED);
    td_test_http_free(&r);
    stop();
}

Test(http_auth, other_scheme)
{
    struct td_test_http r;
    get("/me", "Basic dXNlcjpwYXNz", &r);
    assert_401(&r, NO_TOKEN, "send Authorization: Bearer <token>");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_MALFORMED);
    td_test_http_free(&r);
    get("/me", "Bearer", &r);   /* no space, no token */
    assert_401(&r, NO_TOKEN, "send Authorization: Bearer <token>");
    td_test_http_free(&r);
    stop();
}

Test(http_auth, good_token_gives_the_subject)
{
    char *tok = td_auth_issue(S.auth, "user-42", time(NULL));
    cr_assert(tok);
    char authz[1024];
    snprintf(authz, sizeof authz, "Bearer %s", tok);
    struct td_test_http r;
    get("/me", authz, &r);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    cr_assert_str_eq(r.body, "sub=user-42");
    cr_assert_eq(atomic_load(&S.rc), 0);
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_OK);
    char *wa = td_test_header(r.headers, "WWW-Authenticate");
    cr_assert_null(wa, "WWW-Authenticate on a 200: %s", wa);
    td_test_http_free(&r);
    /* the scheme is case-insensitive (RFC 9110 11.1) */
    snprintf(authz, sizeof authz, "bearer %s", tok);
    get("/me", authz, &r);
    cr_assert_eq(r.status, 200, "lower-case scheme: %d", r.status);
    cr_assert_str_eq(r.body, "sub=user-42");
    td_test_http_free(&r);
    free(tok);
    stop();
}

Test(http_auth, bad_tokens)
{
    char authz[1024];
    struct td_test_http r;

    get("/me", "Bearer not-a-jwt", &r);
    assert_401(&r, BAD_TOKEN, "malformed token");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_MALFORMED);
    td_test_http_free(&r);

    /* signed with another key */
    struct td_auth *other;
    struct td_auth_opts ao = {.secret = "another-secret-another-secret-another", .issuer = "todod"};
    cr_assert_eq(td_auth_new(&ao, &other), 0);
    char *tok = td_auth_issue(other, "user-42", time(NULL));
    td_auth_free(other);
    snprintf(authz, sizeof authz, "Bearer %s", tok);
    free(tok);
    get("/me", authz, &r);
    assert_401(&r, BAD_TOKEN, "bad token signature");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_BAD_SIGNATURE);
    td_test_http_free(&r);

    /* a good token with its signature altered */
    tok = td_auth_issue(S.auth, "user-42", time(NULL));
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    snprintf(authz, sizeof authz, "Bearer %s", tok);
    free(tok);
    get("/me", authz, &r);
    assert_401(&r, BAD_TOKEN, "bad token signature");
    td_test_http_free(&r);

    /* expired: issued two days ago, with the default one-day lifetime */
    tok = td_auth_issue(S.auth, "user-42", time(NULL) - 2 * 86400);
    snprintf(authz, sizeof authz, "Bearer %s", tok);
    free(tok);
    get("/me", authz, &r);
    assert_401(&r, BAD_TOKEN, "token expired");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_EXPIRED);
    td_test_http_free(&r);

    /* empty token after the scheme */
    get("/me", "Bearer ", &r);
    cr_assert_eq(r.status, 401);
    cr_assert_neq(atomic_load(&S.why), TD_AUTH_OK);
    td_test_http_free(&r);
    stop();
}

/* A subject that does not fit the caller's buffer is refused, never truncated. */
Test(http_auth, subject_too_long_for_buffer)
{
    char *tok = td_auth_issue(S.auth, "user-42", time(NULL));
    char authz[1024];
    snprintf(authz, sizeof authz, "Bearer %s", tok);
    free(tok);
    struct td_test_http r;
    get("/tiny", authz, &r);
    assert_401(&r, BAD_TOKEN, "malformed token");
    cr_assert_eq(atomic_load(&S.why), TD_AUTH_MALFORMED);
    td_test_http_free(&r);
    stop();
}

Test(http_auth, error_labels_are_stable)
{
    static const struct { enum td_auth_error e; const char *label; } want[] = {
        {TD_AUTH_OK, "ok"},
        {TD_AUTH_MALFORMED, "malformed"},
        {TD_AUTH_BAD_ALGORITHM, "algorithm"},
        {TD_AUTH_BAD_SIGNATURE, "signature"},
        {TD_AUTH_EXPIRED, "expired"},
        {TD_AUTH_NOT_YET_VALID, "not_yet_valid"},
        {TD_AUTH_NO_EXPIRY, "no_expiry"},
        {TD_AUTH_NO_SUBJECT, "no_subject"},
        {TD_AUTH_BAD_ISSUER, "issuer"},
        {TD_AUTH_BAD_AUDIENCE, "audience"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(td_auth_error_label(want[i].e), want[i].label, "label of %d",
                         (int)want[i].e);
    cr_assert_str_eq(td_auth_error_label((enum td_auth_error)(TD_AUTH_BAD_AUDIENCE + 1)), "other");
    cr_assert_str_eq(td_auth_error_label((enum td_auth_error)-1), "other");
    /* every label is a valid Prometheus label value without escaping */
    for (int e = TD_AUTH_OK; e <= TD_AUTH_BAD_AUDIENCE; e++)
        cr_assert_eq(strspn(td_auth_error_label((enum td_auth_error)e),
                            "abcdefghijklmnopqrstuvwxyz_"),
                     strlen(td_auth_error_label((enum td_auth_error)e)));
    stop();
}

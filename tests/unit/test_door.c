/* core/door.c: the /api front door. A small role whose routes carry TD_DOOR_BEARER or
 * TD_DOOR_PUBLIC runs in the test process (tests/support/role_harness.h) on the shared
 * PostgreSQL; requests are real HTTP. The handlers count the calls that get through and
 * echo td_door_subject; one route runs SQL that fails in chosen ways and answers with
 * td_door_db_problem. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/door.h"
#include "core/http.h"
#include "tests/support/api_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/role_harness.h"

/* ------------------------------------------------------------ the role */

struct doorman {
    struct td_svc *svc;
};

static atomic_int reached;   /* handler calls (loop thread writes, test thread reads) */

static void h_whoami(struct td_http_req *req, void *state)
{
    (void)state;
    atomic_fetch_add(&reached, 1);
    const char *sub = td_door_subject(req);
    char body[200];
    int n = snprintf(body, sizeof body, "%s", sub ? sub : "(nobody)");
    td_http_respond(req, 200, "text/plain", body, (size_t)n);
}

struct db_call {
    struct td_http_req *req;
    struct doorman     *d;
};

static void on_db(int status, struct td_db_res *res, void *arg)
{
    struct db_call *c = arg;
    if (status)
        td_door_db_problem(c->req, status, res, c->d->svc->log);
    else
        td_http_respond(c->req, 200, "text/plain", "ok", 2);
    free(c);
}

/* Each case is a statement PostgreSQL refuses for a different reason. */
static const struct {
    const char *name, *sql;
} db_cases[] = {
    {"ok", "SELECT 1"},
    {"unique", "INSERT INTO inbox (consumer_group, event_id) VALUES "    /* 23505 */
               "('door-test', '00000000-0000-4000-8000-000000000001'), "
               "('door-test', '00000000-0000-4000-8000-000000000001')"},
    {"range", "SELECT 1 / 0"},                                           /* 22012 */
    {"check", "INSERT INTO tasks (id, user_id, title) "                  /* 23514 */
              "VALUES (gen_random_uuid(), 'door-test', '')"},
    {"other", "SELECT * FROM no_such_table"},                            /* 42P01 */
    {"gone", "SELECT pg_terminate_backend(pg_backend_pid())"},           /* 57P01 */
};

static void h_db(struct td_http_req *req, void *state)
{
    struct doorman *d = state;
    const char *which = td_http_param(req, "case");
    for (size_t i = 0; i < sizeof db_cases / sizeof db_cases[0]; i++) {
        if (strcmp(which, db_cases[i].name) != 0)
            continue;
        struct db_call *c = malloc(sizeof *c);
        *c = (struct db_call){.req = req, .d = d};
        int rc = td_db_exec_sql(d->svc->db, db_cases[i].sql, 0, NULL, on_db, c);
        if (rc) {
            td_door_db_problem(req, rc, NULL, d->svc->log);
            free(c);
        }
        return;
    }
    td_http_problem(req, 404, "not-found", "Not Found", "no such case", NULL);
}

static int doorman_init(struct td_svc *svc, void *state)
{
    ((struct doorman *)state)->svc = svc;
    return 0;
}

static const struct td_route_def doorman_route_rows[] = {
    {"GET", "/api/whoami", h_whoami, TD_DOOR_BEARER},
    {"GET", "/api/{user_id}/things", h_whoami, TD_DOOR_BEARER},
    {"POST", "/api/open", h_whoami, TD_DOOR_PUBLIC},
    {"GET", "/api/db/{case}", h_db, TD_DOOR_BEARER},
    {0},
};
static const struct td_route_def *const doorman_routes[] = {doorman_route_rows, NULL};
static const struct td_role doorman = {
    .name = "doorman", .needs = TD_NEED_DB | TD_NEED_HTTP, .state_size = sizeof(struct doorman),
    .routes = doorman_routes, .init = doorman_init,
};
static const struct td_role *const roles[] = {&doorman};

static struct td_test_roles S;

/* The door with these limits (requests per second; 0 = off). */
static void start_door(double per_user, double per_addr)
{
    td_test_roles_config(&S, roles, 1, 0);
    td_test_roles_door(&S)->rate_limit_user = per_user;
    td_test_roles_door(&S)->rate_limit_addr = per_addr;
    td_test_roles_run(&S);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(door, .fini = stop, .timeout = 60);

/* ------------------------------------------------------------ helpers */

static int get(const char *path, const char *token, const char *const *headers,
               struct td_test_http *r)
{
    return td_test_api(S.port, token, "GET", path, NULL, headers, r);
}

static void expect_no_store(const struct td_test_http *r, const char *what)
{
    char *cc = td_test_header(r->headers, "Cache-Control");
    cr_expect(cc && strcmp(cc, "no-store") == 0, "%s: Cache-Control %s", what, cc);
    free(cc);
}

static void expect_www_authenticate(const struct td_test_http *r, const char *want,
                                    const char *what)
{
    char *www = td_test_header(r->headers, "WWW-Authenticate");
    cr_expect(www && strcmp(www, want) == 0, "%s: WWW-Authenticate %s", what, www);
    free(www);
}

/* ------------------------------------------------------------ bearer tokens */

Test(door, bearer_refusals_are_401_and_never_reach_the_handler)
{
    start_door(0, 0);
    char sub[37];
    td_test_uuid(sub);
    struct td_test_claims expired = {.sub = sub, .has_exp = 1, .exp = -3600, .has_iat = 1,
                                     .iat = -7200};
    struct td_test_claims forged = {.sub = sub, .has_exp = 1, .exp = 600, .has_iat = 1,
                                    .secret = "another-secret-that-is-long-enough-0123456789"};
    char *expired_token = td_test_jwt_claims(&expired), *forged_token = td_test_jwt_claims(&forged);
    const char *basic[] = {"Authorization: Basic YWRhOnB3", NULL};
    struct {
        const char *what, *token, *const *headers, *www;
    } cases[] = {
        {"no Authorization", NULL, NULL, "Bearer realm=\"todod\""},
        {"Basic scheme", NULL, basic, "Bearer realm=\"todod\""},
        {"not a JWT", "not.a.jwt", NULL, "Bearer realm=\"todod\", error=\"invalid_token\""},
        {"another secret", forged_token, NULL, "Bearer realm=\"todod\", error=\"invalid_token\""},
        {"expired", expired_token, NULL, "Bearer realm=\"todod\", error=\"invalid_token\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct td_test_http r;
        get("/api/whoami", cases[i].token, cases[i].headers, &r);
        td_test_expect_problem(&r, 401, "unauthorized", cases[i].what);
        expect_www_authenticate(&r, cases[i].www, cases[i].what);
        expect_no_store(&r, cases[i].what);
        td_test_http_free(&r);
    }
    free(expired_token);
    free(forged_token);
    cr_expect_eq(atomic_load(&reached), 0, "a refused request reached the handler");
    /* Refusals of a token sent are counted by reason; a request without one is not. */
    cr_expect_eq(td_test_roles_metric(&S, "td_api_auth_failures_total{reason=\"malformed\"}"), 2,
                 "not.a.jwt and Basic are malformed; no header is not counted");
    cr_expect_eq(td_test_roles_metric(&S, "td_api_auth_failures_total{reason=\"signature\"}"), 1);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_auth_failures_total{reason=\"expired\"}"), 1);
    td_test_roles_stop(&S);
}

Test(door, a_valid_token_reaches_the_handler_with_its_subject)
{
    start_door(0, 0);
    struct td_test_http r;
    const char *subjects[] = {"3f0c2a56-53c5-4d7a-9d0e-3d0a0b6c1e11", "user_AbC-from-an-idp"};
    for (int i = 0; i < 2; i++) {
        char *token = td_test_jwt(subjects[i]);
        cr_expect_eq(get("/api/whoami", token, NULL, &r), 200, "%s", r.body);
        cr_expect_str_eq(r.body, subjects[i], "td_door_subject is the token's sub");
        expect_no_store(&r, "bearer 200");
        td_test_http_free(&r);
        free(token);
    }
    /* A public route needs no token, and a token sent there is neither checked nor seen. */
    cr_expect_eq(td_test_api(S.port, NULL, "POST", "/api/open", "{}", NULL, &r), 200);
    cr_expect_str_eq(r.body, "(nobody)");
    expect_no_store(&r, "public 200");
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, "not.a.jwt", "POST", "/api/open", "{}", NULL, &r), 200);
    cr_expect_str_eq(r.body, "(nobody)", "a public route has no subject");
    td_test_http_free(&r);
    cr_expect_eq(atomic_load(&reached), 4);
    /* Routes outside the door are not marked. */
    cr_expect_eq(get("/health", NULL, NULL, &r), 200);
    char *cc = td_test_header(r.headers, "Cache-Control");
    cr_expect_null(cc, "/health: Cache-Control %s", cc);
    free(cc);
    td_test_http_free(&r);
    td_test_roles_stop(&S);
}

Test(door, the_path_user_must_be_the_subject)
{
    start_door(0, 0);
    struct td_test_user me, other;
    td_test_user_fake(&me);
    td_test_user_fake(&other);
    struct td_test_http r;
    char *mine = td_test_fmt("/api/%s/things", me.id), *theirs = td_test_fmt("/api/%s/things", other.id);
    cr_expect_eq(get(mine, me.token, NULL, &r), 200, "%s", r.body);
    cr_expect_str_eq(r.body, me.id);
    td_test_http_free(&r);
    get(theirs, me.token, NULL, &r);
    td_test_expect_problem(&r, 403, "forbidden", "another user's path");
    expect_no_store(&r, "403");
    td_test_http_free(&r);
    cr_expect_eq(atomic_load(&reached), 1, "the 403 never reached the handler");
    free(mine);
    free(theirs);
    td_test_roles_stop(&S);
}

/* ------------------------------------------------------------ rate limits */

/* Three quick requests at 1/s (burst 2): the third is refused. */
static void expect_third_limited(const char *t1, const char *t2, const char *t3, const char *what)
{
    struct td_test_http r;
    cr_expect_eq(get("/api/whoami", t1, NULL, &r), 200, "%s: first", what);
    td_test_http_free(&r);
    cr_expect_eq(get("/api/whoami", t2, NULL, &r), 200, "%s: second", what);
    td_test_http_free(&r);
    get("/api/whoami", t3, NULL, &r);
    td_test_expect_problem(&r, 429, "rate-limited", what);
    char *retry = td_test_header(r.headers, "Retry-After");
    cr_expect(retry && atoi(retry) >= 1, "%s: Retry-After %s", what, retry);
    free(retry);
    expect_no_store(&r, what);
    td_test_http_free(&r);
}

Test(door, per_user_limit_answers_429_with_retry_after)
{
    start_door(1, 0);
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    expect_third_limited(a.token, a.token, a.token, "user a, third request");
    /* The limit is the user's: another user from the same address goes through. */
    struct td_test_http r;
    cr_expect_eq(get("/api/whoami", b.token, NULL, &r), 200);
    td_test_http_free(&r);
    cr_expect_eq(atomic_load(&reached), 3);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_rate_limited_total{limit=\"user\"}"), 1);
    td_test_roles_stop(&S);
}

Test(door, per_address_limit_counts_every_user_of_the_address)
{
    start_door(0, 1);
    struct td_test_user a, b, c;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    td_test_user_fake(&c);
    expect_third_limited(a.token, b.token, c.token, "three users, one address");
    cr_expect_eq(atomic_load(&reached), 2);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_rate_limited_total{limit=\"address\"}"), 1);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_rate_limited_total{limit=\"user\"}"), -1,
                 "an address limit is not a user's");
    td_test_roles_stop(&S);
}

/* ------------------------------------------------------------ database problems */

Test(door, database_errors_map_to_problems)
{
    start_door(0, 0);
    struct td_test_user u;
    td_test_user_fake(&u);
    struct {
        const char *path;
        int         status;
        const char *slug;
    } cases[] = {
        {"/api/db/ok", 200, NULL},
        {"/api/db/unique", 409, "conflict"},
        {"/api/db/range", 422, "validation-failed"},
        {"/api/db/check", 422, "validation-failed"},
        {"/api/db/other", 500, "internal"},
        {"/api/db/gone", 503, "database-unavailable"},
    };
    struct td_test_http r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        get(cases[i].path, u.token, NULL, &r);
        if (cases[i].slug)
            td_test_expect_problem(&r, cases[i].status, cases[i].slug, cases[i].path);
        else
            cr_expect_eq(r.status, 200, "%s: %d %s", cases[i].path, r.status, r.body);
        char *retry = td_test_header(r.headers, "Retry-After");
        if (cases[i].status == 503)
            cr_expect(retry && strcmp(retry, "1") == 0, "503 says when to retry: %s", retry);
        else
            cr_expect_null(retry, "%s: Retry-After %s", cases[i].path, retry);
        free(retry);
        td_test_http_free(&r);
    }
    /* The failed writes left nothing behind. */
    cr_expect_eq(td_test_pg_long(td_test_roles_pg(),
                                 "SELECT count(*) FROM inbox WHERE consumer_group = 'door-test'"), 0);
    /* 503 is transient: the pool reconnects and the next call succeeds. */
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        ok = get("/api/db/ok", u.token, NULL, &r) == 200;
        td_test_http_free(&r);
        if (!ok)
            usleep(50 * 1000);
    }
    cr_expect(ok, "the database never came back after the terminated connection");
    td_test_roles_stop(&S);
}

/* ------------------------------------------------------------ the generated secret */

Test(door_secret, created_once_0600_then_reused)
{
    char dir[] = "/tmp/todod-door-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *data = td_test_fmt("%s/data", dir), *path = td_test_fmt("%s/data/jwt-secret", dir);
    char err[512] = "";
    struct td_door_conf first = {0}, again = {0};
    cr_assert_eq(td_door_secret_from_data_dir(&first, data, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(first.jwt_secret);
    cr_expect_eq(strlen(first.jwt_secret), 64);
    cr_expect_eq(strspn(first.jwt_secret, "0123456789abcdef"), 64, "%s", first.jwt_secret);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", (unsigned)(st.st_mode & 0777));
    cr_expect_eq(st.st_size, 64);
    cr_assert_eq(td_door_secret_from_data_dir(&again, data, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(again.jwt_secret, first.jwt_secret, "the second start reuses the file");
    td_config_free_secret(&first.jwt_secret);
    td_config_free_secret(&again.jwt_secret);

    /* A file someone shortened is refused, naming it. */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("too-short\n", f);
    fclose(f);
    struct td_door_conf weak = {0};
    cr_expect_eq(td_door_secret_from_data_dir(&weak, data, err, sizeof err), -EINVAL);
    cr_expect_not_null(strstr(err, path), "%s", err);
    cr_expect_not_null(strstr(err, "shorter than 32 bytes"), "%s", err);
    td_config_free_secret(&weak.jwt_secret);

    /* A data dir that cannot be made is named too. */
    char *under_file = td_test_fmt("%s/data/jwt-secret/sub", dir);
    struct td_door_conf none = {0};
    cr_expect_eq(td_door_secret_from_data_dir(&none, under_file, err, sizeof err), -EINVAL);
    cr_expect_not_null(strstr(err, "--data-dir"), "%s", err);
    cr_expect_null(none.jwt_secret);

    unlink(path);
    rmdir(data);
    rmdir(dir);
    free(under_file);
    free(data);
    free(path);
    td_test_assert_no_leaks();
}

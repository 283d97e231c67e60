/* Accounts and tokens (issue 4) against a real `todod all` on a real PostgreSQL:
 * signup, login, /api/me, login throttling, per-user limits, and every way a bearer
 * token must be refused. Tokens are signed here, not by the server. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

#define AUD "todod-tests"
#define ISS "https://issuer.todod.test"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

/* No rate limits; issuer and audience configured, so they are checked. */
static void start_open(void)
{
    td_test_jwt_aud = AUD;
    td_test_jwt_iss = ISS;
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", "--jwt-audience", AUD, "--jwt-issuer", ISS,
                          NULL};
    td_test_spawn(&todod, argv, NULL);
}

/* The default login throttle; a per-user limit of 1/s (burst 2) to see it bite. */
static void start_limited(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user", "1",
                          "--rate-limit-addr", "1000", NULL};
    td_test_spawn(&todod, argv, NULL);
}

#define BETTER_SECRET "better-auth-shared-secret-from-the-front-end-0123"

/* Only BETTER_AUTH_SECRET: "TODOD_JWT_SECRET" without '=' makes the harness's putenv
 * (glibc) remove the variable it sets by default. */
static void start_better_auth(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    const char *env[] = {"TODOD_JWT_SECRET", "BETTER_AUTH_SECRET=" BETTER_SECRET, NULL};
    td_test_spawn(&todod, argv, env);
}

static void expect_problem(struct td_test_http *r, int status, const char *what)
{
    cr_expect_eq(r->status, status, "%s: %d %s", what, r->status, r->body);
    char *type = td_test_header(r->headers, "Content-Type");
    cr_expect(type && strstr(type, "application/problem+json"), "%s: content type %s", what, type);
    free(type);
}

/* ---------- signup, login, me ---------- */

TestSuite(api_auth, .init = start_open, .fini = stop, .timeout = 60);

Test(api_auth, signup_login_me)
{
    struct td_test_http r;
    const char *body = "{\"email\":\"Ada@Example.com\",\"password\":\"correct horse battery\","
                       "\"name\":\"Ada Lovelace\",\"time_zone\":\"Europe/London\"}";
    td_test_api(todod.port, NULL, "POST", "/api/auth/signup", body, NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char *cc = td_test_header(r.headers, "Cache-Control");
    cr_expect(cc && strstr(cc, "no-store"), "token answers must not be cached: %s", cc);
    free(cc);
    json_t *j = td_test_body_json(&r);
    td_test_http_free(&r);
    const char *token = td_test_jstr(j, "token");
    cr_assert(token && strlen(token) > 20);
    cr_expect_str_eq(td_test_jstr(j, "token_type"), "Bearer");
    const char *id = td_test_jstr(j, "user.id");
    cr_assert(id && strlen(id) == 36, "user.id: %s", id);
    cr_expect_str_eq(td_test_jstr(j, "user.name"), "Ada Lovelace");
    cr_expect_str_eq(td_test_jstr(j, "user.time_zone"), "Europe/London");
    cr_expect(td_test_jstr(j, "user.email") != NULL);
    char *dump = json_dumps(j, 0);
    cr_expect(!td_test_jget(j, "user.password_hash") && !strstr(dump, "argon2"),
              "the password hash must never leave the server: %s", dump);
    free(dump);
    char user_id[64];
    snprintf(user_id, sizeof user_id, "%s", id);
    /* The stored hash is argon2id, not the password. */
    char *hash = td_test_pg_queryf(&pg, "SELECT password_hash FROM users WHERE id = '%s'", user_id);
    cr_expect(hash && strncmp(hash, "$argon2id$", 10) == 0, "hash: %s", hash);
    cr_expect(hash && !strstr(hash, "correct horse"));
    free(hash);

    /* The server's own token works on /api/me. */
    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "id"), user_id);
    cr_expect_str_eq(td_test_jstr(me, "name"), "Ada Lovelace");
    json_decref(me);
    /* So does one the test signs for that subject. */
    char *mine = td_test_jwt(user_id);
    cr_expect_eq(td_test_api_json(todod.port, mine, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "id"), user_id);
    json_decref(me);
    free(mine);
    /* The account's zone is its tasks' default: a bare date is midnight in London. */
    json_t *t = td_test_create_task(todod.port, token, "{\"title\":\"picnic\",\"due_date\":\"2031-07-01\"}");
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "Europe/London");
    cr_expect(json_is_true(json_object_get(t, "all_day")));
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2031-06-30T23:00:00Z", "midnight BST");
    char *tpath = td_test_fmt("/api/tasks/%s", td_test_jstr(t, "id"));
    json_t *u = NULL;
    cr_expect_eq(td_test_api_json(todod.port, token, "PATCH", tpath, "{\"due_at\":\"2031-12-01\"}", NULL, &u), 200);
    cr_expect_str_eq(td_test_jstr(u, "due_at"), "2031-12-01T00:00:00Z", "midnight GMT");
    cr_expect(json_is_true(json_object_get(u, "all_day")));
    json_decref(u);
    free(tpath);
    json_decref(t);
    json_decref(j);

    /* Duplicate email, in any case: 409, and still one row. */
    const char *dup = "{\"email\":\"ada@EXAMPLE.com\",\"password\":\"another password\",\"name\":\"x\"}";
    td_test_api(todod.port, NULL, "POST", "/api/auth/signup", dup, NULL, &r);
    expect_problem(&r, 409, "duplicate email");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users"), 1);

    /* Login: right password (email case does not matter) → 200 with token and user. */
    const char *good = "{\"email\":\"ADA@example.com\",\"password\":\"correct horse battery\"}";
    json_t *login = NULL;
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/login", good, NULL, &login), 200);
    cr_expect_str_eq(td_test_jstr(login, "user.id"), user_id);
    const char *t2 = td_test_jstr(login, "token");
    cr_assert(t2);
    cr_expect_eq(td_test_api_json(todod.port, t2, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "id"), user_id);
    json_decref(me);
    json_decref(login);

    /* Wrong password and unknown email: 401, the same problem apart from per-request ids. */
    json_t *wrong = NULL, *unknown = NULL;
    td_test_api(todod.port, NULL, "POST", "/api/auth/login",
                "{\"email\":\"ada@example.com\",\"password\":\"wrong horse battery\"}", NULL, &r);
    expect_problem(&r, 401, "wrong password");
    char *www1 = td_test_header(r.headers, "WWW-Authenticate");
    wrong = td_test_body_json(&r);
    td_test_http_free(&r);
    td_test_api(todod.port, NULL, "POST", "/api/auth/login",
                "{\"email\":\"nobody@example.com\",\"password\":\"wrong horse battery\"}", NULL, &r);
    expect_problem(&r, 401, "unknown email");
    char *www2 = td_test_header(r.headers, "WWW-Authenticate");
    unknown = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect(www1 && www2 && strcmp(www1, www2) == 0, "%s vs %s", www1, www2);
    free(www1);
    free(www2);
    const char *per_request[] = {"instance", "request_id"};
    for (int i = 0; i < 2; i++) {
        json_object_del(wrong, per_request[i]);
        json_object_del(unknown, per_request[i]);
    }
    char *ws = json_dumps(wrong, JSON_SORT_KEYS), *us = json_dumps(unknown, JSON_SORT_KEYS);
    cr_expect_str_eq(ws, us, "the answers must not tell which accounts exist: %s vs %s", ws, us);
    cr_expect(!td_test_jget(wrong, "token"));
    free(ws);
    free(us);
    json_decref(wrong);
    json_decref(unknown);
}

/* Whether a bare date needs the account's zone is decided from the body's members, not
 * from its bytes: a title that merely reads "time_zone" names no zone. */
Test(api_auth, bare_due_date_uses_account_zone_whatever_the_title)
{
    json_t *me = NULL;
    const char *body = "{\"email\":\"tz@example.com\",\"password\":\"correct horse battery\","
                       "\"time_zone\":\"Europe/London\"}";
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/signup", body, NULL, &me), 201);
    const char *token = td_test_jstr(me, "token");
    cr_assert(token);
    json_t *t = td_test_create_task(todod.port, token,
                                    "{\"title\":\"time_zone\",\"due_date\":\"2031-07-01\"}");
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "Europe/London");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2031-06-30T23:00:00Z", "midnight BST");
    json_decref(t);
    json_decref(me);
}

Test(api_auth, signup_and_login_validation_names_each_field)
{
    struct td_test_http r;
    /* Every field bad at once: each one is named. */
    td_test_api(todod.port, NULL, "POST", "/api/auth/signup",
                "{\"email\":\"not-an-email\",\"password\":\"short\",\"name\":42,"
                "\"time_zone\":\"Mars/Olympus_Mons\"}", NULL, &r);
    expect_problem(&r, 422, "bad signup");
    json_t *j = td_test_body_json(&r);
    td_test_http_free(&r);
    const char *fields[] = {"email", "password", "name", "time_zone"};
    for (int i = 0; i < 4; i++)
        cr_expect(td_test_problem_names(j, fields[i]), "422 does not name %s", fields[i]);
    json_decref(j);

    /* One bad field at a time: exactly that field. */
    const char *one[][2] = {
        {"{\"email\":\"a@b\",\"password\":\"long enough pw\",\"name\":\"n\"}", "email"},
        {"{\"email\":\"a@b.example\",\"password\":\"1234567\",\"name\":\"n\"}", "password"},
        {"{\"email\":\"a@b.example\",\"name\":\"n\"}", "password"},
        {"{\"password\":\"long enough pw\"}", "email"},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        td_test_api(todod.port, NULL, "POST", "/api/auth/signup", one[i][0], NULL, &r);
        expect_problem(&r, 422, one[i][0]);
        j = td_test_body_json(&r);
        td_test_http_free(&r);
        cr_expect(td_test_problem_names(j, one[i][1]), "%s: not named in %s", one[i][1], one[i][0]);
        cr_expect_eq(json_array_size(json_object_get(j, "errors")), 1, "%s", one[i][0]);
        json_decref(j);
    }
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users"), 0, "nothing half-written");

    /* Login without a password: 422 naming it; malformed JSON 400; wrong type 415. */
    td_test_api(todod.port, NULL, "POST", "/api/auth/login", "{\"email\":\"a@b.example\"}", NULL, &r);
    expect_problem(&r, 422, "login without password");
    j = td_test_body_json(&r);
    cr_expect(td_test_problem_names(j, "password"));
    json_decref(j);
    td_test_http_free(&r);
    td_test_api(todod.port, NULL, "POST", "/api/auth/login", "{\"email\":", NULL, &r);
    expect_problem(&r, 400, "malformed login");
    td_test_http_free(&r);
    const char *text[] = {"Content-Type: text/plain", NULL};
    td_test_api(todod.port, NULL, "POST", "/api/auth/signup", "{}", text, &r);
    expect_problem(&r, 415, "signup as text/plain");
    td_test_http_free(&r);
}

/* ---------- PATCH /api/me ---------- */

/* PATCH /api/me with body; returns the status and the answer as JSON in *out. */
static int patch_me(const char *token, const char *body, json_t **out)
{
    return td_test_api_json(todod.port, token, "PATCH", "/api/me", body, NULL, out);
}

Test(api_auth, patch_me_changes_the_zone_later_tasks_use_and_the_name)
{
    json_t *s = NULL;
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/signup",
                                  "{\"email\":\"zone@example.com\",\"password\":\"correct horse battery\","
                                  "\"name\":\"Grace\"}", NULL, &s), 201);
    const char *token = td_test_jstr(s, "token");
    const char *id = td_test_jstr(s, "user.id");
    cr_assert(token && id);
    const char *local = "{\"title\":\"x\",\"due_at\":\"2027-01-31T09:00:00\"}";
    /* Before: the account's zone is UTC, so 09:00 local is 09:00Z. */
    json_t *t = td_test_create_task(todod.port, token, local);
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2027-01-31T09:00:00Z");
    json_decref(t);

    json_t *me = NULL;
    cr_assert_eq(patch_me(token, "{\"time_zone\":\"America/New_York\"}", &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "time_zone"), "America/New_York");
    cr_expect_str_eq(td_test_jstr(me, "name"), "Grace", "an absent name stays");
    cr_expect_str_eq(td_test_jstr(me, "id"), id);
    json_decref(me);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE id = '%s' AND "
                                      "time_zone = 'America/New_York'", id), 1);
    /* After: 09:00 in New York in January (EST, -05:00) is 14:00Z. */
    t = td_test_create_task(todod.port, token, local);
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2027-01-31T14:00:00Z");
    cr_expect_str_eq(td_test_jstr(t, "time_zone"), "America/New_York");
    json_decref(t);
    /* A bare date is midnight there. */
    t = td_test_create_task(todod.port, token, "{\"title\":\"y\",\"due_date\":\"2027-01-31\"}");
    cr_expect_str_eq(td_test_jstr(t, "due_at"), "2027-01-31T05:00:00Z");
    json_decref(t);

    /* The name, trimmed; null leaves the zone; GET /api/me shows both. */
    cr_expect_eq(patch_me(token, "{\"name\":\"  Grace Hopper \\n\",\"time_zone\":null}", &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "name"), "Grace Hopper");
    json_decref(me);
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "name"), "Grace Hopper");
    cr_expect_str_eq(td_test_jstr(me, "time_zone"), "America/New_York");
    /* {} answers the account unchanged. */
    json_t *same = NULL;
    cr_expect_eq(patch_me(token, "{}", &same), 200);
    cr_expect(json_equal(me, same), "{} changed the account");
    json_decref(same);
    json_decref(me);
    /* 200 characters (not bytes) is the longest name. */
    char body[1024] = "{\"name\":\"";
    for (int i = 0; i < 200; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\"}");
    cr_expect_eq(patch_me(token, body, &me), 200, "200 two-byte characters");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT char_length(name) FROM users WHERE id = '%s'", id), 200);
    json_decref(me);
    json_decref(s);
}

Test(api_auth, patch_me_refuses_bad_settings_and_changes_nothing)
{
    json_t *s = NULL;
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/signup",
                                  "{\"email\":\"bad@example.com\",\"password\":\"correct horse battery\","
                                  "\"name\":\"Ann\",\"time_zone\":\"Europe/Paris\"}", NULL, &s), 201);
    const char *token = td_test_jstr(s, "token");
    const char *id = td_test_jstr(s, "user.id");
    cr_assert(token && id);
    char long_name[300] = "{\"name\":\"";
    for (int i = 0; i < 201; i++)
        strcat(long_name, "a");
    strcat(long_name, "\"}");
    const char *one[][2] = {
        {"{\"time_zone\":\"Mars/Olympus_Mons\"}", "time_zone"},
        {"{\"time_zone\":\"\"}", "time_zone"},
        {"{\"time_zone\":42}", "time_zone"},
        {"{\"time_zone\":\"../../etc/passwd\"}", "time_zone"},
        {"{\"name\":\"   \"}", "name"},
        {"{\"name\":\"\"}", "name"},
        {"{\"name\":true}", "name"},
        {"{\"name\":\"a\\u0007b\"}", "name"},
        {long_name, "name"},
        {"{\"nickname\":\"x\"}", "nickname"},
        {"{\"email\":\"other@example.com\"}", "email"},
    };
    struct td_test_http r;
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        td_test_api(todod.port, token, "PATCH", "/api/me", one[i][0], NULL, &r);
        td_test_expect_problem(&r, 422, "validation-failed", one[i][0]);
        json_t *j = td_test_body_json(&r);
        td_test_http_free(&r);
        cr_expect(td_test_problem_names(j, one[i][1]), "%s: not named in %s", one[i][1], one[i][0]);
        cr_expect_eq(json_array_size(json_object_get(j, "errors")), 1, "%s", one[i][0]);
        json_decref(j);
    }
    /* Both bad at once: both named, and a good member beside a bad one is not applied. */
    td_test_api(todod.port, token, "PATCH", "/api/me", "{\"name\":\"\",\"time_zone\":\"Nowhere\"}", NULL, &r);
    td_test_expect_problem(&r, 422, "validation-failed", "both bad");
    json_t *j = td_test_body_json(&r);
    td_test_http_free(&r);
    cr_expect(td_test_problem_names(j, "name") && td_test_problem_names(j, "time_zone"));
    json_decref(j);
    td_test_api(todod.port, token, "PATCH", "/api/me", "{\"name\":\"Bob\",\"time_zone\":\"Nowhere\"}", NULL, &r);
    td_test_expect_problem(&r, 422, "validation-failed", "good name, bad zone");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE id = '%s' AND name = 'Ann' "
                                      "AND time_zone = 'Europe/Paris'", id), 1, "nothing half-written");

    /* Malformed JSON 400, a non-object 400, a wrong content type 415, no token 401. */
    td_test_api(todod.port, token, "PATCH", "/api/me", "{\"name\":", NULL, &r);
    td_test_expect_problem(&r, 400, "malformed-json", "malformed");
    td_test_http_free(&r);
    td_test_api(todod.port, token, "PATCH", "/api/me", "[\"name\"]", NULL, &r);
    td_test_expect_problem(&r, 400, "malformed-json", "an array");
    td_test_http_free(&r);
    const char *text[] = {"Content-Type: text/plain", NULL};
    td_test_api(todod.port, token, "PATCH", "/api/me", "{\"name\":\"Bob\"}", text, &r);
    td_test_expect_problem(&r, 415, "unsupported-media-type", "text/plain");
    td_test_http_free(&r);
    td_test_api(todod.port, NULL, "PATCH", "/api/me", "{\"name\":\"Bob\"}", NULL, &r);
    td_test_expect_problem(&r, 401, "unauthorized", "no token");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE id = '%s' AND name = 'Ann'", id), 1);

    /* A valid token for a subject that never signed up: no account to change. */
    struct td_test_user ghost;
    td_test_user_fake(&ghost);
    td_test_api(todod.port, ghost.token, "PATCH", "/api/me", "{\"name\":\"Ghost\"}", NULL, &r);
    td_test_expect_problem(&r, 404, "user-not-found", "a UUID subject without a row");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE name = 'Ghost'"), 0);
    json_decref(s);
}

/* exp - iat of a token, read by PostgreSQL from its payload (base64url JSON). */
static long token_lifetime(const char *token)
{
    return td_test_pg_long(&pg,
        "SELECT (j->>'exp')::bigint - (j->>'iat')::bigint FROM (SELECT convert_from(decode("
        "p || repeat('=', (4 - length(p) %% 4) %% 4), 'base64'), 'UTF8')::json AS j "
        "FROM (SELECT translate(split_part('%s', '.', 2), '-_', '+/') AS p) x) y", token);
}

/* The OAuth 2.0 token-response members (RFC 6749 5.1) beside todod's own; asserts them
 * and returns access_token (borrowed from j). */
static const char *expect_token_response(json_t *j, const char *what)
{
    const char *token = td_test_jstr(j, "token"), *access = td_test_jstr(j, "access_token");
    cr_assert(token && access, "%s: token %s, access_token %s", what, token, access);
    cr_expect_str_eq(access, token, "%s: access_token is the same JWT as token", what);
    cr_expect_str_eq(td_test_jstr(j, "token_type"), "Bearer", "%s", what);
    json_t *expires = json_object_get(j, "expires_in");
    cr_expect(json_is_integer(expires) && json_integer_value(expires) == 86400,
              "%s: expires_in is the issuer's ttl in seconds", what);
    cr_expect_eq(token_lifetime(access), json_integer_value(expires),
                 "%s: expires_in is the token's own exp - iat", what);
    cr_expect(td_test_jstr(j, "user.id") != NULL, "%s: user beside the token", what);
    return access;
}

/* What a Next.js front-end written for the hackathon brief does: register with email and
 * password only, keep access_token, send it as a bearer token; log in the same way. */
Test(api_auth, register_login_answer_oauth_token_responses)
{
    struct td_test_http r;
    const char *creds = "{\"email\":\"ann.lee@example.com\",\"password\":\"correct horse battery\"}";
    const char *json_type[] = {"Content-Type: application/json", NULL};
    td_test_api(todod.port, NULL, "POST", "/api/auth/register", creds, json_type, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char *cc = td_test_header(r.headers, "Cache-Control");
    cr_expect(cc && strstr(cc, "no-store"), "token answers must not be cached: %s", cc);
    free(cc);
    json_t *reg = td_test_body_json(&r);
    td_test_http_free(&r);
    const char *access = expect_token_response(reg, "register");
    cr_expect_str_eq(td_test_jstr(reg, "user.name"), "ann.lee", "the name defaults to the local part");
    char uid[64];
    snprintf(uid, sizeof uid, "%s", td_test_jstr(reg, "user.id"));
    char *stored = td_test_pg_queryf(&pg, "SELECT name FROM users WHERE id = '%s'", uid);
    cr_expect_str_eq(stored ? stored : "", "ann.lee");
    free(stored);

    /* access_token is a bearer token on /api/me and on the brief's task paths. */
    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(todod.port, access, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "id"), uid);
    cr_expect_str_eq(td_test_jstr(me, "name"), "ann.lee");
    json_decref(me);
    char *tasks = td_test_fmt("/api/%s/tasks", uid);
    json_t *t = NULL;
    cr_expect_eq(td_test_api_json(todod.port, access, "POST", tasks, "{\"title\":\"Buy milk\"}",
                                  json_type, &t), 201);
    json_decref(t);
    json_t *list = NULL;
    cr_expect_eq(td_test_api_json(todod.port, access, "GET", tasks, NULL, NULL, &list), 200);
    cr_expect(json_is_array(list) && json_array_size(list) == 1 &&
              strcmp(td_test_jstr(json_array_get(list, 0), "title"), "Buy milk") == 0,
              "the task made with access_token is listed");
    json_decref(list);
    free(tasks);

    /* register is signup: the same email again is 409 and no second row. */
    td_test_api(todod.port, NULL, "POST", "/api/auth/register",
                "{\"email\":\"Ann.Lee@example.com\",\"password\":\"another password\"}", NULL, &r);
    expect_problem(&r, 409, "register with a taken email");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE lower(email) = 'ann.lee@example.com'"), 1);

    /* Login answers the same shape, and its access_token works too. */
    json_t *login = NULL;
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/login", creds, json_type,
                                  &login), 200);
    access = expect_token_response(login, "login");
    cr_expect_str_eq(td_test_jstr(login, "user.id"), uid);
    cr_expect_eq(td_test_api_json(todod.port, access, "GET", "/api/me", NULL, NULL, NULL), 200);
    json_decref(login);
    json_decref(reg);

    /* Signup answers it too. */
    json_t *sig = NULL;
    cr_assert_eq(td_test_api_json(todod.port, NULL, "POST", "/api/auth/signup",
                                  "{\"email\":\"bo@example.com\",\"password\":\"correct horse battery\","
                                  "\"name\":\"Bo\"}", NULL, &sig), 201);
    expect_token_response(sig, "signup");
    cr_expect_str_eq(td_test_jstr(sig, "user.name"), "Bo", "a name sent is kept");
    json_decref(sig);
}

/* A name that is null or empty defaults like an absent one; the default never cuts a
 * character in two to fit a name's 200 bytes; a name that is not a string is still 422. */
Test(api_auth, signup_name_defaults_from_the_email)
{
    char local[256] = "a";
    for (int i = 0; i < 105; i++)
        strcat(local, "\xc3\xa9");   /* é: 1 + 210 bytes in all */
    char want[256] = "a";
    for (int i = 0; i < 99; i++)
        strcat(want, "\xc3\xa9");    /* 199 bytes: a 100th é would end at byte 201 */
    struct { char *body; const char *name; } cases[] = {
        {td_test_fmt("{\"email\":\"cy@example.com\",\"password\":\"correct horse battery\","
                     "\"name\":null}"), "cy"},
        {td_test_fmt("{\"email\":\"dee+todo@example.com\",\"password\":\"correct horse battery\","
                     "\"name\":\"\"}"), "dee+todo"},
        {td_test_fmt("{\"email\":\"%s@example.com\",\"password\":\"correct horse battery\"}", local),
         want},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = NULL;
        int st = td_test_api_json(todod.port, NULL, "POST", "/api/auth/register", cases[i].body,
                                  NULL, &j);
        cr_expect_eq(st, 201, "%s: %d", cases[i].body, st);
        cr_expect_str_eq(td_test_jstr(j, "user.name") ? td_test_jstr(j, "user.name") : "",
                         cases[i].name, "%s", cases[i].body);
        json_decref(j);
        free(cases[i].body);
    }
    cr_expect_eq(td_test_pg_long(&pg, "SELECT octet_length(name) FROM users WHERE name LIKE 'a%%'"), 199);
    struct td_test_http r;
    td_test_api(todod.port, NULL, "POST", "/api/auth/register",
                "{\"email\":\"ed@example.com\",\"password\":\"correct horse battery\",\"name\":42}",
                NULL, &r);
    expect_problem(&r, 422, "a number for a name");
    json_t *p = td_test_body_json(&r);
    cr_expect(td_test_problem_names(p, "name"));
    json_decref(p);
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM users WHERE email = 'ed@example.com'"), 0);
}

/* /api/me with a token; returns the status and checks 401s carry WWW-Authenticate. */
static int me_with(const char *token, const char *what)
{
    struct td_test_http r;
    int status = td_test_api(todod.port, token, "GET", "/api/me", NULL, NULL, &r);
    if (status == 401) {
        char *www = td_test_header(r.headers, "WWW-Authenticate");
        cr_expect(www && strncmp(www, "Bearer", 6) == 0, "%s: 401 without WWW-Authenticate: Bearer", what);
        free(www);
        expect_problem(&r, 401, what);
    }
    td_test_http_free(&r);
    return status;
}

Test(api_auth, bearer_tokens_rejected_and_accepted)
{
    struct td_test_http r;
    /* No header, another scheme, garbage. */
    td_test_api(todod.port, NULL, "GET", "/api/me", NULL, NULL, &r);
    expect_problem(&r, 401, "no Authorization");
    char *www = td_test_header(r.headers, "WWW-Authenticate");
    cr_expect(www && strncmp(www, "Bearer", 6) == 0, "WWW-Authenticate: %s", www);
    free(www);
    td_test_http_free(&r);
    const char *basic[] = {"Authorization: Basic YWRhOnB3", NULL};
    td_test_api(todod.port, NULL, "GET", "/api/tasks", NULL, basic, &r);
    expect_problem(&r, 401, "Basic auth");
    td_test_http_free(&r);
    cr_expect_eq(me_with("not.a.jwt", "garbage"), 401);
    cr_expect_eq(me_with("", "empty bearer"), 401);

    char sub[37];
    td_test_uuid(sub);
    struct td_test_claims base = {.sub = sub, .has_exp = 1, .exp = 600, .has_iat = 1,
                                  .aud = AUD, .iss = ISS};
    struct {
        const char *what;
        int         want;
        struct td_test_claims c;
    } cases[16];
    int n = 0;
#define CASE(w, st, ...) do { cases[n].what = w; cases[n].want = st; \
        cases[n].c = base; struct td_test_claims *c = &cases[n].c; (void)c; __VA_ARGS__; n++; } while (0)
    CASE("valid", 200, );
    CASE("expired 120 s ago (beyond the 60 s skew)", 401, c->exp = -120);
    CASE("expired 20 s ago (within the skew)", 200, c->exp = -20);
    CASE("signed with another secret", 401, c->secret = "another-secret-that-is-long-enough-0123456789");
    CASE("alg none", 401, c->alg = "none");
    CASE("alg HS512 signed with HS512", 401, c->alg = "HS512");
    CASE("alg RS256 over an HS256 MAC", 401, c->alg = "RS256"; c->force_hs256 = 1);
    CASE("no sub", 401, c->sub = NULL);
    CASE("empty sub", 401, c->sub = "");
    CASE("no exp", 401, c->has_exp = 0);
    CASE("wrong aud", 401, c->aud = "someone-else");
    CASE("no aud", 401, c->aud = NULL);
    CASE("wrong iss", 401, c->iss = "https://evil.example");
    CASE("nbf 5 min ahead", 401, c->has_nbf = 1; c->nbf = 300);
    CASE("nbf 20 s ahead (within the skew)", 200, c->has_nbf = 1; c->nbf = 20);
    CASE("iat 5 min ahead", 401, c->iat = 300);
#undef CASE
    for (int i = 0; i < n; i++) {
        char *token = td_test_jwt_claims(&cases[i].c);
        cr_expect_eq(me_with(token, cases[i].what), cases[i].want, "%s", cases[i].what);
        /* The same verdict on a task route. */
        int st = td_test_api(todod.port, token, "GET", "/api/tasks", NULL, NULL, &r);
        cr_expect_eq(st, cases[i].want, "%s on /api/tasks: %s", cases[i].what, r.body);
        td_test_http_free(&r);
        free(token);
    }

    /* Tampered payload with the original signature. */
    char *good = td_test_jwt_claims(&base);
    char other[37];
    td_test_uuid(other);
    struct td_test_claims evil = base;
    evil.sub = other;
    char *forged = td_test_jwt_claims(&evil);
    char *sig = strrchr(good, '.'), *fsig = strrchr(forged, '.');
    cr_assert(sig && fsig && strlen(sig) == strlen(fsig));
    memcpy(fsig, sig, strlen(sig));
    cr_expect_eq(me_with(forged, "payload swapped under a valid signature"), 401);
    /* Unsigned: the signature cut off. */
    *strrchr(good, '.') = '\0';
    char *unsigned_tok = td_test_fmt("%s.", good);
    cr_expect_eq(me_with(unsigned_tok, "signature stripped"), 401);
    free(unsigned_tok);
    free(good);
    free(forged);

    /* aud as an array containing ours is fine. */
    const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *ps = td_test_fmt("{\"sub\":\"%s\",\"exp\":%ld,\"aud\":[\"x\",\"%s\"],\"iss\":\"%s\"}", sub,
                           (long)time(NULL) + 600, AUD, ISS);
    char *tok = td_test_jwt_raw(hs, ps, NULL, 0);
    cr_expect_eq(me_with(tok, "aud array"), 200);
    free(tok);
    free(ps);
    /* exp as a string is not a NumericDate. */
    ps = td_test_fmt("{\"sub\":\"%s\",\"exp\":\"%ld\",\"aud\":\"%s\",\"iss\":\"%s\"}", sub,
                     (long)time(NULL) + 600, AUD, ISS);
    tok = td_test_jwt_raw(hs, ps, NULL, 0);
    cr_expect_eq(me_with(tok, "exp as a string"), 401);
    free(tok);
    free(ps);

    /* A rejected token never reaches the data: nothing was written. */
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 0);
}

Test(api_auth, short_secrets_are_refused_at_start)
{
    const char *argv[] = {"api", "--database-url", "postgresql://127.0.0.1:1/none", NULL};
    const char *env[] = {"TODOD_JWT_SECRET=only-31-bytes-long-0123456789ab", NULL};
    char *err = NULL;
    int rc = td_test_run(argv, env, NULL, &err);
    cr_expect_neq(rc, 0);
    cr_expect(err && strstr(err, "32"), "stderr: %s", err);
    free(err);
    const char *env2[] = {"TODOD_JWT_SECRET", "BETTER_AUTH_SECRET=short-better-auth-secret", NULL};
    rc = td_test_run(argv, env2, NULL, &err);
    cr_expect_neq(rc, 0);
    cr_expect(err && strstr(err, "BETTER_AUTH_SECRET"), "stderr: %s", err);
    free(err);
}

/* ---------- throttling ---------- */

TestSuite(api_auth_limits, .init = start_limited, .fini = stop, .timeout = 90);

static int login(const char *email, const char *password, struct td_test_http *r)
{
    char *body = td_test_fmt("{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    int st = td_test_api(todod.port, NULL, "POST", "/api/auth/login", body, NULL, r);
    free(body);
    return st;
}

Test(api_auth_limits, login_throttled_per_account_and_per_address)
{
    struct td_test_user a, b;
    td_test_signup(todod.port, "victim@example.com", "the right password", "V", &a);
    td_test_signup(todod.port, "bystander@example.com", "bystander password", "B", &b);
    struct td_test_http r;
    /* Five wrong passwords are answered 401; the sixth is throttled. */
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(login("victim@example.com", "guess", &r), 401, "attempt %d: %s", i + 1, r.body);
        td_test_http_free(&r);
    }
    cr_expect_eq(login("Victim@Example.com", "guess", &r), 429, "6th bad login: %d %s", r.status, r.body);
    char *retry = td_test_header(r.headers, "Retry-After");
    cr_expect(retry && atoi(retry) >= 1 && atoi(retry) <= 12, "Retry-After: %s", retry);
    free(retry);
    expect_problem(&r, 429, "throttled login");
    td_test_http_free(&r);
    /* Even the right password waits: the attacker cannot keep guessing. */
    cr_expect_eq(login("victim@example.com", "the right password", &r), 429);
    td_test_http_free(&r);
    /* Another account on the same address is not affected. */
    cr_expect_eq(login("bystander@example.com", "bystander password", &r), 200, "%s", r.body);
    td_test_http_free(&r);

    /* Per address: attempts on ever new accounts from one address run out too (20, then
     * one per second); each attempt takes far less than a second. */
    int limited = 0;
    for (int i = 0; i < 60 && !limited; i++) {
        char email[64];
        snprintf(email, sizeof email, "nobody%d@example.com", i);
        int st = login(email, "whatever", &r);
        if (st == 429) {
            limited = 1;
            char *ra = td_test_header(r.headers, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "Retry-After: %s", ra);
            free(ra);
        } else {
            cr_expect_eq(st, 401, "%s", r.body);
        }
        td_test_http_free(&r);
    }
    cr_expect(limited, "logins from one address were never throttled");
}

Test(api_auth_limits, requests_limited_per_user)
{
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    struct td_test_http r;
    int limited = 0;
    for (int i = 0; i < 10 && !limited; i++) {
        if (td_test_api(todod.port, a.token, "GET", "/api/tasks", NULL, NULL, &r) == 429) {
            limited = 1;
            char *ra = td_test_header(r.headers, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "Retry-After: %s", ra);
            free(ra);
            expect_problem(&r, 429, "per-user limit");
        } else {
            cr_expect_eq(r.status, 200, "%s", r.body);
        }
        td_test_http_free(&r);
    }
    cr_expect(limited, "10 requests in a burst at 1/s (burst 2) were never limited");
    /* Another user from the same address still gets through. */
    cr_expect_eq(td_test_api(todod.port, b.token, "GET", "/api/tasks", NULL, NULL, &r), 200);
    td_test_http_free(&r);
}

/* ---------- BETTER_AUTH_SECRET ---------- */

TestSuite(api_better_auth, .init = start_better_auth, .fini = stop, .timeout = 60);

Test(api_better_auth, front_end_tokens_with_non_uuid_subjects_work)
{
    const char *sub = "ba_user_7f3K9xQ2";   /* Better Auth ids are not UUIDs */
    struct td_test_claims c = {.sub = sub, .has_exp = 1, .exp = 600, .has_iat = 1,
                               .secret = BETTER_SECRET};
    char *token = td_test_jwt_claims(&c);
    /* A token signed with the secret the harness would otherwise set is refused. */
    char *stale = td_test_jwt(sub);
    cr_expect_eq(me_with(stale, "TODOD_JWT_SECRET token while only BETTER_AUTH_SECRET is set"), 401);
    free(stale);

    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(td_test_jstr(me, "id"), sub);
    json_decref(me);
    /* Settings belong to accounts that signed up here: a BetterAuth subject has none. */
    struct td_test_http r;
    td_test_api(todod.port, token, "PATCH", "/api/me", "{\"time_zone\":\"America/New_York\"}", NULL, &r);
    td_test_expect_problem(&r, 404, "user-not-found", "PATCH /api/me for a BetterAuth subject");
    td_test_http_free(&r);

    /* Task CRUD on both route families. */
    json_t *t = td_test_create_task(todod.port, token, "{\"title\":\"from the front end\"}");
    const char *id = td_test_jstr(t, "id");
    cr_assert(id);
    cr_expect_str_eq(td_test_jstr(t, "user_id"), sub);
    char *path = td_test_fmt("/api/%s/tasks/%s", sub, id);
    json_t *j = NULL;
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", path, NULL, NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "title"), "from the front end");
    json_decref(j);
    cr_expect_eq(td_test_api_json(todod.port, token, "PUT", path,
                                  "{\"title\":\"renamed\",\"priority\":\"high\"}", NULL, &j), 200);
    cr_expect_str_eq(td_test_jstr(j, "title"), "renamed");
    json_decref(j);
    char *toggle = td_test_fmt("/api/%s/tasks/%s/complete", sub, id);
    cr_expect_eq(td_test_api_json(todod.port, token, "PATCH", toggle, NULL, NULL, &j), 200);
    cr_expect(json_is_true(json_object_get(j, "completed")));
    json_decref(j);
    char *list = td_test_fmt("/api/%s/tasks", sub);
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", list, NULL, NULL, &j), 200);
    cr_expect(json_is_array(j) && json_array_size(j) == 1, "list: %s", json_dumps(j, 0));
    json_decref(j);
    cr_expect_eq(td_test_api_json(todod.port, token, "DELETE", path, NULL, NULL, NULL), 204);
    cr_expect_eq(td_test_api_json(todod.port, token, "GET", path, NULL, NULL, NULL), 404);
    char *types = td_test_outbox_types(&pg, id);
    cr_expect_str_eq(types, "todo.task.created,todo.task.updated,todo.task.completed,todo.task.deleted");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM outbox WHERE key = '%s' "
                                      "AND topic = 'task-events'", sub), 4);
    free(types);
    free(list);
    free(toggle);
    free(path);
    json_decref(t);
    free(token);
}

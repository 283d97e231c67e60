/* roles/api/auth_routes.c: signup, login and /api/me. The api role runs alone in the test
 * process (tests/support/role_harness.h) with an issuer configured, so the tokens it
 * issues can be told from the test's; accounts are read back from the shared PostgreSQL. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

#define ISS "https://unit.todod.test"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static char email[96];   /* a fresh address per test */

static void start_with(double per_user)
{
    td_test_roles_config(&S, roles, 1, 0);
    struct td_door_conf *door = td_test_roles_door(&S);
    door->jwt_issuer = strdup(ISS);
    door->rate_limit_user = per_user;   /* > 0 turns the per-account login limit on */
    td_test_roles_run(&S);
}

static void setup(void)
{
    pg = td_test_roles_pg();
    td_test_jwt_iss = ISS;
    char id[37];
    td_test_uuid(id);
    snprintf(email, sizeof email, "Ada.%.8s@Example.test", id);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(auth_routes, .init = setup, .fini = stop, .timeout = 90);

/* A string member, never NULL (criterion compares with strcmp). */
static const char *js(json_t *j, const char *path)
{
    const char *v = td_test_jstr(j, path);
    return v ? v : "(none)";
}

static int account_call(const char *path, const char *mail, const char *password,
                        const char *extra, json_t **out, struct td_test_http *raw)
{
    char *body = td_test_fmt("{\"email\":\"%s\",\"password\":\"%s\"%s}", mail, password,
                             extra ? extra : "");
    struct td_test_http r;
    int status = td_test_api(S.port, NULL, "POST", path, body, NULL, &r);
    free(body);
    if (out)
        *out = json_loads(r.body, 0, NULL);
    if (raw)
        *raw = r;
    else
        td_test_http_free(&r);
    return status;
}

static int login(const char *mail, const char *password, json_t **out)
{
    return account_call("/api/auth/login", mail, password, NULL, out, NULL);
}

/* The claims of a JWT (its middle part, base64url JSON). */
static json_t *claims(const char *token)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(token, '.');
    cr_assert_not_null(p);
    char out[1024];
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (p++; *p && *p != '.' && n + 1 < sizeof out; p++) {
        v = (v << 6) | (unsigned)(strchr(a, *p) - a);
        if ((bits += 6) >= 8)
            out[n++] = (char)((v >> (bits -= 8)) & 0xff);
    }
    out[n] = '\0';
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "claims: %s", out);
    return j;
}

Test(auth_routes, signup_stores_a_hash_and_answers_a_session_of_ours)
{
    start_with(0);
    json_t *j = NULL;
    struct td_test_http raw;
    int status = account_call("/api/auth/signup", email, "correct horse battery",
                              ",\"name\":\"Ada\",\"time_zone\":\"Europe/London\"", &j, &raw);
    cr_assert_eq(status, 201, "%s", raw.body);
    char *cc = td_test_header(raw.headers, "Cache-Control");
    cr_expect_str_eq(cc ? cc : "", "no-store");
    free(cc);
    td_test_http_free(&raw);
    cr_expect_str_eq(js(j, "token_type"), "Bearer");
    const char *id = td_test_jstr(j, "user.id"), *token = td_test_jstr(j, "token");
    cr_assert(id && token);
    cr_expect_str_eq(js(j, "user.email"), email);
    cr_expect_str_eq(js(j, "user.time_zone"), "Europe/London");
    /* The token is the door's: our subject, our issuer, a day to live. */
    json_t *c = claims(token);
    cr_expect_str_eq(js(c, "sub"), id);
    cr_expect_str_eq(js(c, "iss"), ISS);
    cr_expect_eq(json_integer_value(json_object_get(c, "exp")) -
                 json_integer_value(json_object_get(c, "iat")), 86400);
    json_decref(c);
    /* The row keeps an argon2id hash, never the password. */
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND email = '%s' "
                                     "AND name = 'Ada' AND password_hash LIKE '$argon2id$v=19$%%' "
                                     "AND position('correct horse' IN password_hash) = 0", id, email), 1);
    /* /api/me with the issued token answers the same account. */
    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(S.port, token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect(json_equal(me, json_object_get(j, "user")), "me differs from the signup's user");
    json_decref(me);
    json_decref(j);

    /* The address is unique whatever its case; the zone defaults to UTC. */
    for (char *p = email; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    account_call("/api/auth/signup", email, "another password", NULL, NULL, &raw);
    td_test_expect_problem(&raw, 409, "email-taken", "the same address in capitals");
    td_test_http_free(&raw);
    email[0] = 'B';
    cr_expect_eq(account_call("/api/auth/signup", email, "another password", NULL, &j, NULL), 201);
    cr_expect_str_eq(js(j, "user.time_zone"), "UTC");
    json_decref(j);
}

Test(auth_routes, login_checks_the_password_and_tells_nobody_who_exists)
{
    start_with(0);
    json_t *j = NULL;
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery", NULL, &j, NULL), 201);
    char id[64];
    snprintf(id, sizeof id, "%s", td_test_jstr(j, "user.id"));
    json_decref(j);
    /* Any case of the address logs in. */
    char lower[96];
    for (size_t i = 0; i <= strlen(email); i++)
        lower[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
    cr_expect_eq(login(lower, "correct horse battery", &j), 200);
    cr_expect_str_eq(js(j, "user.id"), id);
    const char *token = td_test_jstr(j, "token");
    cr_expect_eq(td_test_api_json(S.port, token, "GET", "/api/me", NULL, NULL, NULL), 200);
    json_decref(j);

    /* A wrong password, an unknown address and an account without a password (an external
     * IdP's) get one and the same answer. */
    free(td_test_pg_queryf(pg, "INSERT INTO users (email) VALUES ('idp-%s')", lower));
    char *idp = td_test_fmt("idp-%s", lower);
    const char *who[][2] = {{email, "wrong password"}, {"nobody@example.test", "correct horse battery"},
                            {idp, "anything at all"}};
    for (int i = 0; i < 3; i++) {
        struct td_test_http r;
        account_call("/api/auth/login", who[i][0], who[i][1], NULL, NULL, &r);
        td_test_expect_problem(&r, 401, "invalid-credentials", who[i][0]);
        cr_expect_not_null(strstr(r.body, "the email or the password is wrong"), "%s", r.body);
        char *www = td_test_header(r.headers, "WWW-Authenticate");
        cr_expect_str_eq(www ? www : "", "Bearer realm=\"todod\"");
        free(www);
        td_test_http_free(&r);
    }
    free(idp);
}

Test(auth_routes, logins_per_account_are_limited_and_a_success_resets_the_count)
{
    start_with(1);   /* 5 tries, then one per 12 s, per account */
    json_t *j = NULL;
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery", NULL, &j, NULL), 201);
    json_decref(j);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(login(email, "wrong", NULL), 401, "wrong try %d", i + 1);
    cr_expect_eq(login(email, "correct horse battery", NULL), 200, "the fifth try, right");
    /* Without the reset this would be the sixth try in a row. */
    for (int i = 0; i < 5; i++)
        cr_expect_eq(login(email, "wrong", NULL), 401, "wrong try %d after the reset", i + 1);
    struct td_test_http r;
    account_call("/api/auth/login", email, "correct horse battery", NULL, NULL, &r);
    td_test_expect_problem(&r, 429, "too-many-login-attempts", "the sixth try");
    char *retry = td_test_header(r.headers, "Retry-After");
    cr_expect(retry && atoi(retry) >= 1 && atoi(retry) <= 12, "Retry-After %s", retry);
    free(retry);
    td_test_http_free(&r);
    /* The count is the account's: another account from the same address logs in. */
    email[0] = 'Z';
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery", NULL, NULL, NULL), 201);
    cr_expect_eq(login(email, "correct horse battery", NULL), 200);
}

Test(auth_routes, me_for_subjects_without_an_account)
{
    start_with(0);
    char ghost[37];
    td_test_uuid(ghost);
    const char *subjects[] = {ghost, "github|4711"};
    for (int i = 0; i < 2; i++) {
        char *token = td_test_jwt(subjects[i]);
        json_t *j = NULL;
        cr_expect_eq(td_test_api_json(S.port, token, "GET", "/api/me", NULL, NULL, &j), 200);
        cr_expect_str_eq(js(j, "id"), subjects[i]);
        cr_expect_eq(json_object_size(j), 1, "only the id is known");
        json_decref(j);
        free(token);
    }
}

/* PATCH /api/me: the route is the role's, it changes only the account's own row, and
 * subjects without a row (a UUID nobody signed up with, an IdP's id) get 404. */
Test(auth_routes, patch_me_changes_name_and_zone_of_that_account_only)
{
    start_with(0);
    json_t *a = NULL, *b = NULL;
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery",
                              ",\"name\":\"Ada\"", &a, NULL), 201);
    email[0] = 'B';
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery",
                              ",\"name\":\"Bea\"", &b, NULL), 201);
    const char *token = td_test_jstr(a, "token");
    cr_assert(token);
    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(S.port, token, "PATCH", "/api/me",
                                  "{\"name\":\" Ada King \",\"time_zone\":\"Asia/Tokyo\"}", NULL, &me), 200);
    cr_expect_str_eq(js(me, "name"), "Ada King");
    cr_expect_str_eq(js(me, "time_zone"), "Asia/Tokyo");
    cr_expect_str_eq(js(me, "id"), js(a, "user.id"));
    json_decref(me);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND name = 'Ada King' "
                                     "AND time_zone = 'Asia/Tokyo'", js(a, "user.id")), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND name = 'Bea' "
                                     "AND time_zone = 'UTC'", js(b, "user.id")), 1, "the other account");
    struct td_test_http r;
    td_test_api(S.port, token, "PATCH", "/api/me", "{\"time_zone\":\"Europe/Atlantis\"}", NULL, &r);
    td_test_expect_problem(&r, 422, "validation-failed", "unknown zone");
    json_t *p = td_test_body_json(&r);
    cr_expect(td_test_problem_names(p, "time_zone"), "%s", r.body);
    json_decref(p);
    td_test_http_free(&r);

    char ghost[37];
    td_test_uuid(ghost);
    const char *subjects[] = {ghost, "github|4711"};
    for (int i = 0; i < 2; i++) {
        char *t = td_test_jwt(subjects[i]);
        td_test_api(S.port, t, "PATCH", "/api/me", "{}", NULL, &r);
        td_test_expect_problem(&r, 404, "user-not-found", subjects[i]);
        td_test_http_free(&r);
        free(t);
    }
    json_decref(a);
    json_decref(b);
}

Test(auth_routes, patch_me_sets_checks_and_removes_the_webhook_url)
{
    start_with(0);
    json_t *a = NULL;
    cr_assert_eq(account_call("/api/auth/signup", email, "correct horse battery", NULL, &a, NULL), 201);
    const char *token = td_test_jstr(a, "token");
    cr_assert(token);
    json_t *me = NULL;
    cr_expect_eq(td_test_api_json(S.port, token, "PATCH", "/api/me",
                                  "{\"webhook_url\":\"https://hooks.example.com/todo?k=1\"}", NULL, &me), 200);
    cr_expect_str_eq(js(me, "webhook_url"), "https://hooks.example.com/todo?k=1");
    cr_expect(json_is_false(json_object_get(me, "webhook_secret_set")), "no secret yet");
    json_decref(me);
    cr_expect_eq(td_test_api_json(S.port, token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect_str_eq(js(me, "webhook_url"), "https://hooks.example.com/todo?k=1", "GET /api/me shows it");
    json_decref(me);
    /* a name alone leaves it */
    cr_expect_eq(td_test_api_json(S.port, token, "PATCH", "/api/me", "{\"name\":\"Ada\"}", NULL, &me), 200);
    cr_expect_str_eq(js(me, "webhook_url"), "https://hooks.example.com/todo?k=1");
    json_decref(me);
    static const char *const bad[] = {
        "{\"webhook_url\":\"ftp://example.com/x\"}", "{\"webhook_url\":\"example.com/x\"}",
        "{\"webhook_url\":42}", "{\"webhook_url\":\"https://u:p@example.com/\"}",
        "{\"webhook_url\":\"javascript:alert(1)\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct td_test_http r;
        td_test_api(S.port, token, "PATCH", "/api/me", bad[i], NULL, &r);
        td_test_expect_problem(&r, 422, "validation-failed", bad[i]);
        json_t *p = td_test_body_json(&r);
        cr_expect(td_test_problem_names(p, "webhook_url"), "%s: %s", bad[i], r.body);
        json_decref(p);
        td_test_http_free(&r);
    }
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND "
                                     "webhook_url = 'https://hooks.example.com/todo?k=1'", js(a, "user.id")), 1,
                 "a refused PATCH changed it");
    cr_expect_eq(td_test_api_json(S.port, token, "PATCH", "/api/me", "{\"webhook_url\":null}", NULL, &me), 200);
    cr_expect(json_is_null(json_object_get(me, "webhook_url")), "null did not remove it");
    json_decref(me);
    json_decref(a);
}

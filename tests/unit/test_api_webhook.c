/* roles/api/webhook.c: POST /api/me/webhook-secret makes a new secret, answers it once,
 * stores it for signing, and replaces it on the next call. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_webhook, .init = start, .fini = stop, .timeout = 60);

Test(api_webhook, the_secret_is_made_answered_once_and_rotated)
{
    char id[37], mail[64];
    td_test_uuid(id);
    snprintf(mail, sizeof mail, "w%.8s@example.test", id);
    struct td_test_user u;
    td_test_signup(S.port, mail, "correct horse battery", "W", &u);
    json_t *a = NULL, *b = NULL, *me = NULL;
    cr_assert_eq(td_test_api_json(S.port, u.token, "POST", "/api/me/webhook-secret", NULL, NULL, &a), 201);
    const char *s1 = td_test_jstr(a, "webhook_secret");
    cr_assert(s1);
    cr_expect_eq(strlen(s1), 70, "%s", s1);
    cr_expect(strncmp(s1, "whsec_", 6) == 0, "%s", s1);
    cr_expect_str_eq(td_test_jstr(a, "signature_header"), "X-Todod-Signature");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND webhook_secret = '%s'",
                                 u.id, s1), 1);
    cr_assert_eq(td_test_api_json(S.port, u.token, "GET", "/api/me", NULL, NULL, &me), 200);
    cr_expect(json_is_true(json_object_get(me, "webhook_secret_set")));
    cr_expect_null(json_object_get(me, "webhook_secret"), "GET /api/me shows the secret");
    cr_assert_eq(td_test_api_json(S.port, u.token, "POST", "/api/me/webhook-secret", NULL, NULL, &b), 201);
    const char *s2 = td_test_jstr(b, "webhook_secret");
    cr_assert(s2);
    cr_expect_str_neq(s1, s2, "not rotated");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM users WHERE id = '%s' AND webhook_secret = '%s'",
                                 u.id, s2), 1);
    json_decref(a);
    json_decref(b);
    json_decref(me);
}

Test(api_webhook, subjects_without_an_account_and_no_token)
{
    char *t = td_test_jwt("github|4711");
    struct td_test_http r;
    td_test_api(S.port, t, "POST", "/api/me/webhook-secret", NULL, NULL, &r);
    td_test_expect_problem(&r, 404, "user-not-found", "external subject");
    td_test_http_free(&r);
    free(t);
    td_test_api(S.port, NULL, "POST", "/api/me/webhook-secret", NULL, NULL, &r);
    cr_expect_eq(r.status, 401);
    td_test_http_free(&r);
}

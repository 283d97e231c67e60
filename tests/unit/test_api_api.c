/* roles/api/api.c: what every api handler shares. The api role runs alone in the test
 * process (tests/support/role_harness.h) on the shared PostgreSQL: JSON bodies (415, 400),
 * answers built by api_send_json, the per-address limit of calls without a user, the
 * drain that waits for calls still waiting on the database, and the schema check behind
 * /ready. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/embed.h"
#include "core/migrate.h"
#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;

static void setup(void)
{
    pg = td_test_roles_pg();
    td_test_user_fake(&user);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api, .init = setup, .fini = stop, .timeout = 60);

static long my_tasks(void)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id);
}

/* ------------------------------------------------------------ JSON bodies */

Test(api, json_bodies_need_the_json_type_and_an_object)
{
    td_test_roles_start(&S, roles, 1, 0);
    struct {
        const char *type, *body;
        int         status;
        const char *slug, *detail;
    } cases[] = {
        {"Content-Type: text/plain", "{\"title\":\"a\"}", 415, "unsupported-media-type", NULL},
        {"Content-Type: application/jsonp", "{\"title\":\"a\"}", 415, "unsupported-media-type", NULL},
        {"Content-Type:", "{\"title\":\"a\"}", 415, "unsupported-media-type", NULL},
        {"Content-Type: text/plain", "{\"title\":", 415, "unsupported-media-type", NULL},
        {NULL, "{\"title\":", 400, "malformed-json", "malformed JSON at line 1 column"},
        {NULL, "{\"title\":\"a\",\"title\":\"b\"}", 400, "malformed-json", "duplicate"},
        {NULL, "[{\"title\":\"a\"}]", 400, "malformed-json", "the body must be a JSON object"},
        {NULL, "\"a\"", 400, "malformed-json", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *headers[] = {cases[i].type, NULL};
        struct td_test_http r;
        td_test_api(S.port, user.token, "POST", "/api/tasks", cases[i].body, headers, &r);
        char what[128];
        snprintf(what, sizeof what, "%s / %s", cases[i].type ? cases[i].type : "json", cases[i].body);
        td_test_expect_problem(&r, cases[i].status, cases[i].slug, what);
        if (cases[i].detail)
            cr_expect_not_null(strstr(r.body, cases[i].detail), "%s: %s", what, r.body);
        td_test_http_free(&r);
    }
    cr_expect_eq(my_tasks(), 0, "a refused body wrote nothing");
    /* The media type is case-insensitive and may carry parameters. */
    const char *headers[] = {"Content-Type: Application/JSON; charset=utf-8", NULL};
    cr_expect_eq(td_test_api_json(S.port, user.token, "POST", "/api/tasks", "{\"title\":\"a\"}",
                                  headers, NULL), 201);
    cr_expect_eq(my_tasks(), 1);
}

Test(api, json_answers_carry_no_entity_tag)
{
    td_test_roles_start(&S, roles, 1, 0);
    free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, title, tags) VALUES "
                               "(gen_random_uuid(), '%s', 't', '{a,b}')", user.id));
    const char *paths[] = {"/api/me", "/api/tags"};
    for (int i = 0; i < 2; i++) {
        struct td_test_http r;
        cr_expect_eq(td_test_api(S.port, user.token, "GET", paths[i], NULL, NULL, &r), 200, "%s", paths[i]);
        char *type = td_test_header(r.headers, "Content-Type"), *etag = td_test_header(r.headers, "ETag");
        cr_expect_str_eq(type ? type : "", "application/json", "%s", paths[i]);
        cr_expect_null(etag, "%s: ETag %s on an answer with no version", paths[i], etag);
        json_t *j = td_test_body_json(&r);
        cr_expect(json_is_object(j) || json_is_array(j));
        json_decref(j);
        free(type);
        free(etag);
        td_test_http_free(&r);
    }
}

/* ------------------------------------------------------------ calls without a user */

static int bad_login(void)
{
    return td_test_api_json(S.port, NULL, "POST", "/api/auth/login", "{}", NULL, NULL);
}

Test(api, calls_without_a_user_are_limited_per_address)
{
    td_test_roles_config(&S, roles, 1, 0);
    td_test_roles_door(&S)->rate_limit_addr = 100;   /* logins: burst 20, then 1/s */
    td_test_roles_run(&S);
    for (int i = 0; i < 20; i++)
        cr_expect_eq(bad_login(), 422, "login %d within the burst", i + 1);
    struct td_test_http r;
    td_test_api(S.port, NULL, "POST", "/api/auth/signup", "{}", NULL, &r);
    td_test_expect_problem(&r, 429, "rate-limited", "the 21st call from the address");
    char *retry = td_test_header(r.headers, "Retry-After");
    cr_expect(retry && atoi(retry) >= 1, "Retry-After %s", retry);
    free(retry);
    td_test_http_free(&r);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_rate_limited_total{limit=\"address\"}"), 1);
}

Test(api, without_an_address_limit_calls_without_a_user_are_not_limited)
{
    td_test_roles_start(&S, roles, 1, 0);   /* the harness turns the /api limits off */
    for (int i = 0; i < 30; i++)
        cr_expect_eq(bad_login(), 422, "login %d", i + 1);
}

/* ------------------------------------------------------------ drain */

struct patch_call {
    const char *path;
    int         status;
    char       *body;
};

static void *patch_thread(void *arg)
{
    struct patch_call *p = arg;
    struct td_test_http r;
    char *authz = td_test_fmt("Authorization: Bearer %s", user.token);
    const char *headers[] = {authz, NULL};
    if (td_test_http(S.port, "PATCH", p->path, "{\"title\":\"after the drain\"}", headers,
                     &r) == 0) {
        p->status = r.status;
        p->body = strdup(r.body);
        td_test_http_free(&r);
    }
    free(authz);
    return NULL;
}

Test(api, sigterm_waits_for_a_call_waiting_on_the_database)
{
    td_test_roles_start(&S, roles, 1, 0);
    json_t *task = td_test_create_task(S.port, user.token, "{\"title\":\"before\"}");
    const char *id = td_test_jstr(task, "id");
    /* Another transaction holds the task's row: the PATCH waits in PostgreSQL. */
    PGconn *holder = PQconnectdb(pg->conninfo);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK);
    char *lock = td_test_fmt("BEGIN; SELECT 1 FROM tasks WHERE id = '%s' FOR UPDATE", id);
    PGresult *res = PQexec(holder, lock);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    free(lock);
    struct patch_call p = {.path = td_test_fmt("/api/tasks/%s", id)};
    pthread_t th;
    pthread_create(&th, NULL, patch_thread, &p);
    cr_assert_eq(td_test_wait_count(pg, 1, 10000, "SELECT count(*) FROM pg_locks WHERE NOT granted"), 1,
                 "the PATCH never waited on the row");

    td_test_roles_sigterm(&S);
    usleep(500 * 1000);
    cr_expect_not(td_test_roles_returned(&S), "the service stopped with a call in flight");
    cr_expect_eq(p.status, 0, "the PATCH was answered (%d) while its statement waited", p.status);

    PQclear(PQexec(holder, "COMMIT"));
    PQfinish(holder);
    pthread_join(th, NULL);
    cr_expect_eq(p.status, 200, "the call in flight was answered: %d %s", p.status, p.body);
    td_test_roles_stop(&S);   /* asserts a clean stop */
    char *title = td_test_pg_queryf(pg, "SELECT title || ' v' || version FROM tasks WHERE id = '%s'", id);
    cr_expect_str_eq(title, "after the drain v2");
    free(title);
    char *types = td_test_outbox_types(pg, id);
    cr_expect_str_eq(types, "todo.task.created,todo.task.updated");
    free(types);
    free(p.body);
    free((char *)p.path);
    json_decref(task);
}

/* ------------------------------------------------------------ schema check */

/* GET /ready's status; a 503's detail goes into why. */
static int ready(char *why, size_t len)
{
    struct td_test_http r;
    cr_assert_eq(td_test_http(S.port, "GET", "/ready", NULL, NULL, &r), 0);
    int status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    snprintf(why, len, "%s", detail ? detail : "");
    json_decref(j);
    td_test_http_free(&r);
    return status;
}

/* Polls /ready until its answer is want (and, for 503, its detail holds reason). */
static int ready_becomes(int want, const char *reason)
{
    char why[300] = "";
    int status = 0;
    for (int i = 0; i < 250; i++) {
        status = ready(why, sizeof why);
        if (status == want && (!reason || strstr(why, reason)))
            return 1;
        usleep(20 * 1000);
    }
    cr_expect_fail("/ready stayed %d (%s), expected %d %s", status, why, want, reason ? reason : "");
    return 0;
}

#define NOT_MIGRATED "api: the database schema is not migrated"

/* An empty database: the same cluster, a database nobody migrated. */
static char *empty_database(const char *name)
{
    free(td_test_pg_queryf(pg, "CREATE DATABASE %s", name));
    td_test_roles_config(&S, roles, 1, 0);
    char *url = td_test_fmt("%s dbname=%s", pg->conninfo, name);
    free(S.cfg.database_url);
    S.cfg.database_url = strdup(url);
    S.cfg.log_level = TD_LOG_ERROR + 1;   /* every statement fails to prepare: quiet */
    td_test_roles_run(&S);
    return url;
}

Test(api, not_ready_while_the_schema_is_not_migrated)
{
    free(empty_database("unit_api_empty"));
    cr_assert(ready_becomes(503, NOT_MIGRATED));
    char why[300];
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(ready(why, sizeof why), 503, "probe %d on an empty database", i);
        cr_expect_not_null(strstr(why, NOT_MIGRATED), "%s", why);
    }
}

Test(api, ready_once_the_schema_is_there)
{
    td_test_roles_start(&S, roles, 1, 0);
    ready_becomes(200, NULL);
}

/* Someone migrates while the api runs: the schema check passes, and the statements that
 * failed to prepare when the pool connected are prepared at their next use, so the calls
 * work as soon as /ready says 200 (they answered 500, 26000, prepared statement does not
 * exist). */
Test(api, calls_work_once_a_late_migration_makes_it_ready)
{
    char *url = empty_database("unit_api_late");
    cr_assert(ready_becomes(503, NOT_MIGRATED));
    char err[512] = "";
    int applied = 0;
    struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
    cr_assert_eq(td_migrate_apply(url, td_migrations, td_migrations_count, &quiet, &applied, err,
                                  sizeof err), 0, "%s", err);
    free(url);
    cr_assert(ready_becomes(200, NULL));
    struct td_test_http r;
    td_test_api(S.port, user.token, "POST", "/api/tasks", "{\"title\":\"x\"}", NULL, &r);
    cr_expect_eq(r.status, 201, "ready, yet: %d %s", r.status, r.body);
    td_test_http_free(&r);
}

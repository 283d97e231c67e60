/* roles/api/create.c: POST /api/tasks with Idempotency-Key replays, and group commit.
 * The api role runs alone in the test process (tests/support/role_harness.h) on the shared
 * PostgreSQL. To see creates that arrive together committed together, the test holds a
 * SHARE lock on tasks while the creates come in: the first statements wait on it, the
 * rest gather behind them. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_create, .init = start, .fini = stop, .timeout = 60);

static int post(const char *body, const char *key, struct td_test_http *r)
{
    /* curl drops "Name:" with an empty value; "Name;" sends it empty. */
    char *line = !key ? NULL : *key ? td_test_fmt("Idempotency-Key: %s", key)
                                    : td_test_fmt("Idempotency-Key;");
    const char *headers[] = {line, NULL};
    int status = td_test_api(S.port, user.token, "POST", "/api/tasks", body, headers, r);
    free(line);
    return status;
}

/* ------------------------------------------------------------ Idempotency-Key */

Test(api_create, a_key_replays_its_task_and_refuses_another_body)
{
    const char *body = "{\"title\":\"pay rent\",\"tags\":[\"home\"]}";
    char key[64];
    td_test_uuid(key);
    struct td_test_http r;
    cr_assert_eq(post(body, key, &r), 201, "%s", r.body);
    json_t *first = td_test_body_json(&r);
    const char *id = td_test_jstr(first, "id");
    char *location = td_test_header(r.headers, "Location"), *want = td_test_fmt("/api/tasks/%s", id);
    cr_expect_str_eq(location, want);
    free(location);
    free(want);
    td_test_http_free(&r);
    /* The key row holds the SHA-256 of the exact body bytes, and names the task. */
    cr_expect_eq(td_test_pg_long(pg,
        "SELECT count(*) FROM idempotency_keys WHERE user_id = '%s' AND key = '%s' AND "
        "task_id = '%s' AND request_hash = encode(sha256(convert_to('%s', 'UTF8')), 'hex')",
        user.id, key, id, body), 1);

    cr_expect_eq(post(body, key, &r), 201, "%s", r.body);
    char *replayed = td_test_header(r.headers, "Idempotent-Replayed");
    cr_expect_str_eq(replayed ? replayed : "(none)", "true");
    free(replayed);
    json_t *again = td_test_body_json(&r);
    cr_expect(json_equal(first, again), "the replay is the first answer: %s", r.body);
    json_decref(again);
    td_test_http_free(&r);

    post("{\"title\":\"pay rent\",\"tags\":[\"work\"]}", key, &r);
    td_test_expect_problem(&r, 422, "idempotency-key-reused", "same key, another body");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 1);
    char *types = td_test_outbox_types(pg, id);
    cr_expect_str_eq(types, "todo.task.created", "one create, one event");
    free(types);

    /* Once the task is deleted, the key says so instead of creating it again. */
    free(td_test_pg_queryf(pg, "DELETE FROM tasks WHERE id = '%s'", id));
    post(body, key, &r);
    td_test_expect_problem(&r, 410, "task-gone", "replay after delete");
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 0);
    json_decref(first);
}

Test(api_create, keys_are_1_to_255_characters)
{
    struct td_test_http r;
    char key[257];
    memset(key, 'k', 256);
    key[256] = '\0';
    const char *body = "{\"title\":\"k\"}";
    post(body, key, &r);
    td_test_expect_problem(&r, 400, "bad-idempotency-key", "256 characters");
    td_test_http_free(&r);
    post(body, "", &r);
    td_test_expect_problem(&r, 400, "bad-idempotency-key", "empty");
    td_test_http_free(&r);
    key[255] = '\0';
    cr_expect_eq(post(body, key, &r), 201, "255 characters: %s", r.body);
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 1);
}

/* ------------------------------------------------------------ group commit */

static PGconn *lock_tasks(void)
{
    PGconn *c = PQconnectdb(pg->conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE tasks IN SHARE MODE");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return c;
}

static void unlock_tasks(PGconn *c)
{
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
}

enum { MAXN = 64 };

struct answer {
    int   status;
    char  request_id[32];
    char *location;
    json_t *body;
};

/* Sends n creates at once on n connections while tasks is locked, then releases the lock
 * and reads every answer. Request i has title titles[i] and X-Request-ID "<user>-<i>". */
static void create_together(int n, char titles[][32], struct answer *out)
{
    int fds[MAXN];
    PGconn *lock = lock_tasks();
    for (int i = 0; i < n; i++) {
        snprintf(out[i].request_id, sizeof out[i].request_id, "%.8s-%d", user.id, i);
        char *body = td_test_fmt("{\"title\":\"%s\"}", titles[i]);
        char *req = td_test_fmt("POST /api/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                                "Content-Type: application/json\r\nX-Request-ID: %s\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                user.token, out[i].request_id, strlen(body), body);
        fds[i] = td_test_connect(S.port);
        cr_assert_geq(fds[i], 0);
        cr_assert_eq(td_test_send_all(fds[i], req, strlen(req)), 0);
        free(req);
        free(body);
    }
    /* The first statements wait on the lock; give the rest time to arrive and queue. */
    cr_assert_geq(td_test_wait_count(pg, 1, 10000,
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'tasks'::regclass"), 1);
    usleep(300 * 1000);
    unlock_tasks(lock);
    for (int i = 0; i < n; i++) {
        char *raw = td_test_recv_response(fds[i], 20000);
        close(fds[i]);
        cr_assert_not_null(raw, "create %d: no answer", i);
        out[i].status = atoi(raw + 9);
        out[i].location = td_test_header(strstr(raw, "\r\n") + 2, "Location");
        char *payload = strstr(raw, "\r\n\r\n");
        out[i].body = json_loads(payload + 4, 0, NULL);
        free(raw);
    }
}

static void free_answers(int n, struct answer *a)
{
    for (int i = 0; i < n; i++) {
        free(a[i].location);
        json_decref(a[i].body);
    }
}

Test(api_create, creates_that_arrive_together_commit_together_each_with_its_answer)
{
    static char titles[MAXN][32];
    struct answer a[MAXN] = {0};
    for (int i = 0; i < MAXN; i++)
        snprintf(titles[i], sizeof titles[i], "burst %d", i);
    create_together(MAXN, titles, a);
    for (int i = 0; i < MAXN; i++) {
        cr_expect_eq(a[i].status, 201, "create %d: %d", i, a[i].status);
        const char *id = td_test_jstr(a[i].body, "id");
        char *want = td_test_fmt("/api/tasks/%s", id ? id : "?");
        cr_expect_str_eq(a[i].location ? a[i].location : "", want, "create %d: Location", i);
        free(want);
        const char *title = td_test_jstr(a[i].body, "title");
        cr_expect_str_eq(title ? title : "", titles[i], "create %d got another's task", i);
        for (int j = 0; j < i; j++)
            cr_expect(!a[j].location || !a[i].location || strcmp(a[j].location, a[i].location) != 0,
                      "creates %d and %d share %s", j, i, a[i].location);
    }
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), MAXN);
    /* Each event carries the request that caused it: the batch kept calls and rows apart. */
    cr_expect_eq(td_test_pg_long(pg,
        "SELECT count(*) FROM outbox o JOIN tasks t ON t.id::text = o.event->>'subject' "
        "WHERE t.user_id = '%s' AND o.event->>'type' = 'todo.task.created' "
        "AND o.topic = 'task-events' AND o.event->>'requestid' = '%.8s-' || substr(t.title, 7)", user.id, user.id), MAXN);
    double statements = td_test_roles_metric(&S, "td_api_create_batch_size_count");
    double creates = td_test_roles_metric(&S, "td_api_create_batch_size_sum");
    cr_expect_eq(creates, MAXN);
    cr_expect(statements >= 1 && statements < MAXN / 4,
              "%d creates took %.0f statements", MAXN, statements);
    free_answers(MAXN, a);
}

Test(api_create, a_row_postgresql_refuses_fails_alone_not_its_batch)
{
    /* A rule only the database knows: its check violation fails the whole statement. */
    free(td_test_pg_query(pg, "ALTER TABLE tasks ADD CONSTRAINT unit_create_poison "
                              "CHECK (title <> 'poison')"));
    enum { N = 8, POISON = 3 };
    static char titles[N][32];
    struct answer a[N] = {0};
    for (int i = 0; i < N; i++)
        snprintf(titles[i], sizeof titles[i], i == POISON ? "poison" : "fine %d", i);
    create_together(N, titles, a);
    free(td_test_pg_query(pg, "ALTER TABLE tasks DROP CONSTRAINT unit_create_poison"));
    for (int i = 0; i < N; i++) {
        if (i == POISON) {
            cr_expect_eq(a[i].status, 422, "the refused row: %d", a[i].status);
            const char *type = td_test_jstr(a[i].body, "type");
            cr_expect_str_eq(type ? type : "", TD_PROBLEM_BASE "validation-failed");
            cr_expect_null(a[i].location);
        } else {
            cr_expect_eq(a[i].status, 201, "create %d beside the refused row: %d", i, a[i].status);
            const char *title = td_test_jstr(a[i].body, "title");
            cr_expect_str_eq(title ? title : "", titles[i]);
        }
    }
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), N - 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE key = '%s' "
                                     "AND topic = 'task-events'", user.id), N - 1,
                 "no event for the refused row");
    cr_expect_lt(td_test_roles_metric(&S, "td_api_create_batch_size_count"), N);
    free_answers(N, a);
}

/* One user never sees or touches another's data (issue 4): every task route tried by
 * user B on user A's task answers 404 and changes nothing; a foreign {user_id} path
 * answers 403; lists, search and tag counts are per user. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;
static struct td_test_user a, b;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user",
                          "0", "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, NULL);
    /* Real accounts: their ids are the server's, their tokens the server's. */
    td_test_signup(todod.port, "alice@example.com", "alice's password", "Alice", &a);
    td_test_signup(todod.port, "bob@example.com", "bob's password!", "Bob", &b);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(api_isolation, .init = start, .fini = stop, .timeout = 60);

/* The task as A sees it (JSON text with sorted keys). */
static char *snapshot(const char *id)
{
    char *path = td_test_fmt("/api/tasks/%s", id);
    json_t *j = NULL;
    cr_assert_eq(td_test_api_json(todod.port, a.token, "GET", path, NULL, NULL, &j), 200);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    free(path);
    return s;
}

Test(api_isolation, another_users_task_is_404_everywhere_and_unchanged)
{
    const char *key[] = {"Idempotency-Key: shared-key", NULL};
    json_t *t = NULL;
    cr_assert_eq(td_test_api_json(todod.port, a.token, "POST", "/api/tasks",
                                  "{\"title\":\"Alice's secret plan\",\"tags\":[\"private\"]}", key, &t), 201);
    char id[37];
    snprintf(id, sizeof id, "%s", td_test_jstr(t, "id"));
    json_decref(t);
    char *before = snapshot(id);
    long events = td_test_outbox_count(&pg);

    const char *body = "{\"title\":\"pwned\",\"status\":\"completed\"}";
    const char *if1[] = {"If-Match: \"1\"", NULL};
    struct { const char *method; char *path; const char *body; const char *const *headers; } tries[] = {
        {"GET", td_test_fmt("/api/tasks/%s", id), NULL, NULL},
        {"PATCH", td_test_fmt("/api/tasks/%s", id), body, NULL},
        {"PATCH", td_test_fmt("/api/tasks/%s", id), body, if1},
        {"PUT", td_test_fmt("/api/tasks/%s", id), body, NULL},
        {"DELETE", td_test_fmt("/api/tasks/%s", id), NULL, NULL},
        {"DELETE", td_test_fmt("/api/tasks/%s", id), NULL, if1},
        {"POST", td_test_fmt("/api/tasks/%s/complete", id), NULL, NULL},
        {"POST", td_test_fmt("/api/tasks/%s/reopen", id), NULL, NULL},
        {"GET", td_test_fmt("/api/%s/tasks/%s", b.id, id), NULL, NULL},
        {"PUT", td_test_fmt("/api/%s/tasks/%s", b.id, id), body, NULL},
        {"PATCH", td_test_fmt("/api/%s/tasks/%s", b.id, id), body, NULL},
        {"DELETE", td_test_fmt("/api/%s/tasks/%s", b.id, id), NULL, NULL},
        {"POST", td_test_fmt("/api/%s/tasks/%s/complete", b.id, id), NULL, NULL},
        {"POST", td_test_fmt("/api/%s/tasks/%s/reopen", b.id, id), NULL, NULL},
        {"PATCH", td_test_fmt("/api/%s/tasks/%s/complete", b.id, id), NULL, NULL},
    };
    /* A 404 for a task that exists must look like one for a task that does not. */
    char ghost[37];
    td_test_uuid(ghost);
    char *ghost_path = td_test_fmt("/api/tasks/%s", ghost);
    json_t *ghost_answer = NULL;
    cr_expect_eq(td_test_api_json(todod.port, b.token, "GET", ghost_path, NULL, NULL, &ghost_answer), 404);
    free(ghost_path);
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        struct td_test_http r;
        td_test_api(todod.port, b.token, tries[i].method, tries[i].path, tries[i].body, tries[i].headers, &r);
        cr_expect_eq(r.status, 404, "B: %s %s → %d %s", tries[i].method, tries[i].path, r.status, r.body);
        json_t *j = json_loads(r.body, 0, NULL);
        cr_expect_str_eq(td_test_jstr(j, "type"), td_test_jstr(ghost_answer, "type"),
                         "%s %s: not the plain not-found problem", tries[i].method, tries[i].path);
        cr_expect(!strstr(r.body, "secret plan"), "%s %s leaks the task", tries[i].method, tries[i].path);
        json_decref(j);
        td_test_http_free(&r);
        free(tries[i].path);
    }
    json_decref(ghost_answer);

    char *after = snapshot(id);
    cr_expect_str_eq(after, before, "A's task changed");
    cr_expect_eq(td_test_outbox_count(&pg), events, "B's attempts wrote events");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT version FROM tasks WHERE id = '%s'", id), 1);
    free(after);

    /* Idempotency keys are per user: B's same key makes B's own task. */
    json_t *mine = NULL;
    cr_expect_eq(td_test_api_json(todod.port, b.token, "POST", "/api/tasks",
                                  "{\"title\":\"Bob's errand\",\"tags\":[\"private\"]}", key, &mine), 201);
    cr_expect(td_test_jstr(mine, "id") && strcmp(td_test_jstr(mine, "id"), id) != 0,
              "B's key replayed A's task");
    cr_expect_str_eq(td_test_jstr(mine, "user_id"), b.id);
    json_decref(mine);
    after = snapshot(id);
    cr_expect_str_eq(after, before);
    free(after);
    free(before);
}

Test(api_isolation, foreign_user_paths_are_403)
{
    json_t *ta = td_test_create_task(todod.port, a.token, "{\"title\":\"A's\"}");
    json_t *tb = td_test_create_task(todod.port, b.token, "{\"title\":\"B's\"}");
    const char *ida = td_test_jstr(ta, "id"), *idb = td_test_jstr(tb, "id");
    long events = td_test_outbox_count(&pg);
    struct { const char *method; char *path; const char *body; } tries[] = {
        {"GET", td_test_fmt("/api/%s/tasks", a.id), NULL},
        {"POST", td_test_fmt("/api/%s/tasks", a.id), "{\"title\":\"planted\"}"},
        {"GET", td_test_fmt("/api/%s/tasks/%s", a.id, ida), NULL},
        {"PUT", td_test_fmt("/api/%s/tasks/%s", a.id, ida), "{\"title\":\"x\"}"},
        {"DELETE", td_test_fmt("/api/%s/tasks/%s", a.id, ida), NULL},
        {"PATCH", td_test_fmt("/api/%s/tasks/%s/complete", a.id, ida), NULL},
        {"POST", td_test_fmt("/api/%s/tasks/%s/complete", a.id, ida), NULL},
        /* B's own task through A's path is still A's path. */
        {"GET", td_test_fmt("/api/%s/tasks/%s", a.id, idb), NULL},
        /* A subject that is merely a prefix of the path's user. */
        {"GET", td_test_fmt("/api/%sx/tasks", b.id), NULL},
    };
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        struct td_test_http r;
        td_test_api(todod.port, b.token, tries[i].method, tries[i].path, tries[i].body, NULL, &r);
        cr_expect_eq(r.status, 403, "B: %s %s → %d %s", tries[i].method, tries[i].path, r.status, r.body);
        char *type = td_test_header(r.headers, "Content-Type");
        cr_expect(type && strstr(type, "problem+json"));
        free(type);
        td_test_http_free(&r);
        free(tries[i].path);
    }
    cr_expect_eq(td_test_outbox_count(&pg), events);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'planted'"), 0);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", a.id), 1);
    /* Without a token it is 401, not 403: authentication comes first. */
    char *p = td_test_fmt("/api/%s/tasks", a.id);
    cr_expect_eq(td_test_api_json(todod.port, NULL, "GET", p, NULL, NULL, NULL), 401);
    /* A's own path works. */
    json_t *list = NULL;
    cr_expect_eq(td_test_api_json(todod.port, a.token, "GET", p, NULL, NULL, &list), 200);
    cr_expect_eq(json_array_size(list), 1);
    json_decref(list);
    free(p);
    json_decref(ta);
    json_decref(tb);
}

/* Titles of a list answer (the object form or the hackathon array). */
static int titles_of(json_t *answer, const char *user_id, char *out, size_t outlen)
{
    json_t *items = json_is_array(answer) ? answer : json_object_get(answer, "items"), *it;
    size_t i;
    out[0] = '\0';
    int foreign = 0;
    json_array_foreach(items, i, it) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", len ? "|" : "", td_test_jstr(it, "title"));
        foreign += strcmp(td_test_jstr(it, "user_id") ? td_test_jstr(it, "user_id") : "", user_id) != 0;
    }
    return foreign;
}

Test(api_isolation, lists_search_and_tags_are_per_user)
{
    json_decref(td_test_create_task(todod.port, a.token, "{\"title\":\"alpha groceries\",\"tags\":[\"shared\",\"a-only\"]}"));
    json_decref(td_test_create_task(todod.port, a.token, "{\"title\":\"alpha taxes\",\"tags\":[\"shared\"],\"priority\":\"high\"}"));
    json_decref(td_test_create_task(todod.port, a.token, "{\"title\":\"alpha done\",\"completed\":true,\"tags\":[\"shared\"]}"));
    json_decref(td_test_create_task(todod.port, b.token, "{\"title\":\"bravo groceries\",\"tags\":[\"shared\",\"b-only\"]}"));

    const char *queries[] = {
        "/api/tasks", "/api/tasks?status=all", "/api/tasks?status=completed", "/api/tasks?q=groceries",
        "/api/tasks?q=alpha", "/api/tasks?tag=shared", "/api/tasks?tag=a-only", "/api/tasks?any_tag=a-only,b-only",
        "/api/tasks?priority=high", "/api/tasks?sort=title&order=asc", "/api/tasks?limit=1",
    };
    const char *want_b[] = {
        "bravo groceries", "bravo groceries", "", "bravo groceries", "", "bravo groceries", "",
        "bravo groceries", "", "bravo groceries", "bravo groceries",
    };
    char titles[1024];
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        json_t *j = NULL;
        cr_expect_eq(td_test_api_json(todod.port, b.token, "GET", queries[i], NULL, NULL, &j), 200, "%s", queries[i]);
        cr_expect_eq(titles_of(j, b.id, titles, sizeof titles), 0, "%s shows another user's task", queries[i]);
        cr_expect_str_eq(titles, want_b[i], "B: %s", queries[i]);
        cr_expect(json_is_null(json_object_get(j, "next_cursor")), "%s: more pages for B?", queries[i]);
        json_decref(j);
    }
    /* A sees A's three, never B's. */
    json_t *j = NULL;
    cr_expect_eq(td_test_api_json(todod.port, a.token, "GET", "/api/tasks?sort=title&order=asc", NULL, NULL, &j), 200);
    cr_expect_eq(titles_of(j, a.id, titles, sizeof titles), 0);
    cr_expect_str_eq(titles, "alpha done|alpha groceries|alpha taxes");
    json_decref(j);
    /* The hackathon list for B. */
    char *p = td_test_fmt("/api/%s/tasks", b.id);
    cr_expect_eq(td_test_api_json(todod.port, b.token, "GET", p, NULL, NULL, &j), 200);
    cr_expect(json_is_array(j));
    cr_expect_eq(titles_of(j, b.id, titles, sizeof titles), 0);
    cr_expect_str_eq(titles, "bravo groceries");
    json_decref(j);
    free(p);
    /* A cursor from A's listing shows B nothing of A's. */
    cr_expect_eq(td_test_api_json(todod.port, a.token, "GET", "/api/tasks?limit=1", NULL, NULL, &j), 200);
    const char *cursor = td_test_jstr(j, "next_cursor");
    cr_assert(cursor, "A has three tasks: a next page");
    char *next = td_test_fmt("/api/tasks?limit=1&cursor=%s", cursor);
    json_decref(j);
    json_t *k = NULL;
    int st = td_test_api_json(todod.port, b.token, "GET", next, NULL, NULL, &k);
    cr_expect(st == 200 || st == 400, "%d", st);
    if (st == 200) {
        cr_expect_eq(titles_of(k, b.id, titles, sizeof titles), 0, "a cursor leaked A's tasks to B");
    }
    json_decref(k);
    free(next);

    /* Tag counts: only one's own. */
    cr_expect_eq(td_test_api_json(todod.port, b.token, "GET", "/api/tags", NULL, NULL, &j), 200);
    char *s = json_dumps(j, JSON_COMPACT);
    json_t *want = json_loads("[{\"tag\":\"b-only\",\"count\":1},{\"tag\":\"shared\",\"count\":1}]", 0, NULL);
    cr_expect(json_equal(j, want), "B's tags: %s", s);
    free(s);
    json_decref(want);
    json_decref(j);
    cr_expect_eq(td_test_api_json(todod.port, a.token, "GET", "/api/tags", NULL, NULL, &j), 200);
    s = json_dumps(j, JSON_COMPACT);
    want = json_loads("[{\"tag\":\"shared\",\"count\":3},{\"tag\":\"a-only\",\"count\":1}]", 0, NULL);
    cr_expect(json_equal(j, want), "A's tags: %s", s);
    free(s);
    json_decref(want);
    json_decref(j);
    /* A user with nothing has no tags. */
    struct td_test_user c;
    td_test_user_fake(&c);
    cr_expect_eq(td_test_api_json(todod.port, c.token, "GET", "/api/tags", NULL, NULL, &j), 200);
    cr_expect(json_is_array(j) && json_array_size(j) == 0);
    json_decref(j);
}

/* roles/api/list.c: GET /api/tasks query parameters: how values are split, bounded and
 * quoted into statement parameters, the 400 answers for bad ones, search text that has
 * no words, and a keyset walk. The api role runs alone in the test process
 * (tests/support/role_harness.h); tasks are rows written straight into the shared
 * PostgreSQL (tests/integration/test_api_list.c covers filters and sorts end to end). */
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

TestSuite(api_list, .init = start, .fini = stop, .timeout = 60);

/* A task of the test's user; tags is an SQL array expression. */
static void task(const char *title, const char *tags)
{
    free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, title, tags) VALUES "
                               "(gen_random_uuid(), '%s', $t$%s$t$, %s)", user.id, title, tags));
}

/* The titles GET path lists, sorted and joined by '|' (malloc'd); NULL unless 200. */
static char *titles(const char *path, json_t **page)
{
    json_t *j = NULL;
    int status = td_test_api_json(S.port, user.token, "GET", path, NULL, NULL, &j);
    cr_expect_eq(status, 200, "GET %s: %d", path, status);
    if (status != 200) {
        json_decref(j);
        return NULL;
    }
    json_t *items = json_object_get(j, "items"), *it;
    size_t i, n = json_array_size(items);
    const char **v = calloc(n + 1, sizeof *v);
    json_array_foreach(items, i, it) v[i] = json_string_value(json_object_get(it, "title"));
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(v[a], v[b]) > 0) {
                const char *t = v[a];
                v[a] = v[b];
                v[b] = t;
            }
    char *out = strdup("");
    for (i = 0; i < n; i++) {
        char *next = td_test_fmt("%s%s%s", out, i ? "|" : "", v[i]);
        free(out);
        out = next;
    }
    free(v);
    if (page)
        *page = j;
    else
        json_decref(j);
    return out;
}

static void expect_titles(const char *path, const char *want)
{
    char *got = titles(path, NULL);
    cr_expect_str_eq(got ? got : "(error)", want, "GET %s", path);
    free(got);
}

static void expect_400(const char *path, const char *param)
{
    struct td_test_http r;
    td_test_api(S.port, user.token, "GET", path, NULL, NULL, &r);
    td_test_expect_problem(&r, 400, "bad-query-parameter", path);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_expect(td_test_problem_names(j, param), "GET %s: does not name %s: %s", path, param, r.body);
    json_decref(j);
    td_test_http_free(&r);
}

Test(api_list, tag_values_are_quoted_whatever_they_hold)
{
    task("quote", "ARRAY['say \"hi\"']");
    task("backslash", "ARRAY['c:\\temp']");
    task("braces", "ARRAY['{x}', 'plain']");
    task("comma-free", "ARRAY['a b']");
    /* Each value is one array element: quotes, backslashes and braces match themselves. */
    expect_titles("/api/tasks?tag=say%20%22hi%22", "quote");
    expect_titles("/api/tasks?tag=c:%5Ctemp", "backslash");
    expect_titles("/api/tasks?tag=%7Bx%7D", "braces");
    expect_titles("/api/tasks?tag=%7Bx%7D,plain", "braces");
    expect_titles("/api/tasks?any_tag=a%20b,say%20%22hi%22", "comma-free|quote");
    expect_titles("/api/tasks?tag=%22", "");
    /* Filter values are lower-cased as stored tags are; empty list items are skipped. */
    expect_titles("/api/tasks?tag=PLAIN", "braces");
    expect_titles("/api/tasks?tag=,plain,,&tag=", "braces");
    /* Repeated and comma-separated values add up; status=all is no filter. */
    free(td_test_pg_queryf(pg, "UPDATE tasks SET status = 'completed' WHERE user_id = '%s' "
                               "AND title = 'quote'", user.id));
    expect_titles("/api/tasks?status=completed", "quote");
    expect_titles("/api/tasks?status=pending,completed", "backslash|braces|comma-free|quote");
    expect_titles("/api/tasks?status=pending&status=all", "backslash|braces|comma-free|quote");
}

Test(api_list, bad_or_oversized_parameters_are_400_naming_them)
{
    task("one", "ARRAY['t1']");
    /* 20 tags and five priorities are the most a filter takes. */
    char *tags20 = strdup("/api/tasks?tag=t1"), *tags21;
    for (int i = 2; i <= 20; i++) {
        char *next = td_test_fmt("%s,t%d", tags20, i);
        free(tags20);
        tags20 = next;
    }
    tags21 = td_test_fmt("%s&tag=t21", tags20);
    expect_titles(tags20, "");
    expect_400(tags21, "tag");
    char *any21 = td_test_fmt("/api/tasks?any_%s,t21", tags20 + strlen("/api/tasks?"));
    expect_400(any21, "any_tag");
    expect_titles("/api/tasks?priority=none,low,medium,high,urgent", "one");
    expect_400("/api/tasks?priority=none,low,medium,high,urgent,p1", "priority");
    /* A value never gets cut: 255 bytes is a value, 256 is refused. */
    char long_tag[300];
    memset(long_tag, 'x', 256);
    long_tag[256] = '\0';
    char *p256 = td_test_fmt("/api/tasks?tag=%s", long_tag);
    expect_400(p256, "tag");
    long_tag[255] = '\0';
    char *p255 = td_test_fmt("/api/tasks?tag=%s", long_tag);
    expect_titles(p255, "");
    char q[240];
    memset(q, 'q', 201);
    q[201] = '\0';
    char *q201 = td_test_fmt("/api/tasks?q=%s", q);
    expect_400(q201, "q");
    expect_400("/api/tasks?sort=colour", "sort");
    expect_400("/api/tasks?sort=relevance", "sort");
    expect_400("/api/tasks?order=up", "order");
    expect_400("/api/tasks?limit=5x", "limit");
    expect_400("/api/tasks?status=done", "status");
    free(tags20);
    free(tags21);
    free(any21);
    free(p256);
    free(p255);
    free(q201);
}

Test(api_list, search_text_without_words_filters_nothing)
{
    task("Caf\u00e9 au lait", "'{}'");
    task("tea", "'{}'");
    expect_titles("/api/tasks?q=%21%21%20%26%20%7C", "Caf\u00e9 au lait|tea");
    expect_titles("/api/tasks?q=caf", "Caf\u00e9 au lait");
    expect_titles("/api/tasks?q=caf%C3%A9%20LAIT", "Caf\u00e9 au lait");
}

Test(api_list, a_keyset_walk_visits_every_task_once)
{
    for (int i = 0; i < 7; i++) {
        char title[16];
        snprintf(title, sizeof title, "p%d", i);
        free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, title, priority) VALUES "
                                   "(gen_random_uuid(), '%s', '%s', %d)", user.id, title, i % 3));
    }
    const char *orders[] = {"sort=priority&order=desc", "sort=priority&order=asc",
                            "sort=title&order=asc", "sort=due_at&order=desc"};
    for (int o = 0; o < 4; o++) {
        char *seen = strdup(""), *cursor = NULL;
        int pages = 0;
        do {
            char *path = cursor ? td_test_fmt("/api/tasks?%s&limit=3&cursor=%s", orders[o], cursor)
                                : td_test_fmt("/api/tasks?%s&limit=3", orders[o]);
            json_t *page = NULL;
            char *got = titles(path, &page);
            free(path);
            cr_assert_not_null(got);
            char *next = td_test_fmt("%s%s%s", seen, *seen && *got ? "|" : "", got);
            free(seen);
            free(got);
            seen = next;
            free(cursor);
            const char *c = td_test_jstr(page, "next_cursor");
            cursor = c ? strdup(c) : NULL;
            json_decref(page);
        } while (cursor && ++pages < 10);
        /* Seven tasks, three a page: three pages, each task once. */
        cr_expect_eq(pages, 2, "%s: %d more pages", orders[o], pages);
        cr_expect_eq(strlen(seen), 7 * 2 + 6, "%s: %s", orders[o], seen);
        for (int i = 0; i < 7; i++) {
            char title[16];
            snprintf(title, sizeof title, "p%d", i);
            const char *at = strstr(seen, title);
            cr_expect(at && !strstr(at + 1, title), "%s: %s seen %s", orders[o], title, seen);
        }
        free(seen);
    }
}

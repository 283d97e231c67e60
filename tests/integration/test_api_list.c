/* GET /api/tasks (issue 4): filters, full-text search with ranking and prefixes, every
 * sort key both ways with a stable tie-break, keyset pagination that survives inserts,
 * cursor and limit errors, the hackathon array form, and GET /api/tags. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;
static struct td_test_user user;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user",
                          "0", "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, NULL);
    td_test_user_fake(&user);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(api_list, .init = start, .fini = stop, .timeout = 90);

/* now + offset seconds as RFC 3339 UTC. */
static void iso(char out[32], long offset)
{
    time_t t = time(NULL) + offset;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* GET path as the user; asserts 200 and returns the answer. */
static json_t *list(const char *path)
{
    json_t *j = NULL;
    struct td_test_http r;
    int st = td_test_api(todod.port, user.token, "GET", path, NULL, NULL, &r);
    cr_assert_eq(st, 200, "GET %s: %d %s", path, st, r.body);
    j = td_test_body_json(&r);
    td_test_http_free(&r);
    return j;
}

static json_t *items_of(json_t *answer)
{
    return json_is_array(answer) ? answer : json_object_get(answer, "items");
}

/* Titles in answer order, '|'-separated; sorted alphabetically when sorted is set. */
static char *titles(json_t *answer, int sorted)
{
    json_t *items = items_of(answer), *it;
    size_t i, n = json_array_size(items);
    const char **t = calloc(n + 1, sizeof *t);
    json_array_foreach(items, i, it)
        t[i] = td_test_jstr(it, "title");
    if (sorted)
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && strcmp(t[b - 1], t[b]) > 0; b--) {
                const char *x = t[b];
                t[b] = t[b - 1];
                t[b - 1] = x;
            }
    size_t len = 1;
    for (i = 0; i < n; i++)
        len += strlen(t[i]) + 1;
    char *out = calloc(1, len);
    for (i = 0; i < n; i++) {
        if (i)
            strcat(out, "|");
        strcat(out, t[i]);
    }
    free(t);
    return out;
}

static void expect_titles(const char *path, int sorted, const char *want)
{
    json_t *j = list(path);
    char *got = titles(j, sorted);
    cr_expect_str_eq(got, want, "GET %s", path);
    free(got);
    json_decref(j);
}

/* GET path expecting 400 problem naming param. */
static void expect_400(const char *path, const char *param)
{
    struct td_test_http r;
    int st = td_test_api(todod.port, user.token, "GET", path, NULL, NULL, &r);
    cr_expect_eq(st, 400, "GET %s: %d %s", path, st, r.body);
    char *type = td_test_header(r.headers, "Content-Type");
    cr_expect(type && strstr(type, "problem+json"), "GET %s: %s", path, type);
    free(type);
    json_t *j = json_loads(r.body, 0, NULL);
    if (param)
        cr_expect(td_test_problem_names(j, param), "GET %s: 400 does not name %s: %s", path, param, r.body);
    json_decref(j);
    td_test_http_free(&r);
}

static char ids[5][37];

/* Five tasks with every attribute the filters look at. */
static void fixture(void)
{
    char plus1d[32], minus1d[32], minus2d[32];
    iso(plus1d, 86400);
    iso(minus1d, -86400);
    iso(minus2d, -2 * 86400);
    char *bodies[5] = {
        td_test_fmt("{\"title\":\"Buy groceries\",\"priority\":\"high\",\"tags\":[\"home\",\"errands\"],"
                    "\"due_at\":\"%s\"}", plus1d),
        td_test_fmt("{\"title\":\"Pay rent\",\"priority\":\"urgent\",\"tags\":[\"home\",\"bills\"],"
                    "\"due_at\":\"%s\"}", minus1d),
        td_test_fmt("{\"title\":\"Write report\",\"priority\":\"medium\",\"tags\":[\"work\"],"
                    "\"due_at\":\"%s\",\"status\":\"completed\"}", minus2d),
        td_test_fmt("{\"title\":\"call mom\",\"priority\":\"low\",\"tags\":[\"family\"]}"),
        td_test_fmt("{\"title\":\"Read book\",\"description\":\"the one about groceries in history\"}"),
    };
    for (int i = 0; i < 5; i++) {
        json_t *t = td_test_create_task(todod.port, user.token, bodies[i]);
        snprintf(ids[i], sizeof ids[i], "%s", td_test_jstr(t, "id"));
        json_decref(t);
        free(bodies[i]);
    }
}

#define ALL5 "Buy groceries|Pay rent|Read book|Write report|call mom"

Test(api_list, filters)
{
    fixture();
    char now[32], lo[32], hi[32];
    iso(now, 0);
    iso(lo, -36 * 3600);
    iso(hi, 2 * 86400);
    struct { char *path; const char *want; } cases[] = {
        {td_test_fmt("/api/tasks"), ALL5},
        {td_test_fmt("/api/tasks?status=all"), ALL5},
        {td_test_fmt("/api/tasks?status=pending"), "Buy groceries|Pay rent|Read book|call mom"},
        {td_test_fmt("/api/tasks?status=completed"), "Write report"},
        {td_test_fmt("/api/tasks?priority=high"), "Buy groceries"},
        {td_test_fmt("/api/tasks?priority=high,urgent"), "Buy groceries|Pay rent"},
        {td_test_fmt("/api/tasks?priority=high&priority=urgent"), "Buy groceries|Pay rent"},
        {td_test_fmt("/api/tasks?priority=p1"), "Pay rent"},
        {td_test_fmt("/api/tasks?priority=p4"), "call mom"},
        {td_test_fmt("/api/tasks?priority=none"), "Read book"},
        {td_test_fmt("/api/tasks?tag=home"), "Buy groceries|Pay rent"},
        {td_test_fmt("/api/tasks?tag=HOME"), "Buy groceries|Pay rent"},
        {td_test_fmt("/api/tasks?tag=home&tag=errands"), "Buy groceries"},
        {td_test_fmt("/api/tasks?tag=home,bills"), "Pay rent"},
        {td_test_fmt("/api/tasks?tag=home&tag=work"), ""},
        {td_test_fmt("/api/tasks?any_tag=errands,work"), "Buy groceries|Write report"},
        {td_test_fmt("/api/tasks?any_tag=family&any_tag=bills"), "Pay rent|call mom"},
        {td_test_fmt("/api/tasks?tag=home&any_tag=bills,work"), "Pay rent"},
        {td_test_fmt("/api/tasks?due_before=%s", now), "Pay rent|Write report"},
        {td_test_fmt("/api/tasks?due_after=%s", now), "Buy groceries"},
        {td_test_fmt("/api/tasks?due_after=%s&due_before=%s", lo, hi), "Buy groceries|Pay rent"},
        {td_test_fmt("/api/tasks?overdue=true"), "Pay rent"},
        {td_test_fmt("/api/tasks?overdue=false"), ALL5},
        {td_test_fmt("/api/tasks?has_due=true"), "Buy groceries|Pay rent|Write report"},
        {td_test_fmt("/api/tasks?has_due=false"), "Read book|call mom"},
        {td_test_fmt("/api/tasks?status=pending&tag=home&priority=urgent"), "Pay rent"},
        {td_test_fmt("/api/tasks?status=completed&overdue=true"), ""},
        {td_test_fmt("/api/%s/tasks?status=completed", user.id), "Write report"},
        {td_test_fmt("/api/%s/tasks?tag=home&priority=p2", user.id), "Buy groceries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_titles(cases[i].path, 1, cases[i].want);
        free(cases[i].path);
    }
    expect_400("/api/tasks?status=maybe", "status");
    expect_400("/api/tasks?priority=extreme", "priority");
    expect_400("/api/tasks?due_before=yesterday", "due_before");
    expect_400("/api/tasks?due_after=2031-13-01T00:00:00Z", "due_after");
    expect_400("/api/tasks?overdue=perhaps", "overdue");
    expect_400("/api/tasks?has_due=2", "has_due");
}

Test(api_list, search_ranks_title_over_description_and_matches_prefixes)
{
    fixture();
    /* Ranked: the title match before the description-only match. */
    expect_titles("/api/tasks?q=groceries", 0, "Buy groceries|Read book");
    expect_titles("/api/tasks?q=gro", 0, "Buy groceries|Read book");
    expect_titles("/api/tasks?q=GROCER", 0, "Buy groceries|Read book");
    expect_titles("/api/tasks?q=groceries&sort=relevance&order=asc", 0, "Read book|Buy groceries");
    expect_titles("/api/tasks?q=groceries&sort=title&order=asc", 0, "Buy groceries|Read book");
    expect_titles("/api/tasks?q=pay%20rent", 1, "Pay rent");
    expect_titles("/api/tasks?q=rent+pay", 1, "Pay rent");
    expect_titles("/api/tasks?q=re", 1, "Pay rent|Read book|Write report");
    expect_titles("/api/tasks?q=history", 1, "Read book");
    expect_titles("/api/tasks?q=zebra", 1, "");
    expect_titles("/api/tasks?q=groceries&status=completed", 1, "");
    expect_titles("/api/tasks?q=gro&priority=none", 1, "Read book");
    /* tsquery syntax in the text is only text: no 500, no operator. */
    expect_titles("/api/tasks?q=pay%20%7C%20book", 1, "");
    expect_titles("/api/tasks?q=%21rent", 1, "Pay rent");
    json_decref(list("/api/tasks?q=%27%29%3B%20drop%20table%20tasks%3B--"));
    json_decref(list("/api/tasks?q=a%3A%2A%20%26%20%28b"));
    expect_400("/api/tasks?sort=relevance", "sort");
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 5);
}

Test(api_list, sorts_by_every_key_both_ways)
{
    fixture();
    /* updated_at: touch Write report, then Buy groceries. */
    char *p = td_test_fmt("/api/tasks/%s", ids[2]);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", p, "{\"description\":\"x\"}", NULL, NULL), 200);
    free(p);
    p = td_test_fmt("/api/tasks/%s", ids[0]);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "PATCH", p, "{\"description\":\"y\"}", NULL, NULL), 200);
    free(p);

    const char *created = "Buy groceries|Pay rent|Write report|call mom|Read book";
    const char *created_desc = "Read book|call mom|Write report|Pay rent|Buy groceries";
    expect_titles("/api/tasks", 0, created_desc);   /* the default: newest first */
    expect_titles("/api/tasks?sort=created_at&order=asc", 0, created);
    expect_titles("/api/tasks?sort=created_at&order=desc", 0, created_desc);
    expect_titles("/api/tasks?sort=created_at", 0, created_desc);
    expect_titles("/api/tasks?sort=updated_at", 0, "Buy groceries|Write report|Read book|call mom|Pay rent");
    expect_titles("/api/tasks?sort=updated_at&order=asc", 0, "Pay rent|call mom|Read book|Write report|Buy groceries");
    expect_titles("/api/tasks?sort=priority&order=desc", 0, "Pay rent|Buy groceries|Write report|call mom|Read book");
    expect_titles("/api/tasks?sort=priority&order=asc", 0, "Read book|call mom|Write report|Buy groceries|Pay rent");
    /* Titles compare case-insensitively. */
    expect_titles("/api/tasks?sort=title&order=asc", 0, "Buy groceries|call mom|Pay rent|Read book|Write report");
    expect_titles("/api/tasks?sort=title&order=desc", 0, "Write report|Read book|Pay rent|call mom|Buy groceries");
    /* due_at: soonest first, tasks without a due date last (first when descending). */
    json_t *j = list("/api/tasks?sort=due_at&order=asc");
    char *got = titles(j, 0);
    cr_expect(strncmp(got, "Write report|Pay rent|Buy groceries|", 36) == 0, "due_at asc: %s", got);
    free(got);
    json_decref(j);
    j = list("/api/tasks?sort=due_at");
    got = titles(j, 0);
    cr_expect(strncmp(got, "Write report|Pay rent|Buy groceries|", 36) == 0, "due_at defaults to asc: %s", got);
    free(got);
    json_decref(j);
    j = list("/api/tasks?sort=due_at&order=desc");
    got = titles(j, 0);
    size_t len = strlen(got);
    cr_expect(len > 36 && strcmp(got + len - 36, "|Buy groceries|Pay rent|Write report") == 0,
              "due_at desc: %s", got);
    free(got);
    json_decref(j);
    expect_400("/api/tasks?sort=colour", "sort");
    expect_400("/api/tasks?sort=title&order=sideways", "order");
}

/* The words front-ends written for the hackathon brief send: sort=due_date,
 * sort=alphabetical, sort=priority, status=all|pending|completed and search=, on both
 * list paths. */
Test(api_list, hackathon_sort_status_and_search_words)
{
    char plus1d[32], plus2d[32];
    iso(plus1d, 86400);
    iso(plus2d, 2 * 86400);
    char *bodies[] = {
        td_test_fmt("{\"title\":\"Buy milk\",\"priority\":\"low\",\"due_at\":\"%s\"}", plus2d),
        td_test_fmt("{\"title\":\"walk dog\",\"priority\":\"urgent\",\"due_at\":\"%s\","
                    "\"completed\":true}", plus1d),
        td_test_fmt("{\"title\":\"Call plumber\",\"priority\":\"medium\"}"),
    };
    for (int i = 0; i < 3; i++) {
        json_decref(td_test_create_task(todod.port, user.token, bodies[i]));
        free(bodies[i]);
    }
    char *ubase = td_test_fmt("/api/%s/tasks", user.id);
    for (int b = 0; b < 2; b++) {
        const char *base = b ? ubase : "/api/tasks";
        struct { const char *query, *want; } cases[] = {
            {"sort=alphabetical", "Buy milk|Call plumber|walk dog"},
            {"sort=alphabetical&order=desc", "walk dog|Call plumber|Buy milk"},
            {"sort=title", "Buy milk|Call plumber|walk dog"},
            /* Soonest first, no due date last. */
            {"sort=due_date", "walk dog|Buy milk|Call plumber"},
            {"sort=due_date&order=desc", "Call plumber|Buy milk|walk dog"},
            /* Most urgent first. */
            {"sort=priority", "walk dog|Call plumber|Buy milk"},
            {"status=all&sort=alphabetical", "Buy milk|Call plumber|walk dog"},
            {"status=pending&sort=alphabetical", "Buy milk|Call plumber"},
            {"status=completed&sort=alphabetical", "walk dog"},
            {"search=milk", "Buy milk"},
            {"search=MILK&status=all", "Buy milk"},
            {"search=milk&status=completed", ""},
            {"search=plumb&sort=alphabetical", "Call plumber"},
            {"search=milk&sort=relevance", "Buy milk"},
            /* Both names with one text, or one of them empty (a cleared box), agree. */
            {"search=milk&q=milk", "Buy milk"},
            {"q=milk&search=", "Buy milk"},
            {"search=milk&q=", "Buy milk"},
            {"search=&sort=alphabetical", "Buy milk|Call plumber|walk dog"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char *path = td_test_fmt("%s?%s", base, cases[i].query);
            expect_titles(path, 0, cases[i].want);
            free(path);
        }
        char *path = td_test_fmt("%s?search=milk&q=dog", base);
        expect_400(path, "search");
        free(path);
        char long_text[260];
        memset(long_text, 'a', 201);
        long_text[201] = '\0';
        path = td_test_fmt("%s?search=%s", base, long_text);
        expect_400(path, "search");
        free(path);
        path = td_test_fmt("%s?sort=alphabet", base);
        expect_400(path, "sort");
        free(path);
    }
    free(ubase);

    /* A cursor from sort=alphabetical is the sort=title cursor: either spelling goes on. */
    json_t *j = list("/api/tasks?sort=alphabetical&limit=1");
    const char *c = td_test_jstr(j, "next_cursor");
    cr_assert(c, "a first page of one has a next cursor");
    char *p1 = td_test_fmt("/api/tasks?sort=title&limit=1&cursor=%s", c);
    char *p2 = td_test_fmt("/api/tasks?sort=alphabetical&limit=1&cursor=%s", c);
    char *p3 = td_test_fmt("/api/tasks?sort=due_date&limit=1&cursor=%s", c);
    expect_titles(p1, 0, "Call plumber");
    expect_titles(p2, 0, "Call plumber");
    expect_400(p3, "cursor");
    free(p1);
    free(p2);
    free(p3);
    json_decref(j);
    j = list("/api/tasks?sort=due_date&limit=1");
    c = td_test_jstr(j, "next_cursor");
    cr_assert(c);
    p1 = td_test_fmt("/api/tasks?sort=due_at&limit=1&cursor=%s", c);
    expect_titles(p1, 0, "Buy milk");
    free(p1);
    json_decref(j);
}

/* Walks every page of path (which has a '?'); returns all items in order, asserting
 * the page size. between(), when set, runs after each page. */
static json_t *walk(const char *path, int limit, void (*between)(int page))
{
    json_t *all = json_array();
    char *cursor = NULL;
    for (int page = 0; page < 100; page++) {
        char *p = cursor ? td_test_fmt("%s&limit=%d&cursor=%s", path, limit, cursor)
                         : td_test_fmt("%s&limit=%d", path, limit);
        json_t *j = list(p);
        free(p);
        free(cursor);
        cursor = NULL;
        json_t *items = json_object_get(j, "items");
        json_array_extend(all, items);
        const char *next = td_test_jstr(j, "next_cursor");
        if (next) {
            cr_expect_eq(json_array_size(items), (size_t)limit, "a page before the last is full");
            cursor = strdup(next);
        } else {
            cr_expect(json_is_null(json_object_get(j, "next_cursor")), "next_cursor is null at the end");
        }
        json_decref(j);
        if (!cursor)
            break;
        if (between)
            between(page);
    }
    cr_expect(cursor == NULL, "more than 100 pages");
    free(cursor);
    return all;
}

static int count_id(json_t *items, const char *id)
{
    json_t *it;
    size_t i;
    int n = 0;
    json_array_foreach(items, i, it)
        n += strcmp(td_test_jstr(it, "id"), id) == 0;
    return n;
}

static int inserted;

static void insert_some(int page)
{
    /* Titles that sort among the originals ("task 0NN ..."), in the past and future of
     * the cursor for every sort. */
    for (int k = 0; k < 3; k++) {
        char *body = td_test_fmt("{\"title\":\"task %03d new %d\",\"priority\":\"%s\"}",
                                 (page * 37 + k * 41) % 120, inserted++,
                                 k == 0 ? "low" : k == 1 ? "medium" : "urgent");
        json_decref(td_test_create_task(todod.port, user.token, body));
        free(body);
    }
}

Test(api_list, cursor_pagination_survives_inserts)
{
    enum { N = 120 };
    static char orig[N][37];
    static const char *prio[] = {"none", "low", "medium", "high", "urgent"};
    for (int i = 0; i < N; i++) {
        char *body = td_test_fmt("{\"title\":\"Task %03d\",\"priority\":\"%s\"}", i, prio[i % 5]);
        json_t *t = td_test_create_task(todod.port, user.token, body);
        snprintf(orig[i], sizeof orig[i], "%s", td_test_jstr(t, "id"));
        json_decref(t);
        free(body);
    }
    const char *walks[] = {
        "/api/tasks?sort=created_at&order=asc", "/api/tasks?sort=created_at&order=desc",
        "/api/tasks?sort=title&order=asc", "/api/tasks?sort=title&order=desc",
        "/api/tasks?sort=priority&order=asc", "/api/tasks?sort=priority&order=desc",
        "/api/tasks?sort=updated_at&order=desc", "/api/tasks?sort=due_at",
        "/api/tasks?q=task",
    };
    for (size_t w = 0; w < sizeof walks / sizeof *walks; w++) {
        long before = td_test_pg_long(&pg, "SELECT count(*) FROM tasks");
        json_t *all = walk(walks[w], 25, insert_some);
        /* Every original exactly once: no duplicates, no gaps. */
        for (int i = 0; i < N; i++)
            cr_expect_eq(count_id(all, orig[i]), 1, "%s: task %03d seen %d times", walks[w], i,
                         count_id(all, orig[i]));
        /* Nothing at all twice, and nothing that did not exist. */
        json_t *it;
        size_t i;
        json_array_foreach(all, i, it)
            cr_expect_eq(count_id(all, td_test_jstr(it, "id")), 1, "%s: %s repeated", walks[w],
                         td_test_jstr(it, "title"));
        cr_expect(json_array_size(all) >= (size_t)before &&
                  (long)json_array_size(all) <= td_test_pg_long(&pg, "SELECT count(*) FROM tasks"),
                  "%s: %zu items", walks[w], json_array_size(all));
        json_decref(all);
    }
}

Test(api_list, ties_break_by_id_the_same_way_on_every_walk)
{
    /* 30 tasks with one priority and one title: only the id tells them apart. */
    for (int i = 0; i < 30; i++)
        json_decref(td_test_create_task(todod.port, user.token, "{\"title\":\"same\",\"priority\":\"medium\"}"));
    const char *orders[] = {"asc", "desc"};
    const char *keys[] = {"priority", "title", "due_at"};
    for (int k = 0; k < 3; k++)
        for (int o = 0; o < 2; o++) {
            char *path = td_test_fmt("/api/tasks?sort=%s&order=%s", keys[k], orders[o]);
            json_t *first = walk(path, 7, NULL), *second = walk(path, 7, NULL);
            cr_expect_eq(json_array_size(first), 30, "%s", path);
            cr_expect(json_equal(first, second), "%s: two walks disagree", path);
            for (size_t i = 1; i < json_array_size(first); i++) {
                const char *prev = td_test_jstr(json_array_get(first, i - 1), "id");
                const char *cur = td_test_jstr(json_array_get(first, i), "id");
                int cmp = strcmp(prev, cur);
                cr_expect(o == 0 ? cmp < 0 : cmp > 0, "%s: ids out of order at %zu", path, i);
            }
            /* The whole list in one page is the same order. */
            char *one = td_test_fmt("%s&limit=200", path);
            json_t *j = list(one);
            cr_expect(json_equal(json_object_get(j, "items"), first), "%s: paged order differs", path);
            json_decref(j);
            free(one);
            json_decref(first);
            json_decref(second);
            free(path);
        }
}

static char *b64url(const char *s, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = calloc(1, n * 2 + 4);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = a[v & 63];
    }
    return out;
}

Test(api_list, limits_and_bad_cursors_are_400)
{
    for (int i = 0; i < 3; i++)
        json_decref(td_test_create_task(todod.port, user.token, "{\"title\":\"x\"}"));
    expect_400("/api/tasks?limit=201", "limit");
    expect_400("/api/tasks?limit=1000", "limit");
    expect_400("/api/tasks?limit=0", "limit");
    expect_400("/api/tasks?limit=-5", "limit");
    expect_400("/api/tasks?limit=ten", "limit");
    json_t *j = list("/api/tasks?limit=200");
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 3);
    cr_expect(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = list("/api/tasks");
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 3, "default limit");
    json_decref(j);

    expect_400("/api/tasks?cursor=garbage!!", "cursor");
    expect_400("/api/tasks?cursor=dGhpcyBpcyBub3QgYSBjdXJzb3I", "cursor");   /* "this is not a cursor" */
    /* A cursor from one sort is refused by another, and by the other direction. */
    j = list("/api/tasks?sort=title&order=asc&limit=1");
    const char *c = td_test_jstr(j, "next_cursor");
    cr_assert(c);
    char *p1 = td_test_fmt("/api/tasks?sort=priority&order=asc&limit=1&cursor=%s", c);
    char *p2 = td_test_fmt("/api/tasks?sort=title&order=desc&limit=1&cursor=%s", c);
    char *p3 = td_test_fmt("/api/tasks?limit=1&cursor=%s", c);
    char *p4 = td_test_fmt("/api/tasks?sort=title&order=asc&limit=1&cursor=%s", c);
    expect_400(p1, "cursor");
    expect_400(p2, "cursor");
    expect_400(p3, "cursor");
    json_decref(list(p4));
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    json_decref(j);
    /* Well-formed but forged: a key that is not a time, an id that is not a UUID. */
    const char forged1[] = "v1\x1f" "created_at\x1f" "desc\x1f" "not a time\x1f" "00000000-0000-0000-0000-000000000000";
    const char forged2[] = "v1\x1f" "created_at\x1f" "desc\x1f" "2030-01-01 00:00:00+00\x1f" "robert'); drop table tasks;--";
    const char forged3[] = "v1\x1f" "priority\x1f" "asc\x1f" "99999999999\x1f" "00000000-0000-0000-0000-000000000000";
    const char *forged[] = {forged1, forged2};
    for (int i = 0; i < 2; i++) {
        char *enc = b64url(forged[i], strlen(forged[i]));
        char *p = td_test_fmt("/api/tasks?cursor=%s", enc);
        expect_400(p, "cursor");
        free(p);
        free(enc);
    }
    char *enc = b64url(forged3, strlen(forged3));
    char *p = td_test_fmt("/api/tasks?sort=priority&order=asc&cursor=%s", enc);
    expect_400(p, "cursor");
    free(p);
    free(enc);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks"), 3);
}

Test(api_list, title_cursors_survive_any_title)
{
    /* Titles with the bytes a cursor might use as separators or escapes. */
    const char *bodies[] = {
        "{\"title\":\"a\\u001fb\"}", "{\"title\":\"a\\u001f\"}", "{\"title\":\"c%2F\\\\d\"}",
        "{\"title\":\"\\u00e9t\\u00e9 \\ud83c\\udf1e\"}", "{\"title\":\"z\"}",
    };
    for (int i = 0; i < 5; i++)
        json_decref(td_test_create_task(todod.port, user.token, bodies[i]));
    const char *paths[] = {"/api/tasks?sort=title&order=asc", "/api/tasks?sort=title&order=desc"};
    for (int i = 0; i < 2; i++) {
        json_t *all = walk(paths[i], 1, NULL);
        cr_expect_eq(json_array_size(all), 5, "%s: walked %zu of 5", paths[i], json_array_size(all));
        json_decref(all);
    }
}

Test(api_list, hackathon_array_with_next_cursor_header)
{
    for (int i = 0; i < 5; i++) {
        char *body = td_test_fmt("{\"title\":\"h%d\"%s}", i, i == 2 ? ",\"completed\":true" : "");
        json_decref(td_test_create_task(todod.port, user.token, body));
        free(body);
    }
    char *base = td_test_fmt("/api/%s/tasks", user.id);
    char *path = td_test_fmt("%s?limit=2&sort=title&order=asc", base);
    char seen[64] = "";
    for (int page = 0; page < 5 && path; page++) {
        struct td_test_http r;
        cr_assert_eq(td_test_api(todod.port, user.token, "GET", path, NULL, NULL, &r), 200, "%s", r.body);
        json_t *j = td_test_body_json(&r);
        cr_expect(json_is_array(j), "the hackathon list is a bare array: %s", r.body);
        json_t *it;
        size_t i;
        json_array_foreach(j, i, it) {
            strcat(seen, td_test_jstr(it, "title"));
            strcat(seen, " ");
            cr_expect(json_is_boolean(json_object_get(it, "completed")));
        }
        char *next = td_test_header(r.headers, "X-Next-Cursor");
        free(path);
        path = NULL;
        if (next) {
            cr_expect_eq(json_array_size(j), 2);
            path = td_test_fmt("%s?limit=2&sort=title&order=asc&cursor=%s", base, next);
        }
        free(next);
        json_decref(j);
        td_test_http_free(&r);
    }
    cr_expect(path == NULL, "never reached the last page");
    free(path);
    cr_expect_str_eq(seen, "h0 h1 h2 h3 h4 ");
    /* Filters apply there too; the whole list needs no cursor. */
    char *done = td_test_fmt("%s?status=completed", base);
    struct td_test_http r;
    td_test_api(todod.port, user.token, "GET", done, NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    char *next = td_test_header(r.headers, "X-Next-Cursor");
    cr_expect(next == NULL, "a single page has no X-Next-Cursor");
    free(next);
    json_t *j = td_test_body_json(&r);
    char *got = titles(j, 1);
    cr_expect_str_eq(got, "h2");
    free(got);
    json_decref(j);
    td_test_http_free(&r);
    free(done);
    free(base);
}

Test(api_list, tags_with_counts)
{
    json_t *j = list("/api/tags");
    cr_expect(json_is_array(j) && json_array_size(j) == 0, "no tasks, no tags");
    json_decref(j);
    const char *bodies[] = {
        "{\"title\":\"1\",\"tags\":[\"home\",\"Urgent-ish\"]}", "{\"title\":\"2\",\"tags\":[\"home\"]}",
        "{\"title\":\"3\",\"tags\":[\"home\",\"work\"]}", "{\"title\":\"4\",\"tags\":[\"work\"]}",
        "{\"title\":\"5\"}", "{\"title\":\"6\",\"tags\":[\"zzz\",\"aaa\"]}",
    };
    char id3[37] = "";
    for (int i = 0; i < 6; i++) {
        json_t *t = td_test_create_task(todod.port, user.token, bodies[i]);
        if (i == 2)
            snprintf(id3, sizeof id3, "%s", td_test_jstr(t, "id"));
        json_decref(t);
    }
    /* Most used first, then by name. */
    j = list("/api/tags");
    json_t *want = json_loads("[{\"tag\":\"home\",\"count\":3},{\"tag\":\"work\",\"count\":2},"
                              "{\"tag\":\"aaa\",\"count\":1},{\"tag\":\"urgent-ish\",\"count\":1},"
                              "{\"tag\":\"zzz\",\"count\":1}]", 0, NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    cr_expect(json_equal(j, want), "tags: %s", s);
    free(s);
    json_decref(want);
    json_decref(j);
    /* Counts follow changes and deletions. */
    char *p = td_test_fmt("/api/tasks/%s", id3);
    cr_expect_eq(td_test_api_json(todod.port, user.token, "DELETE", p, NULL, NULL, NULL), 204);
    free(p);
    j = list("/api/tags");
    json_t *home = json_array_get(j, 0);
    cr_expect_str_eq(td_test_jstr(home, "tag"), "home");
    cr_expect_eq(json_integer_value(json_object_get(home, "count")), 2);
    json_decref(j);
}

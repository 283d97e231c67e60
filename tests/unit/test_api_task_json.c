/* roles/api/task_json.c: a task row's JSON written from result columns. The rows are real
 * (the shared PostgreSQL of tests/support/role_harness.h, read through core/db on a loop
 * in the test); api_task_json must write for each the same JSON as PostgreSQL's own
 * todod_task_json, which the events carry, so answers and events never disagree. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/buf.h"
#include "core/db.h"
#include "roles/api/task_json.h"
#include "tests/support/api_harness.h"
#include "tests/support/loop_harness.h"
#include "tests/support/role_harness.h"

static struct td_test_pg *pg;
static uv_loop_t loop;
static struct td_db *db;
static struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test", .fd = 2};
static char user[40];

static void setup(void)
{
    pg = td_test_roles_pg();
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct td_db_opts o = {.conninfo = pg->conninfo, .pool_size = 1, .log = &quiet};
    cr_assert_eq(td_db_open(&loop, &o, &db), 0);
    td_test_uuid(user);
}

static int closed;

static void on_closed(void *arg)
{
    (void)arg;
    closed = 1;
}

static void teardown(void)
{
    td_db_close(db, on_closed, NULL);
    cr_assert(td_test_run_until(&loop, &closed, 1, 5000), "the pool never closed");
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    td_test_assert_no_leaks();
}

TestSuite(task_json, .init = setup, .fini = teardown, .timeout = 60);

/* What one query gave: for each row, api_task_json's text and column `extra` as text. */
struct rows {
    int   done, status, n;
    char *json[16];
    char *extra[16];
    int   col, extra_col;
};

static void on_rows(int status, struct td_db_res *res, void *arg)
{
    struct rows *r = arg;
    r->status = status;
    for (int i = 0; status == 0 && i < td_db_res_rows(res) && i < 16; i++, r->n++) {
        struct td_buf b = {0};
        cr_assert_eq(api_task_json(&b, res, i, r->col), 0);
        r->json[i] = td_buf_steal(&b, NULL);
        const char *v = td_db_res_value(res, i, r->extra_col);
        r->extra[i] = v ? strdup(v) : NULL;
    }
    r->done = 1;
}

/* Runs sql ($1 = the test's user) and fills r; col: where the task's columns start. */
static void fetch(const char *sql, int col, int extra_col, struct rows *r)
{
    memset(r, 0, sizeof *r);
    r->col = col;
    r->extra_col = extra_col;
    const char *params[] = {user};
    cr_assert_eq(td_db_exec_sql(db, sql, 1, params, on_rows, r), 0);
    cr_assert(td_test_run_until(&loop, &r->done, 1, 10000), "no answer");
    cr_assert_eq(r->status, 0, "query failed: %d", r->status);
}

static void free_rows(struct rows *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->json[i]);
        free(r->extra[i]);
    }
}

static void insert(const char *columns, const char *values)
{
    free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, %s) VALUES (gen_random_uuid(), '%s', %s)",
                           columns, user, values));
}

Test(task_json, every_row_matches_postgresqls_own_json)
{
    insert("title", "'1 plain'");
    insert("title, description, status, completed_at, priority, tags, due_at, all_day, time_zone, "
           "recurrence, reminders, created_at, updated_at, version",
           "$q$2 \"quoted\" \\ back\nslash\ttab \u00dcn\u00efc\u00f8d\u00e9 \u2713 \U0001F600$q$, "
           "$q$ctrl \x01 \x1f end$q$, 'completed', '2026-03-05 06:07:08.999999+00', 4, "
           "ARRAY['a', 'b c', '\"q\"', 'back\\slash'], '2026-03-04 05:06:07.891+00', true, "
           "'Europe/Paris', 'FREQ=WEEKLY;BYDAY=MO', '[{\"offset\": \"PT15M\"}, {\"at\": null}]', "
           "'2026-01-02 03:04:05.678+00', '2026-01-03 00:00:00+00', 7");
    insert("title, priority", "'3 low', 1");
    insert("title, priority", "'4 medium', 2");
    insert("title, priority, due_at", "'5 high', 3, '1999-12-31 23:59:59.5+00'");
    insert("title, description", "'6 empty strings', ''");
    insert("title, recurrence, recurrence_anchor, recurrence_exdates",
           "'7 every!', 'FREQ=DAILY', 'completion', ARRAY['2027-01-15', '2027-01-16T09:00:00']");
    struct rows r;
    fetch("SELECT " TASK_COLS("t") ", todod_task_json(t)::text FROM tasks t "
          "WHERE t.user_id = $1 ORDER BY t.title", 0, TASK_NCOLS, &r);
    cr_assert_eq(r.n, 7);
    for (int i = 0; i < r.n; i++) {
        json_error_t e;
        json_t *ours = json_loads(r.json[i], 0, &e);
        cr_expect_not_null(ours, "row %d is not JSON (%s): %s", i, e.text, r.json[i]);
        json_t *theirs = json_loads(r.extra[i], 0, NULL);
        cr_expect(json_equal(ours, theirs), "row %d:\n  api_task_json:   %s\n  todod_task_json: %s", i,
                  r.json[i], r.extra[i]);
        /* The members clients rely on, in full. */
        cr_expect_eq(json_object_size(ours), 21, "row %d: %s", i, r.json[i]);
        json_decref(ours);
        json_decref(theirs);
    }
    cr_expect_not_null(strstr(r.json[1], "\"due_at\":\"2026-03-04T05:06:07Z\""), "%s", r.json[1]);
    cr_expect_not_null(strstr(r.json[1], "\"completed\":true"), "%s", r.json[1]);
    cr_expect_not_null(strstr(r.json[1], "\"priority\":\"urgent\""), "%s", r.json[1]);
    cr_expect_not_null(strstr(r.json[1], "\"version\":7}"), "%s", r.json[1]);
    cr_expect_not_null(strstr(r.json[0], "\"due_at\":null,\"due_date\":null,\"all_day\":false"), "%s", r.json[0]);
    cr_expect_not_null(strstr(r.json[0], "\"recurrence_anchor\":\"schedule\""), "%s", r.json[0]);
    cr_expect_not_null(strstr(r.json[6], "\"recurrence_anchor\":\"completion\""), "%s", r.json[6]);
    free_rows(&r);
}

Test(task_json, columns_may_start_anywhere_in_the_row)
{
    insert("title, priority", "'offset', 2");
    struct rows r;
    fetch("SELECT 'before', t.title, " TASK_COLS("t") ", t.title FROM tasks t WHERE t.user_id = $1",
          2, 2 + TASK_NCOLS, &r);
    cr_assert_eq(r.n, 1);
    json_t *j = json_loads(r.json[0], 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "title")), "offset");
    cr_expect_str_eq(json_string_value(json_object_get(j, "user_id")), user);
    cr_expect_str_eq(json_string_value(json_object_get(j, "priority")), "medium");
    json_decref(j);
    free_rows(&r);
}

Test(task_json, times_postgresql_cannot_format_pass_as_text)
{
    insert("title, due_at", "'forever', 'infinity'");
    struct rows r;
    fetch("SELECT " TASK_COLS("t") ", t.title FROM tasks t WHERE t.user_id = $1", 0, TASK_NCOLS, &r);
    cr_assert_eq(r.n, 1);
    json_t *j = json_loads(r.json[0], 0, NULL);
    cr_expect_not_null(j, "still JSON: %s", r.json[0]);
    cr_expect_str_eq(json_string_value(json_object_get(j, "due_at")), "infinity", "%s", r.json[0]);
    json_decref(j);
    free_rows(&r);
}

#define _GNU_SOURCE   /* vasprintf */
/* roles/api/tools.c: each tool runs the task code REST runs (rows, events, validation),
 * the hackathon's five answer {task_id, status, title}, arguments are checked against the
 * tool's schema, and a user_id that is not the token's subject is refused, never served.
 * The api role runs in the test process; tools are called through tools/call on /mcp. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/mcp_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;
static char session[33];

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
    json_decref(td_test_mcp_init(S.port, user.token, "2025-06-18", session));
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_tools, .init = start, .fini = stop, .timeout = 60);

/* Calls a tool; args is printf-formatted JSON whose first member follows user_id. */
static json_t *tool(const char *name, int want_error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *tool(const char *name, int want_error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *rest = NULL;
    cr_assert(vasprintf(&rest, fmt, ap) >= 0);
    va_end(ap);
    char *args = td_test_fmt("{\"user_id\":\"%s\"%s%s}", user.id, *rest ? "," : "", rest);
    int is_error;
    json_t *r = td_test_mcp_tool(S.port, user.token, session, name, args, &is_error);
    cr_expect_eq(is_error, want_error, "%s(%s) isError %d", name, args, is_error);
    free(args);
    free(rest);
    return r;
}

/* The task's tags as "a,b" (static buffer). */
static const char *tags_of(const char *id)
{
    static char out[256];
    char *v = td_test_pg_queryf(pg, "SELECT array_to_string(tags, ',') FROM tasks WHERE id = '%s'", id);
    snprintf(out, sizeof out, "%s", v ? v : "(null)");
    free(v);
    return out;
}

static const char *js(json_t *j, const char *path)
{
    const char *v = td_test_jstr(j, path);
    return v ? v : "(none)";
}

Test(api_tools, the_five_hackathon_tools_answer_task_id_status_title)
{
    json_t *a = tool("add_task", 0, "\"title\":\"Buy groceries\",\"description\":\"milk\"");
    cr_expect_str_eq(js(a, "status"), "created");
    cr_expect_str_eq(js(a, "title"), "Buy groceries");
    char id[37];
    snprintf(id, sizeof id, "%s", js(a, "task_id"));
    cr_expect_str_eq(js(a, "task.description"), "milk");
    json_decref(a);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND user_id = '%s' "
                                 "AND title = 'Buy groceries'", id, user.id), 1);

    json_t *l = tool("list_tasks", 0, "\"status\":\"pending\"");
    json_t *tasks = json_object_get(l, "tasks");
    cr_expect_eq(json_array_size(tasks), 1);
    cr_expect_str_eq(js(json_array_get(tasks, 0), "id"), id);
    json_decref(l);
    l = tool("list_tasks", 0, "\"status\":\"completed\"");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 0);
    json_decref(l);

    json_t *u = tool("update_task", 0, "\"task_id\":\"%s\",\"title\":\"Buy groceries and fruits\"", id);
    cr_expect_str_eq(js(u, "status"), "updated");
    cr_expect_str_eq(js(u, "title"), "Buy groceries and fruits");
    json_decref(u);

    json_t *c = tool("complete_task", 0, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(c, "status"), "completed");
    cr_expect_str_eq(js(c, "task.status"), "completed");
    json_decref(c);

    json_t *d = tool("delete_task", 0, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(d, "status"), "deleted");
    cr_expect_str_eq(js(d, "task_id"), id);
    cr_expect_str_eq(js(d, "title"), "Buy groceries and fruits");
    json_decref(d);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 0);
    /* The same events REST writes cause, one per change. */
    char *types = td_test_outbox_types(pg, id);
    cr_expect_str_eq(types, "todo.task.created,todo.task.updated,todo.task.completed,todo.task.deleted");
    free(types);
    cr_expect_eq(td_test_roles_metric(&S, "td_api_tool_calls_total{tool=\"add_task\",outcome=\"ok\"}"), 1);
    /* Gone: a second delete is a tool error. */
    d = tool("delete_task", 1, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(d, "error"), "task-not-found");
    cr_expect_eq(json_integer_value(json_object_get(d, "status")), 404);
    json_decref(d);
}

Test(api_tools, another_users_id_is_refused_and_nothing_is_served)
{
    struct td_test_user other;
    td_test_user_fake(&other);
    json_t *t = td_test_create_task(S.port, other.token, "{\"title\":\"Other's secret\"}");
    const char *theirs = td_test_jstr(t, "id");
    long before = td_test_pg_long(pg, "SELECT count(*) FROM tasks");
    static const char *const names[] = {"add_task", "list_tasks", "get_task", "delete_task",
                                        "search_tasks"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *args = td_test_fmt("{\"user_id\":\"%s\",\"title\":\"x\",\"task_id\":\"%s\",\"query\":\"secret\"}",
                                 other.id, theirs);
        /* Members a tool does not take are refused first; send only what each takes. */
        json_t *a = json_loads(args, 0, NULL);
        if (strcmp(names[i], "add_task"))
            json_object_del(a, "title");
        if (strcmp(names[i], "get_task") && strcmp(names[i], "delete_task"))
            json_object_del(a, "task_id");
        if (strcmp(names[i], "search_tasks"))
            json_object_del(a, "query");
        char *text = json_dumps(a, JSON_COMPACT);
        int is_error;
        json_t *r = td_test_mcp_tool(S.port, user.token, session, names[i], text, &is_error);
        cr_expect(is_error, "%s for another user is an error", names[i]);
        cr_expect_str_eq(js(r, "error"), "forbidden", "%s", names[i]);
        cr_expect_eq(json_integer_value(json_object_get(r, "status")), 403);
        cr_expect(strstr(js(r, "message"), "user_id") != NULL);
        json_decref(r);
        free(text);
        json_decref(a);
        free(args);
    }
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks"), before, "nothing written");
    cr_expect_eq(td_test_roles_metric(&S, "td_api_tool_calls_total{tool=\"add_task\",outcome=\"error\"}"), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", theirs), 1);
    /* With the caller's own id, another user's task is no task of theirs. */
    json_t *r = tool("get_task", 1, "\"task_id\":\"%s\"", theirs);
    cr_expect_str_eq(js(r, "error"), "task-not-found");
    json_decref(r);
    r = tool("complete_task", 1, "\"task_id\":\"%s\"", theirs);
    json_decref(r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND status = 'pending'",
                                 theirs), 1);
    json_decref(t);
}

static void expect_invalid(const char *name, const char *args, const char *want)
{
    int is_error;
    char *full = td_test_fmt("{\"user_id\":\"%s\"%s}", user.id, args);
    json_t *r = td_test_mcp_tool(S.port, user.token, session, name, full, &is_error);
    cr_expect(is_error, "%s%s passes", name, full);
    cr_expect_str_eq(js(r, "error"), "invalid-arguments", "%s %s", name, full);
    cr_expect(strstr(js(r, "message"), want) != NULL, "%s: \"%s\" lacks \"%s\"", name,
              js(r, "message"), want);
    json_decref(r);
    free(full);
}

Test(api_tools, arguments_are_checked_against_the_schema)
{
    long before = td_test_pg_long(pg, "SELECT count(*) FROM tasks");
    expect_invalid("add_task", "", "title: is required");
    expect_invalid("add_task", ",\"title\":\"\"", "title: must be 1 to 500 characters");
    expect_invalid("add_task", ",\"title\":7", "title: must be a string");
    expect_invalid("add_task", ",\"title\":\"a\",\"priority\":\"high\"", "priority: is not a parameter");
    expect_invalid("list_tasks", ",\"status\":\"done\"", "status: must be one of");
    expect_invalid("complete_task", ",\"task_id\":\"42\"", "task_id: must be a task id");
    expect_invalid("set_priority", ",\"task_id\":\"0b6e6a4e-4d49-4a65-9a5e-2b6f0d3c1a77\","
                   "\"priority\":\"p9\"", "priority: must be one of");
    expect_invalid("add_tags", ",\"task_id\":\"0b6e6a4e-4d49-4a65-9a5e-2b6f0d3c1a77\",\"tags\":[]",
                   "tags: must have 1 to 20 items");
    expect_invalid("search_tasks", ",\"query\":\"x\",\"limit\":1000", "limit: must be from 1 to 200");
    /* The task model's own rules still apply behind the schema (422 from core/task.c). */
    json_t *a = tool("add_task", 0, "\"title\":\"Due soon\"");
    json_t *r = tool("set_due_date", 1, "\"task_id\":\"%s\",\"due_at\":\"next tuesday\"",
                     js(a, "task_id"));
    cr_expect_str_eq(js(r, "error"), "validation-failed");
    cr_expect(json_array_size(json_object_get(r, "errors")) > 0);
    json_decref(r);
    json_decref(a);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks"), before + 1);
}

Test(api_tools, the_other_tools_change_the_task)
{
    json_t *a = tool("add_task", 0, "\"title\":\"Water plants\"");
    char id[37];
    snprintf(id, sizeof id, "%s", js(a, "task_id"));
    json_decref(a);

    json_t *r = tool("get_task", 0, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(r, "title"), "Water plants");
    json_decref(r);
    r = tool("set_due_date", 0, "\"task_id\":\"%s\",\"due_at\":\"2031-03-02\",\"time_zone\":\"Europe/Paris\"", id);
    cr_expect_str_eq(js(r, "task.due_at"), "2031-03-01T23:00:00Z");
    cr_expect(json_is_true(td_test_jget(r, "task.all_day")));
    json_decref(r);
    r = tool("set_priority", 0, "\"task_id\":\"%s\",\"priority\":\"urgent\"", id);
    cr_expect_str_eq(js(r, "task.priority"), "urgent");
    json_decref(r);
    r = tool("add_tags", 0, "\"task_id\":\"%s\",\"tags\":[\"Garden\",\"home\"]", id);
    json_decref(r);
    r = tool("add_tags", 0, "\"task_id\":\"%s\",\"tags\":[\"home\",\"weekly\"]", id);
    cr_expect_str_eq(tags_of(id), "garden,home,weekly");
    json_decref(r);
    r = tool("remove_tags", 0, "\"task_id\":\"%s\",\"tags\":[\"HOME\",\"absent\"]", id);
    cr_expect_str_eq(tags_of(id), "garden,weekly");
    json_decref(r);
    r = tool("set_reminders", 0, "\"task_id\":\"%s\",\"reminders\":[{\"offset\":\"PT30M\"},"
             "{\"at\":\"2031-03-01T08:00:00Z\",\"channel\":\"email\"}]", id);
    cr_expect_eq(json_array_size(td_test_jget(r, "task.reminders")), 2);
    json_decref(r);
    r = tool("cancel_reminders", 0, "\"task_id\":\"%s\"", id);
    cr_expect_eq(json_array_size(td_test_jget(r, "task.reminders")), 0);
    json_decref(r);
    r = tool("skip_occurrence", 1, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(r, "error"), "not-recurring");
    json_decref(r);
    r = tool("set_recurrence", 0, "\"task_id\":\"%s\",\"rrule\":\"FREQ=WEEKLY;INTERVAL=2\"", id);
    cr_expect_str_eq(js(r, "task.recurrence"), "FREQ=WEEKLY;INTERVAL=2");
    cr_expect_str_eq(js(r, "task.recurrence_anchor"), "schedule");
    json_decref(r);
    r = tool("skip_occurrence", 0, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(r, "status"), "skipped");
    cr_expect_str_eq(js(r, "task.due_at"), "2031-03-15T23:00:00Z");
    json_decref(r);
    r = tool("set_recurrence", 0, "\"task_id\":\"%s\",\"rrule\":\"daily\",\"anchor\":\"completion\"", id);
    cr_expect_str_eq(js(r, "task.recurrence"), "FREQ=DAILY");
    cr_expect_str_eq(js(r, "task.recurrence_anchor"), "completion");
    json_decref(r);
    r = tool("search_tasks", 0, "\"query\":\"water\",\"priority\":\"urgent\",\"tags\":[\"garden\"]");
    cr_expect_eq(json_array_size(json_object_get(r, "tasks")), 1);
    json_decref(r);
    r = tool("search_tasks", 0, "\"query\":\"water\",\"priority\":\"low\"");
    cr_expect_eq(json_array_size(json_object_get(r, "tasks")), 0);
    json_decref(r);
    r = tool("complete_task", 0, "\"task_id\":\"%s\"", id);
    json_decref(r);
    r = tool("reopen_task", 0, "\"task_id\":\"%s\"", id);
    cr_expect_str_eq(js(r, "status"), "reopened");
    cr_expect_str_eq(js(r, "task.status"), "pending");
    json_decref(r);
    r = tool("set_recurrence", 0, "\"task_id\":\"%s\",\"rrule\":null", id);
    cr_expect(json_is_null(td_test_jget(r, "task.recurrence")));
    json_decref(r);
    char *types = td_test_outbox_types(pg, id);
    cr_expect(strncmp(types, "todo.task.created,todo.task.updated", 35) == 0, "%s", types);
    cr_expect(strstr(types, "todo.task.completed") != NULL, "%s", types);
    free(types);
}

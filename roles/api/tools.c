/* The tools: each a row (name, description, input schema, run) whose run builds the
 * same call a REST handler builds and hands it to the same operation (api_op_*). A tool
 * that needs two steps (add_tags reads the tags, then writes them with the version it
 * read) chains operations; none touches SQL or HTTP itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/task.h"
#include "roles/api/tools.h"

struct api_tool_run {
    struct api            *api;
    const struct api_tool *tool;
    json_t                *args;         /* owned reference */
    char                   user[API_SUB_MAX];
    char                   task_id[37];
    char                   traceparent[56];
    char                   request_id[129];
    api_tool_done_fn       done;
    void                  *arg;
    /* The next step: the operation's status and body (NULL for none). */
    void                 (*next)(struct api_tool_run *r, int status, json_t *body);
    int                    attempts;
};

/* ---------- schemas ---------- */

#define USER_ID \
    "\"user_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128," \
    "\"description\":\"The user the tool acts for: must be the authenticated user's id.\"}"
#define TASK_ID \
    "\"task_id\":{\"type\":\"string\",\"format\":\"uuid\",\"description\":\"The task's id.\"}"
#define TITLE(d) "\"title\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500,\"description\":\"" d "\"}"
#define DESCRIPTION \
    "\"description\":{\"type\":\"string\",\"maxLength\":10000,\"description\":\"Free text.\"}"
#define STATUS \
    "\"status\":{\"type\":\"string\",\"enum\":[\"all\",\"pending\",\"completed\"]," \
    "\"description\":\"Which tasks: all (the default), pending or completed.\"}"
#define PRIORITY(d) \
    "\"priority\":{\"type\":\"string\",\"enum\":[\"none\",\"low\",\"medium\",\"high\",\"urgent\"]," \
    "\"description\":\"" d "\"}"
#define TAGS(d) \
    "\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":20,\"items\":{\"type\":\"string\"," \
    "\"minLength\":1,\"maxLength\":50},\"description\":\"" d "\"}"
#define OBJECT(props, req) \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]," \
    "\"additionalProperties\":false}"
#define ON_TASK OBJECT(USER_ID "," TASK_ID, "\"user_id\",\"task_id\"")

/* ---------- steps ---------- */

static void finish(struct api_tool_run *r, json_t *result, int is_error)
{
    struct td_metrics *m = r->api->svc->metrics;
    if (m) {
        char labels[128];
        snprintf(labels, sizeof labels, "tool=\"%s\",outcome=\"%s\"",
                 r->tool ? r->tool->name : "unknown", is_error ? "error" : "ok");
        td_metric_add(td_metrics_series(m, "td_api_tool_calls_total", labels), 1);
    }
    r->done(result, is_error, r->arg);
    json_decref(result);
    json_decref(r->args);
    free(r);
}

static void fail(struct api_tool_run *r, int status, const char *slug, const char *message)
{
    finish(r, json_pack("{s:s, s:i, s:s}", "error", slug, "status", status, "message", message), 1);
}

/* A problem document (api_problem) as a tool error. */
static void fail_problem(struct api_tool_run *r, int status, json_t *problem)
{
    const char *type = json_string_value(json_object_get(problem, "type"));
    const char *slug = type && strrchr(type, '/') ? strrchr(type, '/') + 1 : "error";
    const char *msg = json_string_value(json_object_get(problem, "detail"));
    if (!msg)
        msg = json_string_value(json_object_get(problem, "title"));
    json_t *e = json_pack("{s:s, s:i, s:s}", "error", slug, "status", status, "message",
                          msg ? msg : "the tool failed");
    json_t *errors = json_object_get(problem, "errors");
    if (e && errors)
        json_object_set(e, "errors", errors);
    finish(r, e, 1);
}

static void sink(struct api_call *call, int status, const char *json, size_t len)
{
    struct api_tool_run *r = call->sink_arg;
    json_t *body = json ? json_loadb(json, len, 0, NULL) : NULL;
    r->next(r, status, body);
    json_decref(body);
}

/* A call for the run's user on its task; next takes the answer. NULL (and the run
 * finished) when out of memory. */
static struct api_call *op(struct api_tool_run *r,
                           void (*next)(struct api_tool_run *, int, json_t *))
{
    r->next = next;
    struct api_call *call = api_begin_internal(r->api, r->user, r->traceparent, r->request_id,
                                               sink, r);
    if (!call) {
        fail(r, 503, "overloaded", "out of memory");
        return NULL;
    }
    snprintf(call->task_id, sizeof call->task_id, "%s", r->task_id);
    return call;
}

static const char *arg_str(struct api_tool_run *r, const char *name)
{
    return json_string_value(json_object_get(r->args, name));
}

/* The answer of a task operation as the contract's {task_id, status, title} with the
 * whole task beside it; word says what happened ("created", "completed", ...). */
static void answer_task(struct api_tool_run *r, int status, json_t *body, const char *word)
{
    if (status >= 400 || !json_is_object(body)) {
        fail_problem(r, status, body);
        return;
    }
    finish(r, json_pack("{s:O, s:s, s:O, s:O}", "task_id", json_object_get(body, "id"),
                        "status", word, "title", json_object_get(body, "title"), "task", body), 0);
}

#define ANSWER(fn, word) \
    static void fn(struct api_tool_run *r, int status, json_t *body) \
    { \
        answer_task(r, status, body, word); \
    }
ANSWER(answer_created, "created")
ANSWER(answer_completed, "completed")
ANSWER(answer_reopened, "reopened")
ANSWER(answer_updated, "updated")
ANSWER(answer_skipped, "skipped")

static void answer_value(struct api_tool_run *r, int status, json_t *body)
{
    if (status >= 400 || !body)
        fail_problem(r, status, body);
    else
        finish(r, json_incref(body), 0);
}

static void answer_deleted(struct api_tool_run *r, int status, json_t *body)
{
    if (status >= 400 || !json_is_object(body))
        fail_problem(r, status, body);
    else
        finish(r, json_pack("{s:O, s:s, s:O}", "task_id", json_object_get(body, "task_id"),
                            "status", "deleted", "title", json_object_get(body, "title")), 0);
}

/* Copies the named arguments present into a new task document (with renames). */
static json_t *doc_of(struct api_tool_run *r, const char *const *names)
{
    json_t *d = json_object();
    for (; d && names[0]; names += 2) {
        json_t *v = json_object_get(r->args, names[0]);
        if (v)
            json_object_set(d, names[1], v);
    }
    return d;
}

static void patch(struct api_tool_run *r, const char *const *names,
                  void (*next)(struct api_tool_run *, int, json_t *))
{
    struct api_call *call = op(r, next);
    if (!call)
        return;
    call->body = doc_of(r, names);
    api_op_update(call, TD_TASK_PATCH);
}

/* ---------- the tools ---------- */

static void run_add(struct api_tool_run *r)
{
    static const char *const names[] = {"title", "title", "description", "description", NULL};
    struct api_call *call = op(r, answer_created);
    if (!call)
        return;
    call->body = doc_of(r, names);
    api_op_create(call, NULL, NULL);
}

static void list(struct api_tool_run *r, const char *search)
{
    struct api_call *call = op(r, answer_value);
    if (!call)
        return;
    const char *tags[20];
    json_t *t = json_object_get(r->args, "tags"), *v;
    size_t i;
    struct api_list_args a = {.status = arg_str(r, "status"), .search = search,
                              .priority = arg_str(r, "priority"), .tags = tags};
    json_array_foreach(t, i, v) {
        if (i < 20)
            tags[a.ntags++] = json_string_value(v);
    }
    json_t *limit = json_object_get(r->args, "limit");
    a.limit = limit ? (int)json_integer_value(limit) : 200;
    api_op_list(call, &a);
}

static void run_list(struct api_tool_run *r)
{
    list(r, NULL);
}

static void run_search(struct api_tool_run *r)
{
    list(r, arg_str(r, "query"));
}

static void run_get(struct api_tool_run *r)
{
    struct api_call *call = op(r, answer_value);
    if (call)
        api_op_get(call);
}

static void run_complete(struct api_tool_run *r)
{
    struct api_call *call = op(r, answer_completed);
    if (call)
        api_op_set_status(call, "completed");
}

static void run_reopen(struct api_tool_run *r)
{
    struct api_call *call = op(r, answer_reopened);
    if (call)
        api_op_set_status(call, "pending");
}

static void run_delete(struct api_tool_run *r)
{
    struct api_call *call = op(r, answer_deleted);
    if (call)
        api_op_delete(call);
}

static void run_skip(struct api_tool_run *r)
{
    struct api_call *call = op(r, answer_skipped);
    if (call)
        api_op_skip(call);
}

static void run_update(struct api_tool_run *r)
{
    static const char *const names[] = {"title", "title", "description", "description", NULL};
    patch(r, names, answer_updated);
}

static void run_due(struct api_tool_run *r)
{
    static const char *const names[] = {"due_at", "due_at", "time_zone", "time_zone", NULL};
    patch(r, names, answer_updated);
}

static void run_priority(struct api_tool_run *r)
{
    static const char *const names[] = {"priority", "priority", NULL};
    patch(r, names, answer_updated);
}

static void run_recurrence(struct api_tool_run *r)
{
    static const char *const names[] = {"rrule", "recurrence", "anchor", "recurrence_anchor", NULL};
    patch(r, names, answer_updated);
}

static void run_reminders(struct api_tool_run *r)
{
    static const char *const names[] = {"reminders", "reminders", NULL};
    patch(r, names, answer_updated);
}

static void run_cancel_reminders(struct api_tool_run *r)
{
    json_object_set_new(r->args, "reminders", json_array());
    run_reminders(r);
}

/* add_tags and remove_tags: read the task, write its tags with If-Match on the version
 * read; a write in between (412) starts over, twice at most. */
static void tags_read(struct api_tool_run *r, int status, json_t *body);

static void tags_written(struct api_tool_run *r, int status, json_t *body)
{
    if (status == 412 && ++r->attempts < 3) {
        struct api_call *call = op(r, tags_read);
        if (call)
            api_op_get(call);
        return;
    }
    answer_task(r, status, body, "updated");
}

static void tags_read(struct api_tool_run *r, int status, json_t *body)
{
    if (status >= 400 || !json_is_object(body)) {
        fail_problem(r, status, body);
        return;
    }
    int adding = strcmp(r->tool->name, "add_tags") == 0;
    json_t *have = json_object_get(body, "tags"), *want = json_object_get(r->args, "tags");
    json_t *tags = json_array(), *t, *w;
    size_t i, j;
    json_array_foreach(have, i, t) {
        int drop = 0;
        json_array_foreach(want, j, w)
            drop |= !adding && strcasecmp(json_string_value(t), json_string_value(w)) == 0;
        if (!drop)
            json_array_append(tags, t);
    }
    json_array_foreach(want, j, w) {
        int there = 0;
        json_array_foreach(have, i, t)
            there |= strcasecmp(json_string_value(t), json_string_value(w)) == 0;
        if (adding && !there)
            json_array_append(tags, w);
    }
    int version = (int)json_integer_value(json_object_get(body, "version"));
    struct api_call *call = op(r, tags_written);
    if (!call) {
        json_decref(tags);
        return;
    }
    call->body = json_pack("{s:o}", "tags", tags);
    call->if_match = version;
    api_op_update(call, TD_TASK_PATCH);
}

static void run_tags(struct api_tool_run *r)
{
    struct api_call *call = op(r, tags_read);
    if (call)
        api_op_get(call);
}

static const struct api_tool tools[] = {
    /* The hackathon contract's five, with its parameters. */
    {"add_task", "Create a task for the user. Returns {task_id, status: \"created\", title}.",
     OBJECT(USER_ID "," TITLE("The task's title.") "," DESCRIPTION, "\"user_id\",\"title\""),
     run_add},
    {"list_tasks", "List the user's tasks, newest first (at most 200). Returns an array of tasks.",
     OBJECT(USER_ID "," STATUS, "\"user_id\""), run_list},
    {"complete_task", "Mark a task completed (a recurring task's next occurrence follows). "
     "Returns {task_id, status: \"completed\", title}.", ON_TASK, run_complete},
    {"delete_task", "Delete a task. Returns {task_id, status: \"deleted\", title}.", ON_TASK,
     run_delete},
    {"update_task", "Change a task's title and/or description. Returns {task_id, status: "
     "\"updated\", title}.",
     OBJECT(USER_ID "," TASK_ID "," TITLE("The new title.") "," DESCRIPTION,
            "\"user_id\",\"task_id\""), run_update},
    /* The rest of the tool layer. */
    {"get_task", "Read one task with all its fields.", ON_TASK, run_get},
    {"reopen_task", "Mark a completed task pending again. Returns {task_id, status: "
     "\"reopened\", title}.", ON_TASK, run_reopen},
    {"set_due_date", "Set or clear (null) a task's due date: an RFC 3339 date-time, a date "
     "alone (all day) or a local date-time read in time_zone (else the task's zone).",
     OBJECT(USER_ID "," TASK_ID ",\"due_at\":{\"type\":[\"string\",\"null\"],\"maxLength\":64,"
            "\"description\":\"2026-12-24T17:00:00Z, 2026-12-24, 2026-12-24T17:00 or null.\"},"
            "\"time_zone\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
            "\"description\":\"IANA zone, e.g. Europe/Paris.\"}",
            "\"user_id\",\"task_id\",\"due_at\""), run_due},
    {"set_priority", "Set a task's priority.",
     OBJECT(USER_ID "," TASK_ID "," PRIORITY("The new priority."),
            "\"user_id\",\"task_id\",\"priority\""), run_priority},
    {"add_tags", "Add tags to a task (kept lower-case, each once).",
     OBJECT(USER_ID "," TASK_ID "," TAGS("Tags to add."), "\"user_id\",\"task_id\",\"tags\""),
     run_tags},
    {"remove_tags", "Remove tags from a task.",
     OBJECT(USER_ID "," TASK_ID "," TAGS("Tags to remove."), "\"user_id\",\"task_id\",\"tags\""),
     run_tags},
    {"set_recurrence", "Make a task recur (an RFC 5545 RRULE, or daily/weekly/monthly/yearly) "
     "or stop it recurring (null). anchor: schedule (the next due date follows the series) or "
     "completion (it counts from when the task is completed).",
     OBJECT(USER_ID "," TASK_ID ",\"rrule\":{\"type\":[\"string\",\"null\"],\"maxLength\":500,"
            "\"description\":\"e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TU, or null.\"},"
            "\"anchor\":{\"type\":\"string\",\"enum\":[\"schedule\",\"completion\"]}",
            "\"user_id\",\"task_id\",\"rrule\""), run_recurrence},
    {"set_reminders", "Replace a task's reminders: each an offset before the due date "
     "(ISO 8601 duration, e.g. PT30M) or a moment (RFC 3339 at), channel in_app by default.",
     OBJECT(USER_ID "," TASK_ID ",\"reminders\":{\"type\":\"array\",\"maxItems\":10,\"items\":"
            "{\"type\":\"object\",\"properties\":{\"offset\":{\"type\":\"string\",\"maxLength\":32},"
            "\"at\":{\"type\":\"string\",\"maxLength\":64},\"channel\":{\"type\":\"string\","
            "\"enum\":[\"in_app\",\"email\",\"webhook\"]}},\"additionalProperties\":false}}",
            "\"user_id\",\"task_id\",\"reminders\""), run_reminders},
    {"cancel_reminders", "Remove every reminder of a task.", ON_TASK, run_cancel_reminders},
    {"skip_occurrence", "Move a pending recurring task to its next occurrence without "
     "completing it.", ON_TASK, run_skip},
    {"search_tasks", "Find the user's tasks by words of their title, description or tags "
     "(prefixes match), best match first; optionally only some status, priority or tags.",
     OBJECT(USER_ID ",\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
            STATUS "," PRIORITY("Only tasks of this priority.") "," TAGS("Only tasks with all these tags.")
            ",\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200}",
            "\"user_id\",\"query\""), run_search},
};
#define NTOOLS (sizeof tools / sizeof tools[0])

const struct api_tool *api_tools(size_t *n)
{
    *n = NTOOLS;
    return tools;
}

static int find(const char *name)
{
    for (size_t i = 0; name && i < NTOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            return (int)i;
    return -1;
}

json_t *api_tool_schema(struct api *api, const char *name)
{
    int i = find(name);
    return i < 0 || !api->tool_schemas ? NULL : api->tool_schemas[i];
}

int api_tools_init(struct api *api)
{
    if (api->svc->metrics)
        td_metrics_describe(api->svc->metrics, "td_api_tool_calls_total", TD_METRIC_COUNTER,
                            "Tool calls (MCP, chat), by tool and outcome", NULL, 0);
    api->tool_schemas = calloc(NTOOLS, sizeof *api->tool_schemas);
    if (!api->tool_schemas)
        return -ENOMEM;
    for (size_t i = 0; i < NTOOLS; i++) {
        json_error_t e;
        if (!(api->tool_schemas[i] = json_loads(tools[i].input_schema, 0, &e))) {
            td_log_error(api->svc->log, "tool %s: bad input schema: %s", tools[i].name, e.text);
            return -EINVAL;
        }
    }
    return 0;
}

void api_tools_fini(struct api *api)
{
    for (size_t i = 0; api->tool_schemas && i < NTOOLS; i++)
        json_decref(api->tool_schemas[i]);
    free(api->tool_schemas);
    api->tool_schemas = NULL;
}

void api_tools_call(struct api *api, const char *subject, const char *name, json_t *args,
                    const struct api_tool_origin *origin, api_tool_done_fn done, void *arg)
{
    struct api_tool_run *r = calloc(1, sizeof *r);
    if (!r) {
        json_t *e = json_pack("{s:s, s:i, s:s}", "error", "overloaded", "status", 503,
                              "message", "out of memory");
        done(e, 1, arg);
        json_decref(e);
        return;
    }
    r->api = api;
    r->done = done;
    r->arg = arg;
    /* A copy: cancel_reminders adds to it, and the caller's stays as it was. */
    r->args = json_is_object(args) ? json_deep_copy(args) : json_object();
    snprintf(r->user, sizeof r->user, "%s", subject ? subject : "");
    if (origin && origin->traceparent)
        snprintf(r->traceparent, sizeof r->traceparent, "%s", origin->traceparent);
    if (origin && origin->request_id)
        snprintf(r->request_id, sizeof r->request_id, "%s", origin->request_id);
    int i = find(name);
    char err[256];
    if (i < 0) {
        snprintf(err, sizeof err, "no tool is called %.64s", name ? name : "(none)");
        fail(r, 404, "unknown-tool", err);
        return;
    }
    r->tool = &tools[i];
    if (args && !json_is_object(args)) {
        fail(r, 422, "invalid-arguments", "arguments: must be an object");
        return;
    }
    if (!r->args || api_schema_check(api->tool_schemas[i], r->args, err, sizeof err)) {
        fail(r, 422, "invalid-arguments", r->args ? err : "out of memory");
        return;
    }
    const char *user = arg_str(r, "user_id");
    if (!subject || !*subject || (user && strcmp(user, subject) != 0)) {
        fail(r, 403, "forbidden", "user_id is not the authenticated user: a tool acts only "
                                  "for the user of the token");
        return;
    }
    const char *task = arg_str(r, "task_id");
    if (task)
        snprintf(r->task_id, sizeof r->task_id, "%s", task);
    tools[i].run(r);
}

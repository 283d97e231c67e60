/* The chat engine's plan runner: an action is a plan of tool calls (api_tools_call) run one
 * after the other; each step's result is kept for the answer (t->touched), for undo (the
 * task read before a change, t->before) and for the next step (t->cur_id, t->listed).
 * Also the words the answers share: a task with its due date in the user's local time. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/datetime.h"
#include "core/tz.h"
#include "roles/api/chat_int.h"

const char *const chat_priority_names[] = {"none", "low", "medium", "high", "urgent"};

const char *chat_str(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "";
}

/* ---------- words ---------- */

int chat_due_words(json_t *task, const char *tz, char *buf, size_t n)
{
    static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *due = json_string_value(json_object_get(task, "due_at"));
    long long t;
    if (!due || td_datetime_parse_rfc3339(due, &t, NULL))
        return -ENOENT;
    int all_day = json_is_true(json_object_get(task, "all_day"));
    const char *zone = all_day ? chat_str(task, "time_zone") : tz;
    struct td_datetime_civil c;
    if (td_tz_utc_to_local(zone && *zone ? zone : "UTC", t, &c) &&
        td_tz_utc_to_local("UTC", t, &c))
        return -EINVAL;
    struct td_datetime_civil day = {c.year, c.month, c.day, 0, 0, 0};
    long long midnight;
    if (td_datetime_join(&day, &midnight))
        return -EINVAL;
    long long days = midnight / 86400;
    const char *w = wd[((days % 7) + 7) % 7];
    if (all_day) {
        snprintf(buf, n, "%s %s %d", w, mo[c.month - 1], c.day);
    } else {
        int h = c.hour % 12 ? c.hour % 12 : 12;
        snprintf(buf, n, "%s %s %d at %d:%02d %s", w, mo[c.month - 1], c.day, h, c.minute,
                 c.hour < 12 ? "AM" : "PM");
    }
    return 0;
}

/* Appends "Title" (due ...) to the reply. */
void chat_say_task(struct chat_turn *t, json_t *task)
{
    char due[64];
    td_buf_printf(&t->reply, "\"%s\"", chat_str(task, "title"));
    if (chat_due_words(task, t->tz, due, sizeof due) == 0)
        td_buf_printf(&t->reply, " (due %s)", due);
}

void chat_finish(struct chat_turn *t)
{
    t->done(t);
}

/* ---------- running a plan ---------- */

void chat_plan_add(struct chat_turn *t, const char *tool, json_t *args)
{
    if (!t->plan)
        t->plan = json_array();
    json_array_append_new(t->plan, json_pack("{s:s, s:o}", "tool", tool, "args",
                                             args ? args : json_object()));
}

static void run_next(struct chat_turn *t);

static void on_step(json_t *result, int is_error, void *arg)
{
    struct chat_turn *t = arg;
    json_t *s = json_array_get(t->plan, t->step);
    json_array_append_new(t->tool_calls, json_pack("{s:O, s:O, s:O}", "tool",
                                                   json_object_get(s, "tool"), "arguments",
                                                   json_object_get(s, "args"), "result",
                                                   result ? result : json_null()));
    if (is_error) {
        t->failed = json_incref(result);
        t->failed_tool = json_string_value(json_object_get(s, "tool"));
        t->step = json_array_size(t->plan);
        t->after(t);
        return;
    }
    const char *tool = json_string_value(json_object_get(s, "tool"));
    if (json_is_array(result)) {
        json_decref(t->listed);
        t->listed = json_incref(result);
    } else {
        const char *id = json_string_value(json_object_get(result, "task_id"));
        if (!id)
            id = json_string_value(json_object_get(result, "id"));
        if (id)
            snprintf(t->cur_id, sizeof t->cur_id, "%s", id);
        json_t *task = json_object_get(result, "task");
        if (!task && json_object_get(result, "title") && json_object_get(result, "version"))
            task = result;
        if (strcmp(tool, "get_task") == 0 && id && !json_object_get(t->before, id))
            json_object_set(t->before, id, result);
        else if (task && id)
            json_object_set(t->touched, id, task);
        else if (strcmp(tool, "delete_task") == 0 && id && json_object_get(t->before, id))
            json_object_set(t->touched, id, json_object_get(t->before, id));  /* as it was */
    }
    t->step++;
    run_next(t);
}

static void run_next(struct chat_turn *t)
{
    json_t *s = json_array_get(t->plan, t->step);
    if (!s) {
        json_decref(t->plan);
        t->plan = NULL;
        t->step = 0;
        t->after(t);
        return;
    }
    const char *tool = chat_str(s, "tool");
    json_t *args = json_object_get(s, "args");
    json_object_set_new(args, "user_id", json_string(t->user));
    if (!json_object_get(args, "task_id") && strcmp(tool, "add_task") &&
        strcmp(tool, "list_tasks") && strcmp(tool, "search_tasks"))
        json_object_set_new(args, "task_id", json_string(t->cur_id));
    struct api_tool_origin origin = {t->traceparent, t->request_id};
    /* The tool may change its arguments (cancel_reminders): it gets a copy. */
    json_t *copy = json_deep_copy(args);
    api_tools_call(t->api, t->user, tool, copy, &origin, on_step, t);
    json_decref(copy);
}

void chat_plan_run(struct chat_turn *t, void (*after)(struct chat_turn *t))
{
    t->after = after;
    t->step = 0;
    t->cur_id[0] = '\0';
    if (!t->plan)
        t->plan = json_array();
    run_next(t);
}

void chat_say_failure(struct chat_turn *t)
{
    const char *msg = chat_str(t->failed, "message");
    td_buf_printf(&t->reply, "Sorry, that didn't work: %s.", *msg ? msg : "the action failed");
}

/* ---------- steps that set a task's fields ---------- */

/* args with task_id id (when id is not NULL). */
json_t *chat_on_task(json_t *args, const char *id)
{
    if (id)
        json_object_set_new(args, "task_id", json_string(id));
    return args;
}

/* The fields the parse set, as steps on t->cur_id (after add_task, or on id). */
void chat_plan_fields(struct chat_turn *t, const char *id)
{
    struct td_nlp_result *r = &t->r;
    char buf[80];
#define ON(obj) chat_on_task(obj, id)
    if (r->has_due && td_nlp_due_format(r, buf, sizeof buf) == 0) {
        json_t *a = json_pack("{s:s}", "due_at", buf);
        if (r->all_day)
            json_object_set_new(a, "time_zone", json_string(t->tz));
        chat_plan_add(t, "set_due_date", ON(a));
    } else if (r->clear_due) {
        chat_plan_add(t, "set_due_date", ON(json_pack("{s:n}", "due_at")));
    }
    if (r->priority > 0 && r->priority <= 4)
        chat_plan_add(t, "set_priority", ON(json_pack("{s:s}", "priority", chat_priority_names[r->priority])));
    json_t *add = json_array(), *rm = json_array();
    for (int i = 0; i < r->ntags; i++)
        json_array_append_new(r->tag_remove[i] ? rm : add, json_string(r->tags[i]));
    if (json_array_size(add))
        chat_plan_add(t, "add_tags", ON(json_pack("{s:O}", "tags", add)));
    if (json_array_size(rm))
        chat_plan_add(t, "remove_tags", ON(json_pack("{s:O}", "tags", rm)));
    json_decref(add);
    json_decref(rm);
    if (r->rrule[0])
        chat_plan_add(t, "set_recurrence", ON(json_pack("{s:s, s:s}", "rrule", r->rrule, "anchor",
                                                   r->anchor_completion ? "completion" : "schedule")));
    if (r->nreminders > 0) {
        json_t *list = json_array();
        for (int i = 0; i < r->nreminders; i++) {
            if (td_nlp_reminder_format(&r->reminders[i], buf, sizeof buf) == 0)
                json_array_append_new(list, json_pack("{s:s}", r->reminders[i].at ? "at" : "offset",
                                                      buf));
        }
        chat_plan_add(t, "set_reminders", ON(json_pack("{s:o}", "reminders", list)));
    }
#undef ON
}

#define _GNU_SOURCE   /* strcasestr */
/* The chat's built-in engine: td_nlp_parse reads the message in the user's zone, the
 * stored context resolves "it", "the second one", "them all", a title is looked up among
 * the user's tasks (several matches ask back "Which one?"), deleting several tasks asks
 * for a yes first, and the last action can be undone. Each action is a plan of tool calls
 * (api_tools_call) run one after the other; the answer names the task and its due date in
 * the user's local time. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"
#include "core/tz.h"
#include "roles/api/chat.h"

#define SHOWN_MAX 50

static const char *const priority_names[] = {"none", "low", "medium", "high", "urgent"};

static const char *jstr(json_t *j, const char *k)
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
    const char *zone = all_day ? jstr(task, "time_zone") : tz;
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
static void say_task(struct chat_turn *t, json_t *task)
{
    char due[64];
    td_buf_printf(&t->reply, "\"%s\"", jstr(task, "title"));
    if (chat_due_words(task, t->tz, due, sizeof due) == 0)
        td_buf_printf(&t->reply, " (due %s)", due);
}

static void finish(struct chat_turn *t)
{
    t->done(t);
}

/* ---------- running a plan ---------- */

static void plan_add(struct chat_turn *t, const char *tool, json_t *args)
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
    const char *tool = jstr(s, "tool");
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

static void run_plan(struct chat_turn *t, void (*after)(struct chat_turn *t))
{
    t->after = after;
    t->step = 0;
    t->cur_id[0] = '\0';
    if (!t->plan)
        t->plan = json_array();
    run_next(t);
}

static void say_failure(struct chat_turn *t)
{
    const char *msg = jstr(t->failed, "message");
    td_buf_printf(&t->reply, "Sorry, that didn't work: %s.", *msg ? msg : "the action failed");
}

/* ---------- steps that set a task's fields ---------- */

static json_t *reminder_args(json_t *reminders)
{
    json_t *out = json_array(), *r;
    size_t i;
    json_array_foreach(reminders, i, r) {
        json_t *o = json_object();
        const char *keys[] = {"offset", "at", "channel"};
        for (int k = 0; k < 3; k++)
            if (json_is_string(json_object_get(r, keys[k])))
                json_object_set(o, keys[k], json_object_get(r, keys[k]));
        json_array_append_new(out, o);
    }
    return out;
}

/* args with task_id id (when id is not NULL). */
static json_t *on_task(json_t *args, const char *id)
{
    if (id)
        json_object_set_new(args, "task_id", json_string(id));
    return args;
}

/* The fields the parse set, as steps on t->cur_id (after add_task, or on id). */
static void plan_fields(struct chat_turn *t, const char *id)
{
    struct td_nlp_result *r = &t->r;
    char buf[80];
#define ON(obj) on_task(obj, id)
    if (r->has_due && td_nlp_due_format(r, buf, sizeof buf) == 0) {
        json_t *a = json_pack("{s:s}", "due_at", buf);
        if (r->all_day)
            json_object_set_new(a, "time_zone", json_string(t->tz));
        plan_add(t, "set_due_date", ON(a));
    } else if (r->clear_due) {
        plan_add(t, "set_due_date", ON(json_pack("{s:n}", "due_at")));
    }
    if (r->priority > 0 && r->priority <= 4)
        plan_add(t, "set_priority", ON(json_pack("{s:s}", "priority", priority_names[r->priority])));
    json_t *add = json_array(), *rm = json_array();
    for (int i = 0; i < r->ntags; i++)
        json_array_append_new(r->tag_remove[i] ? rm : add, json_string(r->tags[i]));
    if (json_array_size(add))
        plan_add(t, "add_tags", ON(json_pack("{s:O}", "tags", add)));
    if (json_array_size(rm))
        plan_add(t, "remove_tags", ON(json_pack("{s:O}", "tags", rm)));
    json_decref(add);
    json_decref(rm);
    if (r->rrule[0])
        plan_add(t, "set_recurrence", ON(json_pack("{s:s, s:s}", "rrule", r->rrule, "anchor",
                                                   r->anchor_completion ? "completion" : "schedule")));
    if (r->nreminders > 0) {
        json_t *list = json_array();
        for (int i = 0; i < r->nreminders; i++) {
            if (td_nlp_reminder_format(&r->reminders[i], buf, sizeof buf) == 0)
                json_array_append_new(list, json_pack("{s:s}", r->reminders[i].at ? "at" : "offset",
                                                      buf));
        }
        plan_add(t, "set_reminders", ON(json_pack("{s:o}", "reminders", list)));
    }
#undef ON
}

/* Steps that make the task (after: as it is now, or NULL for a task to recreate) what
 * before was. */
static void plan_restore(struct chat_turn *t, json_t *before, json_t *after)
{
    const char *id = after ? jstr(after, "id") : NULL;
#define ON(obj) on_task(obj, id)
#define DIFF(k) (!after || !json_equal(json_object_get(before, k), json_object_get(after, k)))
    if (!after)
        plan_add(t, "add_task", json_pack("{s:O, s:O}", "title", json_object_get(before, "title"),
                                          "description", json_object_get(before, "description")));
    else if (DIFF("title") || DIFF("description"))
        plan_add(t, "update_task", ON(json_pack("{s:O, s:O}", "title", json_object_get(before, "title"),
                                                "description", json_object_get(before, "description"))));
    json_t *due = json_object_get(before, "due_at");
    if ((after && (DIFF("due_at") || DIFF("all_day"))) || (!after && json_is_string(due))) {
        json_t *a;
        if (json_is_string(due) && json_is_true(json_object_get(before, "all_day"))) {
            char day[11];
            long long s;
            struct td_datetime_civil c;
            const char *zone = jstr(before, "time_zone");
            if (td_datetime_parse_rfc3339(json_string_value(due), &s, NULL) == 0 &&
                td_tz_utc_to_local(*zone ? zone : "UTC", s, &c) == 0)
                snprintf(day, sizeof day, "%04d-%02d-%02d", c.year, c.month, c.day);
            else
                snprintf(day, sizeof day, "%.10s", json_string_value(due));
            a = json_pack("{s:s, s:s}", "due_at", day, "time_zone", *zone ? zone : "UTC");
        } else {
            a = json_pack("{s:O}", "due_at", due ? due : json_null());
        }
        plan_add(t, "set_due_date", ON(a));
    }
    const char *prio = jstr(before, "priority");
    if (*prio && (after ? DIFF("priority") : strcmp(prio, "none") != 0))
        plan_add(t, "set_priority", ON(json_pack("{s:s}", "priority", prio)));
    json_t *bt = json_object_get(before, "tags"), *at = after ? json_object_get(after, "tags") : NULL;
    json_t *add = json_array(), *rm = json_array(), *v, *w;
    size_t i, j;
    json_array_foreach(bt, i, v) {
        int there = 0;
        json_array_foreach(at, j, w) there |= json_equal(v, w);
        if (!there)
            json_array_append(add, v);
    }
    json_array_foreach(at, j, w) {
        int there = 0;
        json_array_foreach(bt, i, v) there |= json_equal(v, w);
        if (!there)
            json_array_append(rm, w);
    }
    if (json_array_size(rm))
        plan_add(t, "remove_tags", ON(json_pack("{s:O}", "tags", rm)));
    if (json_array_size(add))
        plan_add(t, "add_tags", ON(json_pack("{s:O}", "tags", add)));
    json_decref(add);
    json_decref(rm);
    json_t *rec = json_object_get(before, "recurrence");
    if ((after && DIFF("recurrence")) || (!after && json_is_string(rec))) {
        json_t *a = json_pack("{s:O}", "rrule", rec ? rec : json_null());
        const char *anchor = jstr(before, "recurrence_anchor");
        if (json_is_string(rec) && (!strcmp(anchor, "schedule") || !strcmp(anchor, "completion")))
            json_object_set_new(a, "anchor", json_string(anchor));
        plan_add(t, "set_recurrence", ON(a));
    }
    json_t *rem = json_object_get(before, "reminders");
    if ((after && DIFF("reminders")) || (!after && json_array_size(rem)))
        plan_add(t, "set_reminders", ON(json_pack("{s:o}", "reminders", reminder_args(rem))));
#undef DIFF
#undef ON
}

/* ---------- context ---------- */

static json_t *ref_of(json_t *task)
{
    return json_pack("{s:O, s:O}", "id", json_object_get(task, "id"), "title",
                     json_object_get(task, "title"));
}

static void set_focus(struct chat_turn *t, json_t *task)
{
    json_object_set_new(t->ctx, "focus", ref_of(task));
}

static void remember(struct chat_turn *t, const char *action, json_t *ids, json_t *before)
{
    json_object_set_new(t->ctx, "last", json_pack("{s:s, s:O, s:o}", "action", action, "ids", ids,
                                                  "before", before ? json_incref(before) : json_object()));
}

/* ---------- add ---------- */

static void added(struct chat_turn *t)
{
    json_t *task = json_object_get(t->touched, t->cur_id);
    if (!task) {
        say_failure(t);
        finish(t);
        return;
    }
    json_array_append(t->tasks, task);
    td_buf_puts(&t->reply, "Added ");
    say_task(t, task);
    const char *rec = json_string_value(json_object_get(task, "recurrence"));
    if (rec)
        td_buf_printf(&t->reply, ", repeating (%s)", rec);
    const char *prio = jstr(task, "priority");
    if (*prio && strcmp(prio, "none"))
        td_buf_printf(&t->reply, ", %s priority", prio);
    json_t *tags = json_object_get(task, "tags"), *v;
    size_t i;
    json_array_foreach(tags, i, v) td_buf_printf(&t->reply, " #%s", json_string_value(v));
    if (json_array_size(json_object_get(task, "reminders")))
        td_buf_puts(&t->reply, ", with a reminder");
    td_buf_puts(&t->reply, ".");
    if (t->failed) {
        const char *msg = jstr(t->failed, "message");
        td_buf_printf(&t->reply, " But I couldn't set everything (%s): %s.",
                      t->failed_tool ? t->failed_tool : "a tool", *msg ? msg : "it failed");
    }
    set_focus(t, task);
    json_t *ids = json_pack("[s]", t->cur_id);
    remember(t, "add", ids, NULL);
    json_decref(ids);
    finish(t);
}

static void do_add(struct chat_turn *t)
{
    if (t->r.flags & TD_NLP_F_NO_TITLE || !t->r.title[0]) {
        td_buf_puts(&t->reply, "What should the task be called?");
        finish(t);
        return;
    }
    plan_add(t, "add_task", json_pack("{s:s}", "title", t->r.title));
    plan_fields(t, NULL);
    run_plan(t, added);
}

/* ---------- list ---------- */

static int prio_num(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, priority_names[i]) == 0)
            return i;
    return 0;
}

static int matches(struct chat_turn *t, json_t *task, const struct td_nlp_filter *f)
{
    if (f->priority && prio_num(jstr(task, "priority")) != f->priority)
        return 0;
    if (f->tag[0]) {
        int has = 0;
        json_t *v;
        size_t i;
        json_array_foreach(json_object_get(task, "tags"), i, v)
            has |= strcasecmp(json_string_value(v), f->tag) == 0;
        if (!has)
            return 0;
    }
    long long due;
    const char *d = json_string_value(json_object_get(task, "due_at"));
    int has_due = d && td_datetime_parse_rfc3339(d, &due, NULL) == 0;
    switch (f->due) {
    case TD_NLP_DUE_ANY:
        return 1;
    case TD_NLP_DUE_NONE:
        return !has_due;
    case TD_NLP_DUE_OVERDUE:
        return has_due && due < t->now_ms / 1000 && strcmp(jstr(task, "status"), "pending") == 0;
    default:
        return has_due && due >= f->due_from && due < f->due_to;
    }
}

static int filter_empty(const struct td_nlp_filter *f)
{
    return f->status == TD_NLP_STATUS_ANY && f->due == TD_NLP_DUE_ANY && !f->priority && !f->tag[0];
}

static const char *status_arg(enum td_nlp_status s, const char *any)
{
    return s == TD_NLP_STATUS_PENDING ? "pending" : s == TD_NLP_STATUS_COMPLETED ? "completed"
         : s == TD_NLP_STATUS_ALL ? "all" : any;
}

static void listed(struct chat_turn *t)
{
    if (t->failed) {
        say_failure(t);
        finish(t);
        return;
    }
    json_t *shown = json_array(), *task;
    size_t i;
    json_array_foreach(t->listed, i, task) {
        if (matches(t, task, &t->r.filter) && json_array_size(shown) < SHOWN_MAX) {
            json_array_append(t->tasks, task);
            json_array_append_new(shown, ref_of(task));
        }
    }
    size_t n = json_array_size(t->tasks);
    if (n == 0)
        td_buf_puts(&t->reply, t->r.intent == TD_NLP_SEARCH ? "No task matches that."
                                                             : "Nothing there - you're all clear.");
    else
        td_buf_printf(&t->reply, "%s %zu task%s:", t->r.intent == TD_NLP_SEARCH ? "Found" : "You have",
                      n, n == 1 ? "" : "s");
    json_array_foreach(t->tasks, i, task) {
        td_buf_printf(&t->reply, "\n%zu. ", i + 1);
        say_task(t, task);
        if (strcmp(jstr(task, "status"), "completed") == 0)
            td_buf_puts(&t->reply, " - done");
    }
    json_object_set_new(t->ctx, "shown", shown);
    if (n == 1)
        set_focus(t, json_array_get(t->tasks, 0));
    finish(t);
}

static void do_list(struct chat_turn *t)
{
    if (t->r.intent == TD_NLP_SEARCH && t->r.title[0])
        plan_add(t, "search_tasks", json_pack("{s:s, s:s}", "query", t->r.title, "status",
                                              status_arg(t->r.filter.status, "all")));
    else
        plan_add(t, "list_tasks", json_pack("{s:s}", "status",
                                            status_arg(t->r.filter.status, "pending")));
    run_plan(t, listed);
}

/* ---------- actions on tasks ---------- */

static const char *past_tense(enum td_nlp_intent i)
{
    switch (i) {
    case TD_NLP_COMPLETE: return "Completed";
    case TD_NLP_REOPEN: return "Reopened";
    case TD_NLP_DELETE: return "Deleted";
    case TD_NLP_REMIND: return "Set a reminder on";
    case TD_NLP_UNREMIND: return "Cancelled the reminders of";
    case TD_NLP_SKIP: return "Skipped to the next occurrence of";
    default: return "Updated";
    }
}

static void acted(struct chat_turn *t)
{
    json_t *ref, *ids = json_array();
    size_t i, done = 0;
    json_array_foreach(t->targets, i, ref) {
        const char *id = jstr(ref, "id");
        json_t *task = json_object_get(t->touched, id);
        if (!task)
            continue;
        json_array_append(t->tasks, task);
        json_array_append_new(ids, json_string(id));
        done++;
    }
    if (done == 1) {
        td_buf_printf(&t->reply, "%s ", past_tense(t->r.intent));
        say_task(t, json_array_get(t->tasks, 0));
        td_buf_puts(&t->reply, ".");
        if (t->r.intent != TD_NLP_DELETE)
            set_focus(t, json_array_get(t->tasks, 0));
        else
            json_object_del(t->ctx, "focus");
    } else if (done > 1) {
        td_buf_printf(&t->reply, "%s %zu tasks.", past_tense(t->r.intent), done);
    }
    if (t->failed) {
        td_buf_puts(&t->reply, done ? " " : "");
        say_failure(t);
    }
    const char *action = t->r.intent == TD_NLP_COMPLETE ? "complete"
                       : t->r.intent == TD_NLP_REOPEN ? "reopen"
                       : t->r.intent == TD_NLP_DELETE ? "delete"
                       : t->r.intent == TD_NLP_SKIP ? NULL : "update";
    if (done && action)
        remember(t, action, ids, t->before);
    else if (done)   /* a skip cannot be undone: nor can what came before it, now */
        json_object_del(t->ctx, "last");
    json_decref(ids);
    finish(t);
}

static void act(struct chat_turn *t)
{
    json_t *ref;
    size_t i;
    enum td_nlp_intent in = t->r.intent;
    json_array_foreach(t->targets, i, ref) {
        const char *id = jstr(ref, "id");
        json_t *on = json_pack("{s:s}", "task_id", id);
        switch (in) {
        case TD_NLP_COMPLETE: plan_add(t, "complete_task", on); break;
        case TD_NLP_REOPEN: plan_add(t, "reopen_task", on); break;
        case TD_NLP_DELETE:
            plan_add(t, "get_task", on);
            plan_add(t, "delete_task", json_pack("{s:s}", "task_id", id));
            break;
        case TD_NLP_UNREMIND:   /* read first: undo puts the reminders back */
            plan_add(t, "get_task", on);
            plan_add(t, "cancel_reminders", json_pack("{s:s}", "task_id", id));
            break;
        case TD_NLP_SKIP: plan_add(t, "skip_occurrence", on); break;
        default: {  /* update, remind */
            plan_add(t, "get_task", on);
            size_t before = json_array_size(t->plan);
            if (in == TD_NLP_UPDATE && (t->r.title[0] || t->r.description[0])) {
                json_t *a = json_pack("{s:s}", "task_id", id);
                if (t->r.title[0])
                    json_object_set_new(a, "title", json_string(t->r.title));
                if (t->r.description[0])
                    json_object_set_new(a, "description", json_string(t->r.description));
                plan_add(t, "update_task", a);
            }
            plan_fields(t, id);
            if (json_array_size(t->plan) == before) {
                json_decref(t->plan);
                t->plan = NULL;
                td_buf_puts(&t->reply, "What should I change? Say e.g. \"move it to friday\" or "
                                       "\"rename it to ...\".");
                finish(t);
                return;
            }
        }
        }
    }
    run_plan(t, acted);
}

/* Several tasks to delete: ask first. */
static void confirm_delete(struct chat_turn *t)
{
    size_t n = json_array_size(t->targets);
    td_buf_printf(&t->reply, "Delete these %zu tasks?", n);
    json_t *ref;
    size_t i;
    json_array_foreach(t->targets, i, ref) td_buf_printf(&t->reply, "\n%zu. \"%s\"", i + 1,
                                                          jstr(ref, "title"));
    td_buf_puts(&t->reply, "\nSay yes to delete them.");
    json_object_set_new(t->ctx, "pending", json_pack("{s:s, s:O}", "kind", "confirm", "targets",
                                                     t->targets));
    finish(t);
}

static void with_targets(struct chat_turn *t)
{
    if (json_array_size(t->targets) == 0) {
        td_buf_puts(&t->reply, "I couldn't find that task.");
        finish(t);
        return;
    }
    if (t->r.intent == TD_NLP_DELETE && json_array_size(t->targets) > 1)
        confirm_delete(t);
    else
        act(t);
}

/* The list for a title or "all ..." reference has arrived. */
static void looked_up(struct chat_turn *t)
{
    if (t->failed) {
        say_failure(t);
        finish(t);
        return;
    }
    json_t *task, *found = json_array(), *preferred = json_array();
    size_t i;
    const char *want = t->r.intent == TD_NLP_COMPLETE ? "pending"
                     : t->r.intent == TD_NLP_REOPEN ? "completed" : NULL;
    json_array_foreach(t->listed, i, task) {
        int hit = t->r.target == TD_NLP_TARGET_ALL
                      ? matches(t, task, &t->r.filter)
                      : strcasestr(jstr(task, "title"), t->r.target_text) != NULL;
        if (!hit)
            continue;
        json_array_append_new(found, ref_of(task));
        if (want && strcmp(jstr(task, "status"), want) == 0)
            json_array_append_new(preferred, ref_of(task));
    }
    if (want && json_array_size(preferred)) {
        json_decref(found);
        found = preferred;
    } else {
        json_decref(preferred);
    }
    json_decref(t->listed);
    t->listed = NULL;
    json_decref(t->targets);
    t->targets = found;
    if (t->r.target == TD_NLP_TARGET_TEXT && json_array_size(found) == 0) {
        td_buf_printf(&t->reply, "I couldn't find a task called \"%s\".", t->r.target_text);
        finish(t);
        return;
    }
    if (t->r.target == TD_NLP_TARGET_TEXT && json_array_size(found) > 1) {
        td_buf_puts(&t->reply, "Which one:");
        json_array_foreach(found, i, task) td_buf_printf(&t->reply, " %zu. %s", i + 1,
                                                          jstr(task, "title"));
        td_buf_puts(&t->reply, "?");
        json_object_set_new(t->ctx, "pending", json_pack("{s:s, s:s, s:O}", "kind", "choose",
                                                         "message", t->message, "options", found));
        json_object_set(t->ctx, "shown", found);
        finish(t);
        return;
    }
    with_targets(t);
}

static void do_action(struct chat_turn *t)
{
    json_t *shown = json_object_get(t->ctx, "shown");
    json_t *focus = json_object_get(t->ctx, "focus");
    t->targets = json_array();
    if (t->forced_id[0]) {
        json_array_append_new(t->targets, json_pack("{s:s, s:s}", "id", t->forced_id, "title", ""));
        act(t);
        return;
    }
    switch (t->r.target) {
    case TD_NLP_TARGET_ORDINAL:
    case TD_NLP_TARGET_LAST: {
        size_t n = json_array_size(shown);
        size_t k = t->r.target == TD_NLP_TARGET_LAST ? n : (size_t)t->r.ordinal;
        if (k < 1 || k > n) {
            td_buf_puts(&t->reply, n ? "There's no such task in the last list."
                                     : "Which task? Ask me to show your tasks first.");
            finish(t);
            return;
        }
        json_array_append(t->targets, json_array_get(shown, k - 1));
        break;
    }
    case TD_NLP_TARGET_ALL:
        if (filter_empty(&t->r.filter) && json_array_size(shown)) {
            json_array_extend(t->targets, shown);
            break;
        }
        plan_add(t, "list_tasks", json_pack("{s:s}", "status", status_arg(t->r.filter.status,
                 t->r.intent == TD_NLP_COMPLETE ? "pending"
                 : t->r.intent == TD_NLP_REOPEN ? "completed" : "all")));
        run_plan(t, looked_up);
        return;
    case TD_NLP_TARGET_TEXT:
        plan_add(t, "list_tasks", json_pack("{s:s}", "status", "all"));
        run_plan(t, looked_up);
        return;
    default:   /* "it", or nothing said */
        if (focus)
            json_array_append(t->targets, focus);
        else if (json_array_size(shown) == 1)
            json_array_append(t->targets, json_array_get(shown, 0));
        else {
            td_buf_puts(&t->reply, "Which task do you mean?");
            finish(t);
            return;
        }
    }
    with_targets(t);
}

/* ---------- undo ---------- */

static void undone(struct chat_turn *t)
{
    if (t->failed) {
        say_failure(t);
    } else {
        json_t *last = json_object_get(t->ctx, "last");
        const char *action = jstr(last, "action");
        size_t n = json_array_size(json_object_get(last, "ids"));
        const char *what = !strcmp(action, "add") ? "the new task is gone"
                         : !strcmp(action, "complete") ? "back to pending"
                         : !strcmp(action, "reopen") ? "completed again"
                         : !strcmp(action, "delete") ? "restored" : "changes reverted";
        const char *key;
        json_t *task;
        json_object_foreach(t->touched, key, task) json_array_append(t->tasks, task);
        if (n == 1 && json_array_size(t->tasks) == 1) {
            td_buf_puts(&t->reply, "Undone: ");
            say_task(t, json_array_get(t->tasks, 0));
            td_buf_printf(&t->reply, " %s.", !strcmp(action, "delete") ? "is back" : what);
            set_focus(t, json_array_get(t->tasks, 0));
        } else {
            td_buf_printf(&t->reply, "Undone (%zu task%s): %s.", n, n == 1 ? "" : "s", what);
        }
    }
    json_object_del(t->ctx, "last");
    finish(t);
}

/* Undo of an update: each task has been read (t->before); restore what differs. */
static void undo_read(struct chat_turn *t)
{
    if (t->failed) {
        undone(t);
        return;
    }
    json_t *last = json_object_get(t->ctx, "last");
    json_t *was = json_object_get(last, "before"), *v;
    size_t i, known = 0;
    json_array_foreach(json_object_get(last, "ids"), i, v) {
        json_t *now = json_object_get(t->before, json_string_value(v));
        json_t *then = json_object_get(was, json_string_value(v));
        if (now && then) {
            plan_restore(t, then, now);
            known++;
        }
    }
    if (!known) {
        json_object_del(t->ctx, "last");
        td_buf_puts(&t->reply, "I can't undo that one: I don't know what it was before.");
        finish(t);
        return;
    }
    run_plan(t, undone);
}

static void do_undo(struct chat_turn *t)
{
    json_t *last = json_object_get(t->ctx, "last");
    if (!last) {
        td_buf_puts(&t->reply, "There's nothing to undo.");
        finish(t);
        return;
    }
    const char *action = jstr(last, "action");
    json_t *ids = json_object_get(last, "ids"), *before = json_object_get(last, "before"), *v;
    size_t i;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        json_t *on = json_pack("{s:s}", "task_id", id);
        if (!strcmp(action, "add")) {
            plan_add(t, "delete_task", on);
        } else if (!strcmp(action, "complete")) {
            plan_add(t, "reopen_task", on);
        } else if (!strcmp(action, "reopen")) {
            plan_add(t, "complete_task", on);
        } else if (!strcmp(action, "delete")) {
            json_decref(on);
            plan_restore(t, json_object_get(before, id), NULL);
        } else {
            plan_add(t, "get_task", on);   /* the restore changes only what differs now */
        }
    }
    run_plan(t, strcmp(action, "update") ? undone : undo_read);
}

/* ---------- entry ---------- */

static int yes(const char *s)
{
    static const char *const words[] = {"yes", "y", "yes please", "yep", "yeah", "sure",
                                        "confirm", "do it", "ok", "okay", NULL};
    char w[32];
    size_t n = 0;
    for (; *s && n + 1 < sizeof w; s++)
        if (!strchr(".!", *s))
            w[n++] = (char)tolower((unsigned char)*s);
    w[n] = '\0';
    while (n && w[n - 1] == ' ')
        w[--n] = '\0';
    char *p = w;
    while (*p == ' ')
        p++;
    for (int i = 0; words[i]; i++)
        if (strcmp(p, words[i]) == 0)
            return 1;
    return 0;
}

/* The choice in an answer to "Which one?" ("2", "the second", "the last one", or an
 * option's title): 1-based, or 0. */
static int choice(struct chat_turn *t, json_t *options)
{
    static const char *const ord[] = {"first", "second", "third", "fourth", "fifth", "sixth",
                                      "seventh", "eighth", "ninth", "tenth", NULL};
    static const char *const nth[] = {"1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th",
                                      "9th", "10th", NULL};
    size_t n = json_array_size(options);
    char w[64];
    size_t len = 0;
    for (const char *p = t->message; *p && len + 1 < sizeof w; p++)
        if (!strchr(".!?#", *p))
            w[len++] = (char)tolower((unsigned char)*p);
    w[len] = '\0';
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(w, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strcmp(tok, "the") || !strcmp(tok, "one") || !strcmp(tok, "number") ||
            !strcmp(tok, "no") || !strcmp(tok, "please"))
            continue;
        int got = 0;
        char *end;
        long v = strtol(tok, &end, 10);
        if (end != tok && !*end)
            got = (int)v;
        for (int i = 0; ord[i] && !got; i++)
            if (!strcmp(tok, ord[i]) || !strcmp(tok, nth[i]))
                got = i + 1;
        if (!got && !strcmp(tok, "last"))
            got = (int)n;
        if (!got || k)
            return 0;   /* another word: not (only) a choice */
        k = got;
    }
    if (k >= 1 && (size_t)k <= n)
        return k;
    json_t *o;
    size_t i;
    json_array_foreach(options, i, o)
        if (strcasecmp(jstr(o, "title"), t->message) == 0)
            return (int)i + 1;
    return 0;
}

static void dispatch(struct chat_turn *t)
{
    struct td_nlp_result *r = &t->r;
    if (r->flags & TD_NLP_F_SMALLTALK) {
        td_buf_puts(&t->reply, "You're welcome! Tell me whenever you need something done.");
        finish(t);
        return;
    }
    /* "remind me at 8am" names no task: the one the conversation is about. */
    if (r->intent == TD_NLP_ADD && (r->flags & TD_NLP_F_NO_TITLE) && r->nreminders > 0 &&
        json_object_get(t->ctx, "focus")) {
        r->intent = TD_NLP_REMIND;
        r->target = TD_NLP_TARGET_IT;
    }
    /* "the second one" alone is a reference, not a task to add: it becomes "it". */
    if (r->intent == TD_NLP_ADD && (r->flags & TD_NLP_F_GUESSED_ADD)) {
        json_t *shown = json_object_get(t->ctx, "shown");
        int k = choice(t, shown);
        if (k > 0) {
            json_t *task = json_array_get(shown, (size_t)k - 1);
            set_focus(t, task);
            td_buf_printf(&t->reply, "What should I do with \"%s\"? You can complete, delete, "
                          "move or rename it.", jstr(task, "title"));
            finish(t);
            return;
        }
    }
    switch (r->intent) {
    case TD_NLP_ADD: do_add(t); return;
    case TD_NLP_LIST:
    case TD_NLP_SEARCH: do_list(t); return;
    case TD_NLP_UNDO: do_undo(t); return;
    case TD_NLP_HELP:
        td_buf_puts(&t->reply, "I can add tasks (\"add call mom tomorrow at 9 #family\"), list "
                    "them (\"what's due this week?\"), complete, reopen, rename, move or delete "
                    "them (\"mark it done\", \"delete the second one\"), set reminders (\"remind "
                    "me 30 minutes before\") and undo the last change.");
        finish(t);
        return;
    case TD_NLP_UNKNOWN:
        td_buf_puts(&t->reply, "Sorry, I didn't get that. Try \"add buy milk tomorrow at 9\" or "
                    "\"help\".");
        finish(t);
        return;
    default: do_action(t); return;
    }
}

static int parse(struct chat_turn *t, const char *text)
{
    int rc = td_nlp_parse(text, strlen(text), t->now_ms, t->tz, &t->r);
    if (rc == -ENOENT)
        rc = td_nlp_parse(text, strlen(text), t->now_ms, "UTC", &t->r);
    return rc;
}

void chat_engine_run(struct chat_turn *t)
{
    t->touched = json_object();
    t->before = json_object();
    json_t *pending = json_incref(json_object_get(t->ctx, "pending"));
    json_object_del(t->ctx, "pending");
    const char *kind = jstr(pending, "kind");
    if (!strcmp(kind, "confirm")) {
        if (yes(t->message)) {
            memset(&t->r, 0, sizeof t->r);
            t->r.intent = TD_NLP_DELETE;
            t->targets = json_incref(json_object_get(pending, "targets"));
            json_decref(pending);
            act(t);
        } else {
            json_decref(pending);
            td_buf_puts(&t->reply, "OK, I deleted nothing.");
            finish(t);
        }
        return;
    }
    if (!strcmp(kind, "choose")) {
        json_t *options = json_object_get(pending, "options");
        int k = choice(t, options);
        if (k > 0 && parse(t, jstr(pending, "message")) == 0) {
            snprintf(t->forced_id, sizeof t->forced_id, "%s",
                     jstr(json_array_get(options, (size_t)k - 1), "id"));
            json_decref(pending);
            dispatch(t);
            return;
        }
    }
    json_decref(pending);
    if (parse(t, t->message)) {
        td_buf_puts(&t->reply, "Sorry, I couldn't read that message.");
        finish(t);
        return;
    }
    dispatch(t);
}

void chat_engine_clear(struct chat_turn *t)
{
    json_decref(t->plan);
    json_decref(t->touched);
    json_decref(t->before);
    json_decref(t->listed);
    json_decref(t->targets);
    json_decref(t->failed);
    t->plan = t->touched = t->before = t->listed = t->targets = t->failed = NULL;
}

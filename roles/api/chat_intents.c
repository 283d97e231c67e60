/* The chat engine's intents: add (a task and the fields the message set), list and search
 * (filtered here, so "what's overdue?" needs no tool of its own), and the actions on tasks
 * chat_refs.c resolved (complete, reopen, delete, update, reminders, skip). Each plans its
 * tool calls and words the answer once they ran. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"
#include "roles/api/chat_int.h"

/* A list answer shows (and the context remembers) at most this many tasks. */
#define SHOWN_MAX 50

/* ---------- add ---------- */

static void added(struct chat_turn *t)
{
    json_t *task = json_object_get(t->touched, t->cur_id);
    if (!task) {
        chat_say_failure(t);
        chat_finish(t);
        return;
    }
    json_array_append(t->tasks, task);
    td_buf_puts(&t->reply, "Added ");
    chat_say_task(t, task);
    const char *rec = json_string_value(json_object_get(task, "recurrence"));
    if (rec)
        td_buf_printf(&t->reply, ", repeating (%s)", rec);
    const char *prio = chat_str(task, "priority");
    if (*prio && strcmp(prio, "none"))
        td_buf_printf(&t->reply, ", %s priority", prio);
    json_t *tags = json_object_get(task, "tags"), *v;
    size_t i;
    json_array_foreach(tags, i, v) td_buf_printf(&t->reply, " #%s", json_string_value(v));
    if (json_array_size(json_object_get(task, "reminders")))
        td_buf_puts(&t->reply, ", with a reminder");
    td_buf_puts(&t->reply, ".");
    if (t->failed) {
        const char *msg = chat_str(t->failed, "message");
        td_buf_printf(&t->reply, " But I couldn't set everything (%s): %s.",
                      t->failed_tool ? t->failed_tool : "a tool", *msg ? msg : "it failed");
    }
    chat_set_focus(t, task);
    json_t *ids = json_pack("[s]", t->cur_id);
    chat_remember(t, "add", ids, NULL);
    json_decref(ids);
    chat_finish(t);
}

void chat_add(struct chat_turn *t)
{
    if (t->r.flags & TD_NLP_F_NO_TITLE || !t->r.title[0]) {
        td_buf_puts(&t->reply, "What should the task be called?");
        chat_finish(t);
        return;
    }
    chat_plan_add(t, "add_task", json_pack("{s:s}", "title", t->r.title));
    chat_plan_fields(t, NULL);
    chat_plan_run(t, added);
}

/* ---------- list ---------- */

static int prio_num(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, chat_priority_names[i]) == 0)
            return i;
    return 0;
}

int chat_filter_matches(struct chat_turn *t, json_t *task, const struct td_nlp_filter *f)
{
    if (f->priority && prio_num(chat_str(task, "priority")) != f->priority)
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
        return has_due && due < t->now_ms / 1000 && strcmp(chat_str(task, "status"), "pending") == 0;
    default:
        return has_due && due >= f->due_from && due < f->due_to;
    }
}

int chat_filter_empty(const struct td_nlp_filter *f)
{
    return f->status == TD_NLP_STATUS_ANY && f->due == TD_NLP_DUE_ANY && !f->priority && !f->tag[0];
}

const char *chat_status_arg(enum td_nlp_status s, const char *any)
{
    return s == TD_NLP_STATUS_PENDING ? "pending" : s == TD_NLP_STATUS_COMPLETED ? "completed"
         : s == TD_NLP_STATUS_ALL ? "all" : any;
}

static void listed(struct chat_turn *t)
{
    if (t->failed) {
        chat_say_failure(t);
        chat_finish(t);
        return;
    }
    json_t *shown = json_array(), *task;
    size_t i;
    json_array_foreach(t->listed, i, task) {
        if (chat_filter_matches(t, task, &t->r.filter) && json_array_size(shown) < SHOWN_MAX) {
            json_array_append(t->tasks, task);
            json_array_append_new(shown, chat_ref_of(task));
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
        chat_say_task(t, task);
        if (strcmp(chat_str(task, "status"), "completed") == 0)
            td_buf_puts(&t->reply, " - done");
    }
    json_object_set_new(t->ctx, "shown", shown);
    if (n == 1)
        chat_set_focus(t, json_array_get(t->tasks, 0));
    chat_finish(t);
}

void chat_list(struct chat_turn *t)
{
    if (t->r.intent == TD_NLP_SEARCH && t->r.title[0])
        chat_plan_add(t, "search_tasks", json_pack("{s:s, s:s}", "query", t->r.title, "status",
                                              chat_status_arg(t->r.filter.status, "all")));
    else
        chat_plan_add(t, "list_tasks", json_pack("{s:s}", "status",
                                            chat_status_arg(t->r.filter.status, "pending")));
    chat_plan_run(t, listed);
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
        const char *id = chat_str(ref, "id");
        json_t *task = json_object_get(t->touched, id);
        if (!task)
            continue;
        json_array_append(t->tasks, task);
        json_array_append_new(ids, json_string(id));
        done++;
    }
    if (done == 1) {
        td_buf_printf(&t->reply, "%s ", past_tense(t->r.intent));
        chat_say_task(t, json_array_get(t->tasks, 0));
        td_buf_puts(&t->reply, ".");
        if (t->r.intent != TD_NLP_DELETE)
            chat_set_focus(t, json_array_get(t->tasks, 0));
        else
            json_object_del(t->ctx, "focus");
    } else if (done > 1) {
        td_buf_printf(&t->reply, "%s %zu tasks.", past_tense(t->r.intent), done);
    }
    if (t->failed) {
        td_buf_puts(&t->reply, done ? " " : "");
        chat_say_failure(t);
    }
    const char *action = t->r.intent == TD_NLP_COMPLETE ? "complete"
                       : t->r.intent == TD_NLP_REOPEN ? "reopen"
                       : t->r.intent == TD_NLP_DELETE ? "delete"
                       : t->r.intent == TD_NLP_SKIP ? NULL : "update";
    if (done && action)
        chat_remember(t, action, ids, t->before);
    else if (done)   /* a skip cannot be undone: nor can what came before it, now */
        json_object_del(t->ctx, "last");
    json_decref(ids);
    chat_finish(t);
}

void chat_act(struct chat_turn *t)
{
    json_t *ref;
    size_t i;
    enum td_nlp_intent in = t->r.intent;
    json_array_foreach(t->targets, i, ref) {
        const char *id = chat_str(ref, "id");
        json_t *on = json_pack("{s:s}", "task_id", id);
        switch (in) {
        case TD_NLP_COMPLETE: chat_plan_add(t, "complete_task", on); break;
        case TD_NLP_REOPEN: chat_plan_add(t, "reopen_task", on); break;
        case TD_NLP_DELETE:
            chat_plan_add(t, "get_task", on);
            chat_plan_add(t, "delete_task", json_pack("{s:s}", "task_id", id));
            break;
        case TD_NLP_UNREMIND:   /* read first: undo puts the reminders back */
            chat_plan_add(t, "get_task", on);
            chat_plan_add(t, "cancel_reminders", json_pack("{s:s}", "task_id", id));
            break;
        case TD_NLP_SKIP: chat_plan_add(t, "skip_occurrence", on); break;
        default: {  /* update, remind */
            chat_plan_add(t, "get_task", on);
            size_t before = json_array_size(t->plan);
            if (in == TD_NLP_UPDATE && (t->r.title[0] || t->r.description[0])) {
                json_t *a = json_pack("{s:s}", "task_id", id);
                if (t->r.title[0])
                    json_object_set_new(a, "title", json_string(t->r.title));
                if (t->r.description[0])
                    json_object_set_new(a, "description", json_string(t->r.description));
                chat_plan_add(t, "update_task", a);
            }
            chat_plan_fields(t, id);
            if (json_array_size(t->plan) == before) {
                json_decref(t->plan);
                t->plan = NULL;
                td_buf_puts(&t->reply, "What should I change? Say e.g. \"move it to friday\" or "
                                       "\"rename it to ...\".");
                chat_finish(t);
                return;
            }
        }
        }
    }
    chat_plan_run(t, acted);
}

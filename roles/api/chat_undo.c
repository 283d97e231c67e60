/* The chat engine's undo: each change remembers its action, the tasks' ids and the tasks
 * as they were (ctx "last"); undo plans the inverse tool calls (an update restores only
 * the fields that differ now, a delete recreates the task). */
#include <stdio.h>
#include <string.h>

#include "core/datetime.h"
#include "core/tz.h"
#include "roles/api/chat_int.h"

/* A task's reminders as set_reminders takes them (without their ids and states). */
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

/* Steps that make the task (after: as it is now, or NULL for a task to recreate) what
 * before was. */
static void plan_restore(struct chat_turn *t, json_t *before, json_t *after)
{
    const char *id = after ? chat_str(after, "id") : NULL;
#define ON(obj) chat_on_task(obj, id)
#define DIFF(k) (!after || !json_equal(json_object_get(before, k), json_object_get(after, k)))
    if (!after)
        chat_plan_add(t, "add_task", json_pack("{s:O, s:O}", "title", json_object_get(before, "title"),
                                          "description", json_object_get(before, "description")));
    else if (DIFF("title") || DIFF("description"))
        chat_plan_add(t, "update_task", ON(json_pack("{s:O, s:O}", "title", json_object_get(before, "title"),
                                                "description", json_object_get(before, "description"))));
    json_t *due = json_object_get(before, "due_at");
    if ((after && (DIFF("due_at") || DIFF("all_day"))) || (!after && json_is_string(due))) {
        json_t *a;
        if (json_is_string(due) && json_is_true(json_object_get(before, "all_day"))) {
            char day[11];
            long long s;
            struct td_datetime_civil c;
            const char *zone = chat_str(before, "time_zone");
            if (td_datetime_parse_rfc3339(json_string_value(due), &s, NULL) == 0 &&
                td_tz_utc_to_local(*zone ? zone : "UTC", s, &c) == 0)
                snprintf(day, sizeof day, "%04d-%02d-%02d", c.year, c.month, c.day);
            else
                snprintf(day, sizeof day, "%.10s", json_string_value(due));
            a = json_pack("{s:s, s:s}", "due_at", day, "time_zone", *zone ? zone : "UTC");
        } else {
            a = json_pack("{s:O}", "due_at", due ? due : json_null());
        }
        chat_plan_add(t, "set_due_date", ON(a));
    }
    const char *prio = chat_str(before, "priority");
    if (*prio && (after ? DIFF("priority") : strcmp(prio, "none") != 0))
        chat_plan_add(t, "set_priority", ON(json_pack("{s:s}", "priority", prio)));
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
        chat_plan_add(t, "remove_tags", ON(json_pack("{s:O}", "tags", rm)));
    if (json_array_size(add))
        chat_plan_add(t, "add_tags", ON(json_pack("{s:O}", "tags", add)));
    json_decref(add);
    json_decref(rm);
    json_t *rec = json_object_get(before, "recurrence");
    if ((after && DIFF("recurrence")) || (!after && json_is_string(rec))) {
        json_t *a = json_pack("{s:O}", "rrule", rec ? rec : json_null());
        const char *anchor = chat_str(before, "recurrence_anchor");
        if (json_is_string(rec) && (!strcmp(anchor, "schedule") || !strcmp(anchor, "completion")))
            json_object_set_new(a, "anchor", json_string(anchor));
        chat_plan_add(t, "set_recurrence", ON(a));
    }
    json_t *rem = json_object_get(before, "reminders");
    if ((after && DIFF("reminders")) || (!after && json_array_size(rem)))
        chat_plan_add(t, "set_reminders", ON(json_pack("{s:o}", "reminders", reminder_args(rem))));
#undef DIFF
#undef ON
}

void chat_remember(struct chat_turn *t, const char *action, json_t *ids, json_t *before)
{
    json_object_set_new(t->ctx, "last", json_pack("{s:s, s:O, s:o}", "action", action, "ids", ids,
                                                  "before", before ? json_incref(before) : json_object()));
}

/* ---------- undo ---------- */

static void undone(struct chat_turn *t)
{
    if (t->failed) {
        chat_say_failure(t);
    } else {
        json_t *last = json_object_get(t->ctx, "last");
        const char *action = chat_str(last, "action");
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
            chat_say_task(t, json_array_get(t->tasks, 0));
            td_buf_printf(&t->reply, " %s.", !strcmp(action, "delete") ? "is back" : what);
            chat_set_focus(t, json_array_get(t->tasks, 0));
        } else {
            td_buf_printf(&t->reply, "Undone (%zu task%s): %s.", n, n == 1 ? "" : "s", what);
        }
    }
    json_object_del(t->ctx, "last");
    chat_finish(t);
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
        chat_finish(t);
        return;
    }
    chat_plan_run(t, undone);
}

void chat_undo(struct chat_turn *t)
{
    json_t *last = json_object_get(t->ctx, "last");
    if (!last) {
        td_buf_puts(&t->reply, "There's nothing to undo.");
        chat_finish(t);
        return;
    }
    const char *action = chat_str(last, "action");
    json_t *ids = json_object_get(last, "ids"), *before = json_object_get(last, "before"), *v;
    size_t i;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        json_t *on = json_pack("{s:s}", "task_id", id);
        if (!strcmp(action, "add")) {
            chat_plan_add(t, "delete_task", on);
        } else if (!strcmp(action, "complete")) {
            chat_plan_add(t, "reopen_task", on);
        } else if (!strcmp(action, "reopen")) {
            chat_plan_add(t, "complete_task", on);
        } else if (!strcmp(action, "delete")) {
            json_decref(on);
            plan_restore(t, json_object_get(before, id), NULL);
        } else {
            chat_plan_add(t, "get_task", on);   /* the restore changes only what differs now */
        }
    }
    chat_plan_run(t, strcmp(action, "update") ? undone : undo_read);
}

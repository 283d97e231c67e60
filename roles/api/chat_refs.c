#define _GNU_SOURCE   /* strcasestr */
/* The chat engine's references: the stored context resolves "it", "the second one" and
 * "them all", a title is looked up among the user's tasks (several matches ask back
 * "Which one?" and chat_choice reads the answer), and deleting several tasks asks for a
 * yes first. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "roles/api/chat_int.h"

/* ---------- context ---------- */

json_t *chat_ref_of(json_t *task)
{
    return json_pack("{s:O, s:O}", "id", json_object_get(task, "id"), "title",
                     json_object_get(task, "title"));
}

void chat_set_focus(struct chat_turn *t, json_t *task)
{
    json_object_set_new(t->ctx, "focus", chat_ref_of(task));
}

/* Several tasks to delete: ask first. */
static void confirm_delete(struct chat_turn *t)
{
    size_t n = json_array_size(t->targets);
    td_buf_printf(&t->reply, "Delete these %zu tasks?", n);
    json_t *ref;
    size_t i;
    json_array_foreach(t->targets, i, ref) td_buf_printf(&t->reply, "\n%zu. \"%s\"", i + 1,
                                                          chat_str(ref, "title"));
    td_buf_puts(&t->reply, "\nSay yes to delete them.");
    json_object_set_new(t->ctx, "pending", json_pack("{s:s, s:O}", "kind", "confirm", "targets",
                                                     t->targets));
    chat_finish(t);
}

static void with_targets(struct chat_turn *t)
{
    if (json_array_size(t->targets) == 0) {
        td_buf_puts(&t->reply, "I couldn't find that task.");
        chat_finish(t);
        return;
    }
    if (t->r.intent == TD_NLP_DELETE && json_array_size(t->targets) > 1)
        confirm_delete(t);
    else
        chat_act(t);
}

/* The list for a title or "all ..." reference has arrived. */
static void looked_up(struct chat_turn *t)
{
    if (t->failed) {
        chat_say_failure(t);
        chat_finish(t);
        return;
    }
    json_t *task, *found = json_array(), *preferred = json_array();
    size_t i;
    const char *want = t->r.intent == TD_NLP_COMPLETE ? "pending"
                     : t->r.intent == TD_NLP_REOPEN ? "completed" : NULL;
    json_array_foreach(t->listed, i, task) {
        int hit = t->r.target == TD_NLP_TARGET_ALL
                      ? chat_filter_matches(t, task, &t->r.filter)
                      : strcasestr(chat_str(task, "title"), t->r.target_text) != NULL;
        if (!hit)
            continue;
        json_array_append_new(found, chat_ref_of(task));
        if (want && strcmp(chat_str(task, "status"), want) == 0)
            json_array_append_new(preferred, chat_ref_of(task));
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
        chat_finish(t);
        return;
    }
    if (t->r.target == TD_NLP_TARGET_TEXT && json_array_size(found) > 1) {
        td_buf_puts(&t->reply, "Which one:");
        json_array_foreach(found, i, task) td_buf_printf(&t->reply, " %zu. %s", i + 1,
                                                          chat_str(task, "title"));
        td_buf_puts(&t->reply, "?");
        json_object_set_new(t->ctx, "pending", json_pack("{s:s, s:s, s:O}", "kind", "choose",
                                                         "message", t->message, "options", found));
        json_object_set(t->ctx, "shown", found);
        chat_finish(t);
        return;
    }
    with_targets(t);
}

void chat_resolve(struct chat_turn *t)
{
    json_t *shown = json_object_get(t->ctx, "shown");
    json_t *focus = json_object_get(t->ctx, "focus");
    t->targets = json_array();
    if (t->forced_id[0]) {
        json_array_append_new(t->targets, json_pack("{s:s, s:s}", "id", t->forced_id, "title", ""));
        chat_act(t);
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
            chat_finish(t);
            return;
        }
        json_array_append(t->targets, json_array_get(shown, k - 1));
        break;
    }
    case TD_NLP_TARGET_ALL:
        if (chat_filter_empty(&t->r.filter) && json_array_size(shown)) {
            json_array_extend(t->targets, shown);
            break;
        }
        chat_plan_add(t, "list_tasks", json_pack("{s:s}", "status", chat_status_arg(t->r.filter.status,
                 t->r.intent == TD_NLP_COMPLETE ? "pending"
                 : t->r.intent == TD_NLP_REOPEN ? "completed" : "all")));
        chat_plan_run(t, looked_up);
        return;
    case TD_NLP_TARGET_TEXT:
        chat_plan_add(t, "list_tasks", json_pack("{s:s}", "status", "all"));
        chat_plan_run(t, looked_up);
        return;
    default:   /* "it", or nothing said */
        if (focus)
            json_array_append(t->targets, focus);
        else if (json_array_size(shown) == 1)
            json_array_append(t->targets, json_array_get(shown, 0));
        else {
            td_buf_puts(&t->reply, "Which task do you mean?");
            chat_finish(t);
            return;
        }
    }
    with_targets(t);
}

int chat_yes(const char *s)
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
int chat_choice(struct chat_turn *t, json_t *options)
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
        if (strcasecmp(chat_str(o, "title"), t->message) == 0)
            return (int)i + 1;
    return 0;
}

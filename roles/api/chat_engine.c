/* The chat's built-in engine: td_nlp_parse reads the message in the user's zone and
 * dispatch picks the intent; a pending question of the last turn ("Which one?", "Delete
 * these tasks?") is answered first. The work is in chat_refs.c, chat_intents.c,
 * chat_undo.c and chat_plan.c (see chat_int.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "roles/api/chat_int.h"

static void dispatch(struct chat_turn *t)
{
    struct td_nlp_result *r = &t->r;
    if (r->flags & TD_NLP_F_SMALLTALK) {
        td_buf_puts(&t->reply, "You're welcome! Tell me whenever you need something done.");
        chat_finish(t);
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
        int k = chat_choice(t, shown);
        if (k > 0) {
            json_t *task = json_array_get(shown, (size_t)k - 1);
            chat_set_focus(t, task);
            td_buf_printf(&t->reply, "What should I do with \"%s\"? You can complete, delete, "
                          "move or rename it.", chat_str(task, "title"));
            chat_finish(t);
            return;
        }
    }
    switch (r->intent) {
    case TD_NLP_ADD: chat_add(t); return;
    case TD_NLP_LIST:
    case TD_NLP_SEARCH: chat_list(t); return;
    case TD_NLP_UNDO: chat_undo(t); return;
    case TD_NLP_HELP:
        td_buf_puts(&t->reply, "I can add tasks (\"add call mom tomorrow at 9 #family\"), list "
                    "them (\"what's due this week?\"), complete, reopen, rename, move or delete "
                    "them (\"mark it done\", \"delete the second one\"), set reminders (\"remind "
                    "me 30 minutes before\") and undo the last change.");
        chat_finish(t);
        return;
    case TD_NLP_UNKNOWN:
        td_buf_puts(&t->reply, "Sorry, I didn't get that. Try \"add buy milk tomorrow at 9\" or "
                    "\"help\".");
        chat_finish(t);
        return;
    default: chat_resolve(t); return;
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
    const char *kind = chat_str(pending, "kind");
    if (!strcmp(kind, "confirm")) {
        if (chat_yes(t->message)) {
            memset(&t->r, 0, sizeof t->r);
            t->r.intent = TD_NLP_DELETE;
            t->targets = json_incref(json_object_get(pending, "targets"));
            json_decref(pending);
            chat_act(t);
        } else {
            json_decref(pending);
            td_buf_puts(&t->reply, "OK, I deleted nothing.");
            chat_finish(t);
        }
        return;
    }
    if (!strcmp(kind, "choose")) {
        json_t *options = json_object_get(pending, "options");
        int k = chat_choice(t, options);
        if (k > 0 && parse(t, chat_str(pending, "message")) == 0) {
            snprintf(t->forced_id, sizeof t->forced_id, "%s",
                     chat_str(json_array_get(options, (size_t)k - 1), "id"));
            json_decref(pending);
            dispatch(t);
            return;
        }
    }
    json_decref(pending);
    if (parse(t, t->message)) {
        td_buf_puts(&t->reply, "Sorry, I couldn't read that message.");
        chat_finish(t);
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

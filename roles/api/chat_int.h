/* The built-in chat engine's own declarations, shared by its files only (chat.c and
 * chat_llm.c see chat.h): chat_engine.c reads the message and picks the intent,
 * chat_refs.c finds the tasks it is about, chat_intents.c plans and answers add, list and
 * the actions, chat_undo.c remembers and reverts the last change, and chat_plan.c runs a
 * plan's tool calls and words the answers. */
#ifndef TD_ROLE_API_CHAT_INT_H
#define TD_ROLE_API_CHAT_INT_H
#include "roles/api/chat.h"

/* The names of priorities 0..4, as the tools take them. */
extern const char *const chat_priority_names[];

/* chat_plan.c: the plan runner and the words of an answer. */
/* j's string k, or "" (never NULL). */
const char *chat_str(json_t *j, const char *k);
/* Appends "Title" (due ...) to the reply. */
void chat_say_task(struct chat_turn *t, json_t *task);
/* Appends "Sorry, that didn't work: <the failed step's message>." */
void chat_say_failure(struct chat_turn *t);
/* Ends the turn: calls t->done once. */
void chat_finish(struct chat_turn *t);
/* Appends the step tool(args) to t->plan (takes args; NULL for none). */
void chat_plan_add(struct chat_turn *t, const char *tool, json_t *args);
/* Runs t->plan's steps in order, then after(t); a failed step stops the plan with
 * t->failed set. Steps without a task_id act on the task the step before answered about. */
void chat_plan_run(struct chat_turn *t, void (*after)(struct chat_turn *t));
/* args with task_id id (when id is not NULL). */
json_t *chat_on_task(json_t *args, const char *id);
/* The fields the parse set, as steps on task id (NULL: the task add_task just made). */
void chat_plan_fields(struct chat_turn *t, const char *id);

/* chat_intents.c: add, list and search, and the actions on resolved targets. */
void chat_add(struct chat_turn *t);
void chat_list(struct chat_turn *t);
/* Plans and runs t->r.intent on each of t->targets, then answers. */
void chat_act(struct chat_turn *t);
/* 1 when task passes filter f. */
int chat_filter_matches(struct chat_turn *t, json_t *task, const struct td_nlp_filter *f);
/* 1 when f filters nothing. */
int chat_filter_empty(const struct td_nlp_filter *f);
/* list_tasks' status argument for s (any when s says nothing). */
const char *chat_status_arg(enum td_nlp_status s, const char *any);

/* chat_refs.c: which tasks a message is about. */
/* {id, title} of task, as the context keeps it. */
json_t *chat_ref_of(json_t *task);
/* Makes task what "it" means next. */
void chat_set_focus(struct chat_turn *t, json_t *task);
/* Resolves t->r's target (or t->forced_id) into t->targets, asks back when it is
 * ambiguous or several tasks are to be deleted, and acts otherwise. */
void chat_resolve(struct chat_turn *t);
/* 1 when s is a yes ("yes", "ok", "do it" ...). */
int chat_yes(const char *s);
/* The option t->message chooses ("2", "the second", "the last one", or an option's
 * title): 1-based, or 0. */
int chat_choice(struct chat_turn *t, json_t *options);

/* chat_undo.c: the last change and its undo. */
/* Keeps action on ids (and the tasks as they were before) as what undo reverts. */
void chat_remember(struct chat_turn *t, const char *action, json_t *ids, json_t *before);
void chat_undo(struct chat_turn *t);

#endif

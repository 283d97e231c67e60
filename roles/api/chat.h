/* The chat (POST /api/chat): chat.c holds the routes and the stored conversations,
 * chat_engine.c (with chat_refs.c, chat_intents.c, chat_undo.c, chat_plan.c; chat_int.h)
 * the built-in engine that turns one message into tool calls (tools.h) and a short answer.
 * The engine has no task logic of its own: every action is a tool call. */
#ifndef TD_ROLE_API_CHAT_H
#define TD_ROLE_API_CHAT_H
#include <jansson.h>

#include "core/buf.h"
#include "core/nlp.h"
#include "roles/api/api.h"
#include "roles/api/tools.h"

/* One message's turn. The caller fills the first block and ctx, the engine the rest, then
 * calls done exactly once (maybe before chat_engine_run returns). */
struct chat_turn {
    struct api    *api;
    char           user[API_SUB_MAX];
    char           tz[64];           /* the user's zone (IANA) */
    long long      now_ms;
    char          *message;          /* NUL-terminated, at most TD_NLP_MAX_INPUT bytes */
    char           traceparent[56];
    char           request_id[129];
    json_t        *ctx;              /* the conversation's context, updated in place */
    void         (*done)(struct chat_turn *t);
    void          *arg;
    /* The answer. */
    json_t        *tool_calls;       /* [{tool, arguments, result}] */
    json_t        *tasks;            /* the tasks the answer is about */
    struct td_buf  reply;
    /* The engine's own. */
    struct td_nlp_result r;
    json_t        *plan;             /* [{tool, args}] still to run */
    size_t         step;
    char           cur_id[37];       /* the task the last step answered about */
    json_t        *touched;          /* id -> the task as the last step left it */
    json_t        *before;           /* tasks as they were before this turn changed them */
    json_t        *listed;           /* the last list answer */
    json_t        *targets;          /* [{id, title}] the action is for */
    json_t        *failed;           /* the error of the step that failed */
    const char    *failed_tool;
    char           forced_id[37];    /* the answer to "Which one?" */
    void         (*after)(struct chat_turn *t);
};

/* Runs the built-in engine on t->message. */
void chat_engine_run(struct chat_turn *t);
/* Frees what the engine allocated in t (not t itself, message or ctx). */
void chat_engine_clear(struct chat_turn *t);
/* "Mon Dec 7 at 9:00 AM" (or "Mon Dec 7" all day) for a task's due date in zone tz; 0, or
 * -ENOENT when the task has none. */
int chat_due_words(json_t *task, const char *tz, char *buf, size_t n);

/* The LLM backend (chat_llm.c): the turn with the stored history (an array of {role,
 * content}); fallback(t) runs instead when the model fails before any tool ran. */
void chat_llm_run(struct chat_turn *t, json_t *history, void (*fallback)(struct chat_turn *t));

extern const struct td_route_def api_chat_routes[];
extern const struct td_stmt_def api_chat_stmts[];

#endif

/* The chat's routes: POST /api/chat (and /api/{user_id}/chat) runs one message through
 * the engine (chat_engine.c) and stores it with its answer; GET /api/conversations and
 * /api/conversations/{id} read them back. A turn reads the user's zone and the
 * conversation's context, runs, then writes the context and both messages in one
 * statement: nothing of a conversation stays in this process between requests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/task.h"
#include "roles/api/chat.h"

#define TITLE_MAX 80

struct chat_req {
    struct api_call  *call;
    struct chat_turn  turn;
    char              conv[37];   /* "" for a new conversation */
};

static void free_chat(void *p)
{
    struct chat_req *c = p;
    if (!c)
        return;
    chat_engine_clear(&c->turn);
    json_decref(c->turn.ctx);
    json_decref(c->turn.tool_calls);
    json_decref(c->turn.tasks);
    td_buf_free(&c->turn.reply);
    free(c->turn.message);
    free(c);
}

static void on_saved(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct chat_req *c = call->extra;
    if (status || td_db_res_rows(res) == 0) {
        if (status)
            api_db_error(call, status, res);
        else
            api_problem(call, 404, "conversation-not-found", "Not Found", "no such conversation", NULL);
        api_end(call);
        return;
    }
    json_t *j = json_pack("{s:s, s:s, s:O, s:O}", "conversation_id", td_db_res_value(res, 0, 0),
                          "response", c->turn.reply.data ? c->turn.reply.data : "",
                          "tool_calls", c->turn.tool_calls, "tasks", c->turn.tasks);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text)
        api_send_json(call, 200, text, 0);
    else
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
    free(text);
    json_decref(j);
    api_end(call);
}

static void turn_done(struct chat_turn *t)
{
    struct api_call *call = t->arg;
    struct chat_req *c = call->extra;
    if (!t->reply.data)
        td_buf_puts(&t->reply, "");
    char title[TITLE_MAX * 4 + 1];
    size_t n = 0, chars = 0;
    for (const char *p = t->message; *p && chars < TITLE_MAX; chars++) {
        size_t len = 1;
        while ((p[len] & 0xC0) == 0x80)
            len++;
        memcpy(title + n, p, len);
        n += len;
        p += len;
    }
    title[n] = '\0';
    char *ctx = json_dumps(t->ctx, JSON_COMPACT);
    char *calls = json_dumps(t->tool_calls, JSON_COMPACT);
    const char *params[] = {c->conv[0] ? c->conv : NULL, call->user_id, ctx ? ctx : "{}",
                            t->message, t->reply.data, calls ? calls : "[]", title};
    api_exec(call, "chat_save", 7, params, on_saved);
    free(ctx);
    free(calls);
}

static void on_loaded(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct chat_req *c = call->extra;
    if (status) {
        api_db_error(call, status, res);
        api_end(call);
        return;
    }
    if (c->conv[0] && !td_db_res_value(res, 0, 1)) {
        api_problem(call, 404, "conversation-not-found", "Not Found",
                    "no such conversation (leave conversation_id out to start one)", NULL);
        api_end(call);
        return;
    }
    struct chat_turn *t = &c->turn;
    snprintf(t->tz, sizeof t->tz, "%s", td_db_res_value(res, 0, 0));
    t->ctx = c->conv[0] ? json_loads(td_db_res_value(res, 0, 1), 0, NULL) : NULL;
    if (!json_is_object(t->ctx)) {
        json_decref(t->ctx);
        t->ctx = json_object();
    }
    if (!call->api->curl) {
        chat_engine_run(t);
        return;
    }
    const char *h = td_db_res_value(res, 0, 2);
    json_t *history = h ? json_loads(h, 0, NULL) : NULL;
    chat_llm_run(t, history, chat_engine_run);
    json_decref(history);
}

static int message_problem(struct api_call *call, json_t *body)
{
    json_t *m = json_object_get(body, "message");
    if (!json_is_string(m) || json_string_length(m) == 0) {
        api_problem(call, 422, "validation-failed", "Unprocessable Content",
                    "message is required: the text to send",
                    "\"errors\":[{\"field\":\"message\",\"message\":\"must be a non-empty string\"}]");
        return -EINVAL;
    }
    if (json_string_length(m) > TD_NLP_MAX_INPUT) {
        api_problem(call, 413, "message-too-long", "Content Too Large",
                    "message must be at most 1000 bytes",
                    "\"errors\":[{\"field\":\"message\",\"message\":\"must be at most 1000 bytes\"}]");
        return -E2BIG;
    }
    if (memchr(json_string_value(m), '\0', json_string_length(m))) {
        api_problem(call, 422, "validation-failed", "Unprocessable Content",
                    "message must not contain NUL",
                    "\"errors\":[{\"field\":\"message\",\"message\":\"must not contain NUL\"}]");
        return -EINVAL;
    }
    return 0;
}

static void handle_chat(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    struct api_call *call = api_begin(api, req);
    if (!call)
        return;
    json_t *body = api_json_body(call);
    if (!body) {
        api_end(call);
        return;
    }
    if (message_problem(call, body)) {
        json_decref(body);
        api_end(call);
        return;
    }
    json_t *conv = json_object_get(body, "conversation_id");
    if (conv && !json_is_null(conv) &&
        (!json_is_string(conv) || !td_task_is_uuid(json_string_value(conv)))) {
        json_decref(body);
        api_problem(call, 404, "conversation-not-found", "Not Found", "no such conversation", NULL);
        api_end(call);
        return;
    }
    struct chat_req *c = calloc(1, sizeof *c);
    if (!c || !(c->turn.message = strdup(json_string_value(json_object_get(body, "message"))))) {
        free(c);
        json_decref(body);
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    if (json_is_string(conv))
        snprintf(c->conv, sizeof c->conv, "%s", json_string_value(conv));
    json_decref(body);
    call->extra = c;
    call->free_extra = free_chat;
    c->call = call;
    struct chat_turn *t = &c->turn;
    t->api = api;
    snprintf(t->user, sizeof t->user, "%s", call->user_id);
    t->now_ms = (long long)uv_now(api->svc->loop);
    {
        uv_timeval64_t tv;
        if (uv_gettimeofday(&tv) == 0)
            t->now_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    }
    snprintf(t->traceparent, sizeof t->traceparent, "%s", call->traceparent);
    snprintf(t->request_id, sizeof t->request_id, "%s", call->request_id);
    t->tool_calls = json_array();
    t->tasks = json_array();
    t->done = turn_done;
    t->arg = call;
    const char *params[] = {td_task_is_uuid(call->user_id) ? call->user_id : NULL,
                            c->conv[0] ? c->conv : NULL, call->user_id,
                            api->curl ? "true" : "false"};
    api_exec(call, "chat_load", 4, params, on_loaded);
}

/* ---------- reading conversations ---------- */

static void on_json(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (td_db_res_rows(res) == 0 || !td_db_res_value(res, 0, 0))
        api_problem(call, 404, "conversation-not-found", "Not Found", "no such conversation", NULL);
    else
        api_send_json(call, 200, td_db_res_value(res, 0, 0), 0);
    api_end(call);
}

static int query_int(struct td_http_req *req, const char *name, int dflt, int lo, int hi, int *out)
{
    const char *v = td_http_query_param(req, name, 0);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return -EINVAL;
    *out = (int)n;
    return 0;
}

static void handle_list(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    int limit, offset;
    if (query_int(req, "limit", 20, 1, 100, &limit) ||
        query_int(req, "offset", 0, 0, 1000000, &offset)) {
        api_problem(call, 400, "bad-query", "Bad Request",
                    "limit must be 1..100 and offset 0 or more", NULL);
        api_end(call);
        return;
    }
    char l[16], o[16];
    snprintf(l, sizeof l, "%d", limit);
    snprintf(o, sizeof o, "%d", offset);
    const char *params[] = {call->user_id, l, o};
    api_exec(call, "chat_conversations", 3, params, on_json);
}

static void handle_get(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    const char *id = td_http_param(req, "id");
    if (!id || !td_task_is_uuid(id)) {
        api_problem(call, 404, "conversation-not-found", "Not Found", "no such conversation", NULL);
        api_end(call);
        return;
    }
    const char *params[] = {id, call->user_id};
    api_exec(call, "chat_conversation", 2, params, on_json);
}

const struct td_stmt_def api_chat_stmts[] = {
    {"chat_load",
     "SELECT coalesce((SELECT time_zone FROM users WHERE id = $1::uuid), 'UTC'), "
     "(SELECT context::text FROM conversations WHERE id = $2::uuid AND user_id = $3), "
     "CASE WHEN $4::boolean THEN (SELECT coalesce(json_agg(json_build_object('role', role, "
     "'content', content) ORDER BY id), '[]')::text FROM (SELECT id, role, content FROM "
     "chat_messages WHERE conversation_id = $2::uuid ORDER BY id DESC LIMIT 20) h) END", 4},
    {"chat_save",
     "WITH c AS (INSERT INTO conversations AS v (id, user_id, title, context) "
     "  VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $7, $3::jsonb) "
     "  ON CONFLICT (id) DO UPDATE SET context = EXCLUDED.context, updated_at = now() "
     "  WHERE v.user_id = EXCLUDED.user_id RETURNING id), "
     "m AS (INSERT INTO chat_messages (conversation_id, role, content, tool_calls) "
     "  SELECT c.id, r.role, r.content, r.calls FROM c, (VALUES (1, 'user', $4::text, '[]'::jsonb), "
     "  (2, 'assistant', $5::text, $6::jsonb)) AS r (n, role, content, calls) ORDER BY r.n) "
     "SELECT id::text FROM c", 7},
    {"chat_conversations",
     "SELECT json_build_object('conversations', coalesce(json_agg(json_build_object('id', id, "
     "'title', title, 'created_at', todod_ts(created_at), 'updated_at', todod_ts(updated_at)) "
     "ORDER BY updated_at DESC, id DESC), '[]'), 'limit', $2::int, 'offset', $3::int)::text "
     "FROM (SELECT * FROM conversations WHERE user_id = $1 ORDER BY updated_at DESC, id DESC "
     "LIMIT $2::int OFFSET $3::int) c", 3},
    {"chat_conversation",
     "SELECT json_build_object('id', c.id, 'title', c.title, 'created_at', todod_ts(c.created_at), "
     "'updated_at', todod_ts(c.updated_at), 'messages', coalesce((SELECT json_agg("
     "json_build_object('role', m.role, 'content', m.content, 'tool_calls', m.tool_calls, "
     "'created_at', todod_ts(m.created_at)) ORDER BY m.id) FROM chat_messages m "
     "WHERE m.conversation_id = c.id), '[]'))::text "
     "FROM conversations c WHERE c.id = $1::uuid AND c.user_id = $2", 2},
    {0},
};

const struct td_route_def api_chat_routes[] = {
    {"POST", "/api/chat", handle_chat, TD_DOOR_BEARER},
    {"POST", "/api/{user_id}/chat", handle_chat, TD_DOOR_BEARER},
    {"GET", "/api/conversations", handle_list, TD_DOOR_BEARER},
    {"GET", "/api/conversations/{id}", handle_get, TD_DOOR_BEARER},
    {0},
};

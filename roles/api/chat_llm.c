/* The optional LLM backend of the chat: with --llm-url set, a turn sends the stored
 * conversation to an OpenAI-compatible chat-completions endpoint with the tool layer as
 * its functions, runs the tool calls the model asks for through api_tools_call (for the
 * token's user: another user's id is a tool error the model is told, never served), and
 * loops until the model answers in words or --llm-max-rounds is reached. A failure
 * before any tool ran hands the message to the built-in engine; after one ran, the answer
 * says what was done and that the assistant stopped - nothing it did not do. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/curl.h"
#include "core/datetime.h"
#include "roles/api/chat.h"

#define LLM_ANSWER_MAX   (1024 * 1024)  /* bytes of one completion */
#define LLM_REPLY_MAX    4000           /* bytes of the final text kept */

#define CONF(field) offsetof(struct api_conf, field)
static const struct td_setting api_rows[] = {
    {"llm-url", "TODOD_LLM_URL", "URL", TD_SET_STRING, CONF(llm_url), 0, 0, NULL, NULL,
     "api: an OpenAI-compatible chat-completions URL for /api/chat (unset: the built-in "
     "engine answers)", NULL, NULL},
    {"llm-model", "TODOD_LLM_MODEL", "NAME", TD_SET_STRING, CONF(llm_model), 0, 0, NULL, NULL,
     "api: the model named in each completion request (required with --llm-url)", NULL, NULL},
    {"llm-key-file", "TODOD_LLM_KEY_FILE", "FILE", TD_SET_SECRET_FILE, CONF(llm_key), 0, 0,
     NULL, NULL, "api: the LLM endpoint's API key, read from a file (sent as a bearer token)",
     NULL, NULL},
    {"llm-timeout", "TODOD_LLM_TIMEOUT", "DURATION", TD_SET_DURATION, CONF(llm_timeout_ms),
     100, 300000, "30s", NULL, "api: one completion request, whole, at most this long",
     "expected a duration from 100ms to 300s", NULL},
    {"llm-max-rounds", "TODOD_LLM_MAX_ROUNDS", "N", TD_SET_INT, CONF(llm_max_rounds), 1, 16,
     "4", NULL, "api: completion requests per chat message (tool-call rounds included)",
     "expected a whole number from 1 to 16", NULL},
    {"llm-max-tool-args", "TODOD_LLM_MAX_TOOL_ARGS", "SIZE", TD_SET_SIZE,
     CONF(llm_max_args), 64, 1048576, "16KiB", NULL,
     "api: the largest arguments of one tool call the model may ask for (refused past it)",
     "expected a size from 64 to 1MiB", NULL},
    {0},
};

static int api_check(void *block, int argc, char **argv, char *err, size_t errlen)
{
    (void)argc;
    (void)argv;
    struct api_conf *c = block;
    char why[200];
    if (c->llm_url && td_curl_url_check(c->llm_url, "http,https", why, sizeof why)) {
        snprintf(err, errlen, "--llm-url: %s", why);
        return -EINVAL;
    }
    if (c->llm_url && !c->llm_model) {
        snprintf(err, errlen, "--llm-url needs --llm-model (the model to ask)");
        return -EINVAL;
    }
    return 0;
}

const struct td_settings_group api_settings = {
    .name = "api", .rows = api_rows, .block_size = sizeof(struct api_conf), .check = api_check,
};

/* ---------- the exchange ---------- */

struct llm {
    struct chat_turn *t;
    json_t           *messages;   /* what the next request sends */
    json_t           *calls;      /* the model's tool calls of this round */
    size_t            next_call;
    int               rounds;
    int               ran;        /* tool calls run so far */
    void            (*fallback)(struct chat_turn *t);
};

static json_t *tool_defs(struct api *api)
{
    size_t n;
    const struct api_tool *tools = api_tools(&n);
    json_t *defs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(defs, json_pack("{s:s, s:{s:s, s:s, s:O}}", "type", "function",
                                              "function", "name", tools[i].name, "description",
                                              tools[i].description, "parameters",
                                              api_tool_schema(api, tools[i].name)));
    return defs;
}

static void llm_free(struct llm *l)
{
    json_decref(l->messages);
    json_decref(l->calls);
    free(l);
}

/* Ends the turn: with the model's words, or honestly after a failure. */
static void stop(struct llm *l, const char *text, const char *why)
{
    struct chat_turn *t = l->t;
    if (text) {
        size_t n = strlen(text);
        td_buf_printf(&t->reply, "%.*s", (int)(n > LLM_REPLY_MAX ? LLM_REPLY_MAX : n), text);
        llm_free(l);
        t->done(t);
        return;
    }
    if (!l->ran) {   /* nothing happened: the built-in engine answers instead */
        void (*fallback)(struct chat_turn *) = l->fallback;
        llm_free(l);
        fallback(t);
        return;
    }
    td_buf_printf(&t->reply, "The assistant stopped (%s) after %d tool call%s:", why, l->ran,
                  l->ran == 1 ? "" : "s");
    json_t *c;
    size_t i;
    json_array_foreach(t->tool_calls, i, c) {
        json_t *r = json_object_get(c, "result");
        const char *err = json_string_value(json_object_get(r, "error"));
        td_buf_printf(&t->reply, "\n- %s: %s", json_string_value(json_object_get(c, "tool")),
                      err ? err : "done");
    }
    llm_free(l);
    t->done(t);
}

static void request(struct llm *l);
static void run_call(struct llm *l);

static void tool_answer(struct llm *l, const char *id, json_t *content)
{
    char *text = json_dumps(content, JSON_COMPACT | JSON_ENCODE_ANY);
    json_array_append_new(l->messages, json_pack("{s:s, s:s, s:s}", "role", "tool",
                                                 "tool_call_id", id, "content", text ? text : "{}"));
    free(text);
}

struct llm_call {
    struct llm *l;
    char        id[128];
    char        tool[64];
    json_t     *args;
};

static void on_tool(json_t *result, int is_error, void *arg)
{
    struct llm_call *c = arg;
    struct llm *l = c->l;
    struct chat_turn *t = l->t;
    json_array_append_new(t->tool_calls, json_pack("{s:s, s:O, s:O}", "tool", c->tool,
                                                   "arguments", c->args, "result", result));
    json_t *task = json_object_get(result, "task");
    if (!is_error && json_is_object(task))
        json_array_append(t->tasks, task);
    l->ran++;
    tool_answer(l, c->id, result);
    json_decref(c->args);
    free(c);
    l->next_call++;
    run_call(l);
}

/* A tool error the model is told, without running anything. */
static void refuse(struct llm *l, const char *id, const char *tool, const char *slug,
                   const char *message)
{
    json_t *e = json_pack("{s:s, s:i, s:s}", "error", slug, "status", 422, "message", message);
    json_array_append_new(l->t->tool_calls, json_pack("{s:s, s:{}, s:O}", "tool", tool,
                                                      "arguments", "result", e));
    tool_answer(l, id, e);
    json_decref(e);
    l->next_call++;
}

static void run_call(struct llm *l)
{
    struct chat_turn *t = l->t;
    const struct api_conf *conf = t->api->conf;
    json_t *call;
    while ((call = json_array_get(l->calls, l->next_call))) {
        const char *id = json_string_value(json_object_get(call, "id"));
        json_t *fn = json_object_get(call, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_t *given = json_object_get(fn, "arguments");
        /* A string of JSON, as OpenAI sends it; some servers send the object itself. */
        char *dumped = json_is_object(given) ? json_dumps(given, JSON_COMPACT) : NULL;
        const char *raw = dumped ? dumped : json_string_value(given);
        if (!id)
            id = "";
        if (!name || !api_tool_schema(t->api, name)) {
            free(dumped);
            refuse(l, id, name ? name : "", "unknown-tool", "no such tool");
            continue;
        }
        if (raw && strlen(raw) > conf->llm_max_args) {
            free(dumped);
            refuse(l, id, name, "arguments-too-large", "the arguments are too large");
            continue;
        }
        json_t *args = raw && *raw ? json_loads(raw, JSON_REJECT_DUPLICATES, NULL) : json_object();
        free(dumped);
        if (!json_is_object(args)) {
            json_decref(args);
            refuse(l, id, name, "malformed-arguments", "the arguments must be a JSON object");
            continue;
        }
        /* The token's user unless the model named one: another id is the tool's refusal. */
        if (!json_object_get(args, "user_id"))
            json_object_set_new(args, "user_id", json_string(t->user));
        struct llm_call *c = calloc(1, sizeof *c);
        if (!c) {
            json_decref(args);
            stop(l, NULL, "out of memory");
            return;
        }
        c->l = l;
        c->args = args;
        snprintf(c->id, sizeof c->id, "%s", id);
        snprintf(c->tool, sizeof c->tool, "%s", name);
        struct api_tool_origin origin = {t->traceparent, t->request_id};
        json_t *copy = json_deep_copy(args);
        api_tools_call(t->api, t->user, name, copy, &origin, on_tool, c);
        json_decref(copy);
        return;   /* on_tool goes on */
    }
    json_decref(l->calls);
    l->calls = NULL;
    request(l);
}

static void on_answer(const struct td_curl_result *r, void *arg)
{
    struct llm *l = arg;
    struct chat_turn *t = l->t;
    if (r->status == -ECANCELED) {   /* shutting down: answer nothing more */
        td_buf_puts(&t->reply, "The server is shutting down; nothing more was done.");
        llm_free(l);
        t->done(t);
        return;
    }
    char why[160];
    if (r->status || r->code != 200) {
        if (r->status)
            snprintf(why, sizeof why, "%s", r->error);
        else
            snprintf(why, sizeof why, "HTTP %ld", r->code);
        stop(l, NULL, why);
        return;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    json_t *calls = json_object_get(msg, "tool_calls");
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (json_is_array(calls) && json_array_size(calls) > 0) {
        json_t *echo = json_pack("{s:s, s:O}", "role", "assistant", "tool_calls", calls);
        json_object_set(echo, "content", content ? json_object_get(msg, "content") : json_null());
        json_array_append_new(l->messages, echo);
        l->calls = json_incref(calls);
        l->next_call = 0;
        json_decref(j);
        run_call(l);
        return;
    }
    if (content && *content) {
        char *copy = strdup(content);
        json_decref(j);
        stop(l, copy ? copy : NULL, "out of memory");
        free(copy);
        return;
    }
    json_decref(j);
    stop(l, NULL, "an answer that was not a completion");
}

static void request(struct llm *l)
{
    struct chat_turn *t = l->t;
    const struct api_conf *conf = t->api->conf;
    if (l->rounds++ >= conf->llm_max_rounds) {
        stop(l, NULL, "too many tool-call rounds");
        return;
    }
    json_t *body = json_pack("{s:s, s:O, s:o}", "model", conf->llm_model, "messages", l->messages,
                             "tools", tool_defs(t->api));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char auth[1100];
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    if (conf->llm_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %.1000s", conf->llm_key);
        headers[1] = auth;
    }
    struct td_curl_req req = {.url = conf->llm_url, .headers = headers, .body = text,
                              .body_len = text ? strlen(text) : 0, .post = 1,
                              .timeout_ms = conf->llm_timeout_ms, .max_response = LLM_ANSWER_MAX,
                              .allow_private = 1 /* the operator's own endpoint */};
    int rc = text ? td_curl_send(t->api->curl, &req, on_answer, l) : -ENOMEM;
    memset(auth, 0, sizeof auth);
    free(text);
    if (rc)
        stop(l, NULL, "the request could not be sent");
}

void chat_llm_run(struct chat_turn *t, json_t *history, void (*fallback)(struct chat_turn *t))
{
    struct llm *l = calloc(1, sizeof *l);
    if (!l) {
        fallback(t);
        return;
    }
    l->t = t;
    l->fallback = fallback;
    char now[32];
    td_datetime_format_utc(t->now_ms / 1000, now, sizeof now);
    char system[600];
    snprintf(system, sizeof system,
             "You are the assistant of a to-do list. Act on the user's tasks only through the "
             "tools, always with user_id \"%s\". The user's time zone is %s; now is %s. Give "
             "due dates to the tools in that zone or as UTC instants. Answer in one or two "
             "short sentences naming the task and its due date.", t->user, t->tz, now);
    l->messages = json_pack("[{s:s, s:s}]", "role", "system", "content", system);
    json_t *m;
    size_t i;
    json_array_foreach(history, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && json_is_string(json_object_get(m, "content")))
            json_array_append_new(l->messages, json_pack("{s:s, s:O}", "role", role, "content",
                                                         json_object_get(m, "content")));
    }
    json_array_append_new(l->messages, json_pack("{s:s, s:s}", "role", "user", "content",
                                                 t->message));
    request(l);
}

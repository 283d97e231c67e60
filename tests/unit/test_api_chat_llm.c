/* roles/api/chat_llm.c against a scripted OpenAI-compatible server (tests/support/
 * llm_harness.h): the model's tool calls run through the tool layer for the token's user,
 * hostile ones (unknown tool, another user's id, malformed or huge arguments) are tool
 * errors fed back and never served, rounds are bounded, and a model that fails before any
 * tool ran (time-out, HTTP error, garbage) leaves the answer to the built-in engine. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roles/api/api.h"
#include "tests/support/api_harness.h"
#include "tests/support/llm_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user, other;
static struct td_test_llm L;

static void setup(void)
{
    pg = td_test_roles_pg();
    td_test_user_fake(&user);
    td_test_user_fake(&other);
    memset(&L, 0, sizeof L);
}

/* Starts the server with the script already in L, then todod pointed at it. */
static void go(int timeout_ms, int rounds)
{
    td_test_llm_start(&L);
    td_test_roles_config(&S, roles, 1, 0);
    struct api_conf *c = td_config_group(&S.cfg, &api_settings);
    cr_assert(c);
    c->llm_url = td_test_fmt("http://127.0.0.1:%d/v1/chat/completions", L.port);
    c->llm_model = strdup("scripted");
    c->llm_key = strdup("sk-test-key");
    c->llm_timeout_ms = timeout_ms;
    c->llm_max_rounds = rounds;
    td_test_roles_run(&S);
}

static void teardown(void)
{
    td_test_roles_stop(&S);
    td_test_llm_stop(&L);
}

TestSuite(api_chat_llm, .init = setup, .fini = teardown, .timeout = 60);

static json_t *chat(const char *message)
{
    json_t *m = json_pack("{s:s}", "message", message);
    char *body = json_dumps(m, JSON_COMPACT);
    json_t *j = NULL;
    int st = td_test_api_json(S.port, user.token, "POST", "/api/chat", body, NULL, &j);
    cr_assert_eq(st, 200, "chat: %d", st);
    free(body);
    json_decref(m);
    return j;
}

static const char *resp(json_t *j)
{
    const char *r = td_test_jstr(j, "response");
    return r ? r : "(none)";
}

/* A completion asking for tool calls: calls is a JSON array text of
 * {"id","type":"function","function":{"name","arguments"}}. */
static char *tool_round(const char *calls)
{
    return td_test_fmt("{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                       "\"finish_reason\":\"tool_calls\",\"message\":{\"role\":\"assistant\","
                       "\"content\":null,\"tool_calls\":%s}}]}", calls);
}

static char *final_text(const char *text)
{
    return td_test_fmt("{\"id\":\"y\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                       "\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","
                       "\"content\":\"%s\"}}]}", text);
}

static char *call(const char *id, const char *name, const char *args_json)
{
    json_t *c = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function",
                          "name", name, "arguments", args_json);
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

Test(api_chat_llm, runs_the_models_tool_calls_and_answers_its_text)
{
    char *args = td_test_fmt("{\"user_id\":\"%s\",\"title\":\"Buy milk\"}", user.id);
    char *c1 = call("call_1", "add_task", args);
    /* A second call with its arguments as an object (as some servers send them) and no
     * user_id: the token's user. */
    char *calls = td_test_fmt("[%s,{\"id\":\"call_2\",\"type\":\"function\",\"function\":"
                              "{\"name\":\"add_task\",\"arguments\":{\"title\":\"Buy bread\"}}}]", c1);
    char *r1 = tool_round(calls), *r2 = final_text("Added Buy milk to your list.");
    L.answers[0] = (struct td_test_llm_answer){200, 0, r1};
    L.answers[1] = (struct td_test_llm_answer){200, 0, r2};
    L.nanswers = 2;
    go(5000, 4);
    json_t *j = chat("please add buy milk");
    cr_expect_str_eq(resp(j), "Added Buy milk to your list.");
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(j, "tool_calls"), 0), "tool"), "add_task");
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(j, "tool_calls"), 0), "result.status"),
                     "created");
    cr_expect_eq(json_array_size(json_object_get(j, "tasks")), 2);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND title = 'Buy milk'",
                                 user.id), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND title = 'Buy bread'",
                                 user.id), 1);
    cr_expect_eq(td_test_llm_count(&L), 2);
    /* The first request: the model, the key, the tools as functions with their schemas,
     * the user's message. */
    json_t *q = json_loads(L.bodies[0], 0, NULL);
    cr_assert(q);
    cr_expect_str_eq(td_test_jstr(q, "model"), "scripted");
    cr_expect_str_eq(L.auth[0] ? L.auth[0] : "", "Bearer sk-test-key");
    json_t *tools = json_object_get(q, "tools");
    cr_expect_geq(json_array_size(tools), 5);
    cr_expect_str_eq(td_test_jstr(json_array_get(tools, 0), "type"), "function");
    cr_expect_str_eq(td_test_jstr(json_array_get(tools, 0), "function.name"), "add_task");
    cr_expect_str_eq(td_test_jstr(json_array_get(tools, 0), "function.parameters.type"), "object");
    json_t *msgs = json_object_get(q, "messages");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, json_array_size(msgs) - 1), "content"),
                     "please add buy milk");
    json_decref(q);
    /* The second carries the tool's result for call_1. */
    q = json_loads(L.bodies[1], 0, NULL);
    msgs = json_object_get(q, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    cr_expect_str_eq(td_test_jstr(last, "role"), "tool");
    cr_expect_str_eq(td_test_jstr(last, "tool_call_id"), "call_2");
    cr_expect(strstr(td_test_jstr(last, "content"), "created"));
    json_decref(q);
    /* Stored: the next message's request carries the history. */
    const char *conv = td_test_jstr(j, "conversation_id");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM chat_messages WHERE conversation_id = '%s'", conv), 2);
    char *next = td_test_fmt("{\"message\":\"thanks\",\"conversation_id\":\"%s\"}", conv);
    json_t *k = NULL;
    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", "/api/chat", next, NULL, &k), 200);
    json_decref(k);
    free(next);
    cr_assert_eq(td_test_llm_count(&L), 3);
    q = json_loads(L.bodies[2], 0, NULL);
    msgs = json_object_get(q, "messages");
    cr_expect_eq(json_array_size(msgs), 4);   /* system, the stored two, the new one */
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 1), "content"), "please add buy milk");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 2), "role"), "assistant");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 2), "content"), "Added Buy milk to your list.");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 3), "content"), "thanks");
    json_decref(q);
    json_decref(j);
    free(args); free(c1); free(calls); free(r1); free(r2);
}

Test(api_chat_llm, hostile_tool_calls_are_tool_errors_never_served)
{
    char *theirs = td_test_fmt("{\"user_id\":\"%s\",\"title\":\"Planted\"}", other.id);
    char *huge = malloc(40000);
    int n = snprintf(huge, 40000, "{\"title\":\"");
    memset(huge + n, 'x', 30000);
    snprintf(huge + n + 30000, 40000 - (size_t)n - 30000, "\"}");
    char *a = call("c1", "rm_rf", "{}");
    char *b = call("c2", "add_task", theirs);
    char *c = call("c3", "add_task", "{not json");
    char *d = call("c4", "add_task", huge);
    char *calls = td_test_fmt("[%s,%s,%s,%s]", a, b, c, d);
    char *r1 = tool_round(calls), *r2 = final_text("Sorry, I could not do that.");
    L.answers[0] = (struct td_test_llm_answer){200, 0, r1};
    L.answers[1] = (struct td_test_llm_answer){200, 0, r2};
    L.nanswers = 2;
    go(5000, 4);
    json_t *j = chat("do something bad");
    cr_expect_str_eq(resp(j), "Sorry, I could not do that.");
    json_t *tc = json_object_get(j, "tool_calls");
    cr_expect_eq(json_array_size(tc), 4);
    cr_expect_str_eq(td_test_jstr(json_array_get(tc, 0), "result.error"), "unknown-tool");
    cr_expect_str_eq(td_test_jstr(json_array_get(tc, 1), "result.error"), "forbidden");
    cr_expect_str_eq(td_test_jstr(json_array_get(tc, 2), "result.error"), "malformed-arguments");
    cr_expect_str_eq(td_test_jstr(json_array_get(tc, 3), "result.error"), "arguments-too-large");
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id IN ('%s', '%s')",
                                 user.id, other.id), 0);
    /* Each refusal went back to the model as the answer to its call. */
    json_t *q = json_loads(L.bodies[1], 0, NULL);
    json_t *msgs = json_object_get(q, "messages"), *m;
    size_t i;
    int tool_msgs = 0;
    json_array_foreach(msgs, i, m) tool_msgs += strcmp(td_test_jstr(m, "role") ? td_test_jstr(m, "role") : "", "tool") == 0;
    cr_expect_eq(tool_msgs, 4);
    json_decref(q);
    json_decref(j);
    free(theirs); free(huge); free(a); free(b); free(c); free(d); free(calls); free(r1); free(r2);
}

Test(api_chat_llm, endless_tool_rounds_stop_at_the_bound)
{
    char *args = td_test_fmt("{\"user_id\":\"%s\"}", user.id);
    char *c1 = call("c1", "list_tasks", args);
    char *calls = td_test_fmt("[%s]", c1);
    char *r1 = tool_round(calls);
    L.answers[0] = (struct td_test_llm_answer){200, 0, r1};
    L.nanswers = 1;
    go(5000, 3);
    json_t *j = chat("list forever");
    cr_expect_eq(td_test_llm_count(&L), 3);
    cr_expect(strstr(resp(j), "The assistant stopped (too many tool-call rounds) after 3 tool calls"),
              "%s", resp(j));
    cr_expect_eq(json_array_size(json_object_get(j, "tool_calls")), 3);
    json_decref(j);
    free(args); free(c1); free(calls); free(r1);
}

Test(api_chat_llm, slow_model_leaves_it_to_the_built_in_engine)
{
    char *r = final_text("too late");
    L.answers[0] = (struct td_test_llm_answer){200, 3000, r};
    L.nanswers = 1;
    go(300, 4);
    json_t *j = chat("add buy eggs tomorrow");
    cr_expect(strstr(resp(j), "Added \"buy eggs\""), "%s", resp(j));
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND title = 'buy eggs'",
                                 user.id), 1);
    json_decref(j);
    free(r);
}

Test(api_chat_llm, http_error_and_garbage_leave_it_to_the_built_in_engine)
{
    L.answers[0] = (struct td_test_llm_answer){500, 0, "{\"error\":\"boom\"}"};
    L.answers[1] = (struct td_test_llm_answer){200, 0, "this is not json"};
    L.nanswers = 2;
    go(5000, 4);
    json_t *j = chat("add water plants");
    cr_expect(strstr(resp(j), "Added \"water plants\""), "%s", resp(j));
    json_decref(j);
    j = chat("add feed cat");
    cr_expect(strstr(resp(j), "Added \"feed cat\""), "%s", resp(j));
    json_decref(j);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 2);
}

/* The settings: --llm-url needs --llm-model and an http(s) URL. */
Test(api_chat_llm_settings, llm_url_is_checked)
{
    struct td_config cfg;
    td_config_defaults(&cfg);
    cr_assert_eq(td_config_add_group(&cfg, &api_settings), 0);
    char a0[] = "--llm-url", a1[] = "http://127.0.0.1:1/v1/chat/completions";
    char *argv[] = {a0, a1, NULL};
    char err[256] = "";
    cr_expect_eq(td_config_load(&cfg, 2, argv, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "--llm-model"), "%s", err);
    td_config_free(&cfg);

    td_config_defaults(&cfg);
    cr_assert_eq(td_config_add_group(&cfg, &api_settings), 0);
    char b1[] = "ftp://example.com/x", b2[] = "--llm-model", b3[] = "m";
    char *argv2[] = {a0, b1, b2, b3, NULL};
    cr_expect_eq(td_config_load(&cfg, 4, argv2, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "--llm-url"), "%s", err);
    td_config_free(&cfg);
}

/* Stopping while the model is still thinking: the drain waits its time, then the transfer
 * is cancelled, the client gets an answer and nothing leaks. */
Test(api_chat_llm, stop_while_the_model_thinks)
{
    char *r = final_text("never sent in time");
    L.answers[0] = (struct td_test_llm_answer){200, 5000, r};
    L.nanswers = 1;
    td_test_llm_start(&L);
    td_test_roles_config(&S, roles, 1, 0);
    S.cfg.drain_timeout_ms = 300;
    struct api_conf *c = td_config_group(&S.cfg, &api_settings);
    c->llm_url = td_test_fmt("http://127.0.0.1:%d/v1/chat/completions", L.port);
    c->llm_model = strdup("scripted");
    c->llm_timeout_ms = 20000;
    c->llm_max_rounds = 2;
    td_test_roles_run(&S);
    int fd = td_test_connect(S.port);
    const char *body = "{\"message\":\"add think hard\"}";
    char *req = td_test_fmt("POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                            user.token, strlen(body), body);
    cr_assert_eq(td_test_send_all(fd, req, strlen(req)), 0);
    for (int i = 0; i < 100 && td_test_llm_count(&L) == 0; i++)
        usleep(20000);
    cr_expect_eq(td_test_llm_count(&L), 1);
    td_test_roles_stop(&S);   /* asserts a clean stop and no leak */
    size_t len = 0;
    char *got = td_test_recv_all(fd, 2000, &len);
    cr_expect(got && strncmp(got, "HTTP/1.1 ", 9) == 0, "the client got %s", got ? got : "nothing");
    free(got);
    close(fd);
    free(req);
    free(r);
}

/* roles/api/chat.c: POST /api/chat stores each message and its answer with the
 * conversation's context (a second request continues it, whatever process answers), the
 * /api/{user_id}/chat form is the token's user's only, conversations are listed newest
 * first and another user's is a 404, and bad bodies get problem+json. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlp.h"
#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user alice, bob;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&alice);
    td_test_user_fake(&bob);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_chat, .init = start, .fini = stop, .timeout = 60);

static json_t *post(struct td_test_user *u, const char *path, const char *body, int want)
{
    json_t *j = NULL;
    int st = td_test_api_json(S.port, u->token, "POST", path, body, NULL, &j);
    cr_assert_eq(st, want, "POST %s %s: %d", path, body, st);
    return j;
}

Test(api_chat, answers_and_stores_the_exchange)
{
    json_t *a = post(&alice, "/api/chat", "{\"message\":\"add buy milk\"}", 200);
    const char *conv = td_test_jstr(a, "conversation_id");
    cr_assert(conv);
    cr_expect(strstr(td_test_jstr(a, "response"), "buy milk"));
    json_t *calls = json_object_get(a, "tool_calls");
    cr_expect_str_eq(td_test_jstr(json_array_get(calls, 0), "tool"), "add_task");
    cr_expect_str_eq(td_test_jstr(json_array_get(calls, 0), "arguments.title"), "buy milk");
    cr_expect_str_eq(td_test_jstr(json_array_get(calls, 0), "result.status"), "created");
    cr_expect_eq(json_array_size(json_object_get(a, "tasks")), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM chat_messages WHERE conversation_id = '%s'",
                                 conv), 2);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM conversations WHERE id = '%s' AND "
                                 "user_id = '%s' AND context ? 'focus'", conv, alice.id), 1);

    /* The second message continues it: "it" is the task just added. */
    char *body = td_test_fmt("{\"message\":\"mark it done\",\"conversation_id\":\"%s\"}", conv);
    json_t *b = post(&alice, "/api/chat", body, 200);
    free(body);
    cr_expect_str_eq(td_test_jstr(b, "conversation_id"), conv);
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(b, "tasks"), 0), "status"), "completed");

    /* Read back: newest first, with the messages in order. */
    json_t *l = NULL;
    cr_assert_eq(td_test_api_json(S.port, alice.token, "GET", "/api/conversations", NULL, NULL, &l), 200);
    cr_expect_eq(json_array_size(json_object_get(l, "conversations")), 1);
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(l, "conversations"), 0), "id"), conv);
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(l, "conversations"), 0), "title"),
                     "add buy milk");
    json_decref(l);
    char *path = td_test_fmt("/api/conversations/%s", conv);
    json_t *c = NULL;
    cr_assert_eq(td_test_api_json(S.port, alice.token, "GET", path, NULL, NULL, &c), 200);
    json_t *msgs = json_object_get(c, "messages");
    cr_expect_eq(json_array_size(msgs), 4);
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 0), "role"), "user");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 0), "content"), "add buy milk");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 1), "role"), "assistant");
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(json_array_get(msgs, 1), "tool_calls"), 0),
                                  "tool"), "add_task");
    cr_expect_str_eq(td_test_jstr(json_array_get(msgs, 2), "content"), "mark it done");
    json_decref(c);

    /* Bob sees none of it. */
    struct td_test_http r;
    cr_expect_eq(td_test_api(S.port, bob.token, "GET", path, NULL, NULL, &r), 404);
    td_test_expect_problem(&r, 404, "conversation-not-found", "another user's conversation");
    td_test_http_free(&r);
    cr_assert_eq(td_test_api_json(S.port, bob.token, "GET", "/api/conversations", NULL, NULL, &l), 200);
    cr_expect_eq(json_array_size(json_object_get(l, "conversations")), 0);
    json_decref(l);
    body = td_test_fmt("{\"message\":\"mark it done\",\"conversation_id\":\"%s\"}", conv);
    json_decref(post(&bob, "/api/chat", body, 404));
    free(body);
    free(path);
    json_decref(a);
    json_decref(b);
}

Test(api_chat, user_id_route_is_the_tokens_user_only)
{
    char *mine = td_test_fmt("/api/%s/chat", alice.id);
    char *theirs = td_test_fmt("/api/%s/chat", bob.id);
    json_t *a = post(&alice, mine, "{\"message\":\"add water plants\"}", 200);
    cr_expect(td_test_jstr(a, "conversation_id"));
    json_decref(a);
    struct td_test_http r;
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", theirs, "{\"message\":\"show my tasks\"}",
                             NULL, &r), 403);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, NULL, "POST", "/api/chat", "{\"message\":\"hi\"}", NULL, &r), 401);
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM conversations WHERE user_id = '%s'", bob.id), 0);
    free(mine);
    free(theirs);
}

Test(api_chat, bad_bodies_are_problems)
{
    struct td_test_http r;
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat", "{}", NULL, &r), 422);
    td_test_expect_problem(&r, 422, "validation-failed", "no message");
    json_t *p = td_test_body_json(&r);
    cr_expect(td_test_problem_names(p, "message"));
    json_decref(p);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat", "{\"message\":42}", NULL, &r), 422);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat", "{\"message\":\"\"}", NULL, &r), 422);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat", "{\"message\":", NULL, &r), 400);
    td_test_expect_problem(&r, 400, "malformed-json", "truncated JSON");
    td_test_http_free(&r);
    char big[TD_NLP_MAX_INPUT + 64];
    memset(big, 'a', sizeof big);
    int n = snprintf(big, sizeof big, "{\"message\":\"");
    memset(big + n, 'a', TD_NLP_MAX_INPUT + 1);
    snprintf(big + n + TD_NLP_MAX_INPUT + 1, sizeof big - (size_t)n - TD_NLP_MAX_INPUT - 1, "\"}");
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat", big, NULL, &r), 413);
    td_test_expect_problem(&r, 413, "message-too-long", "1001 bytes");
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "POST", "/api/chat",
                             "{\"message\":\"hi\",\"conversation_id\":\"nope\"}", NULL, &r), 404);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "GET", "/api/conversations/nope", NULL, NULL, &r), 404);
    td_test_http_free(&r);
    cr_expect_eq(td_test_api(S.port, alice.token, "GET", "/api/conversations?limit=0", NULL, NULL, &r), 400);
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM conversations WHERE user_id = '%s'", alice.id), 0);
}

Test(api_chat, conversations_are_paged_newest_first)
{
    char ids[3][40];
    for (int i = 0; i < 3; i++) {
        json_t *a = post(&alice, "/api/chat", "{\"message\":\"help\"}", 200);
        snprintf(ids[i], sizeof ids[i], "%s", td_test_jstr(a, "conversation_id"));
        json_decref(a);
    }
    json_t *l = NULL;
    cr_assert_eq(td_test_api_json(S.port, alice.token, "GET", "/api/conversations?limit=2", NULL, NULL, &l), 200);
    json_t *list = json_object_get(l, "conversations");
    cr_expect_eq(json_array_size(list), 2);
    cr_expect_str_eq(td_test_jstr(json_array_get(list, 0), "id"), ids[2]);
    cr_expect_str_eq(td_test_jstr(json_array_get(list, 1), "id"), ids[1]);
    json_decref(l);
    cr_assert_eq(td_test_api_json(S.port, alice.token, "GET", "/api/conversations?limit=2&offset=2",
                                  NULL, NULL, &l), 200);
    list = json_object_get(l, "conversations");
    cr_expect_eq(json_array_size(list), 1);
    cr_expect_str_eq(td_test_jstr(json_array_get(list, 0), "id"), ids[0]);
    json_decref(l);
}

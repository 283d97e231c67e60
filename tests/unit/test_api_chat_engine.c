/* roles/api/chat_engine.c: the entry answers help and small talk without a tool call.
 * (The pending questions it answers first are tested with chat_refs.c, which asks them.)
 * Through POST /api/chat with the api role in the test process on a real PostgreSQL. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/chat_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_chat chat;

static void start(void)
{
    td_test_chat_start(&chat, roles, 1);
}

static void stop(void)
{
    td_test_chat_stop(&chat);
}

TestSuite(api_chat_engine, .init = start, .fini = stop, .timeout = 90);

Test(api_chat_engine, help_and_smalltalk_do_nothing)
{
    json_t *h = td_test_chat_say(&chat, "help");
    cr_expect(strstr(td_test_chat_resp(h), "I can add tasks"), "%s", td_test_chat_resp(h));
    cr_expect_eq(json_array_size(json_object_get(h, "tool_calls")), 0);
    json_decref(h);
    json_t *s = td_test_chat_say(&chat, "thanks");
    cr_expect_eq(json_array_size(json_object_get(s, "tool_calls")), 0, "%s", td_test_chat_resp(s));
    json_decref(s);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 0);
}

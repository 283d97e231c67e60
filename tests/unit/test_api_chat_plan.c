/* roles/api/chat_plan.c: a plan's steps run in order and set every field the message named
 * (due date, priority, tags, reminder, recurrence), and the answer says the due date in
 * the user's zone. Through POST /api/chat with the api role in the test process on a real
 * PostgreSQL; what the chat did is checked through REST, not through its words alone. */
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

TestSuite(api_chat_plan, .init = start, .fini = stop, .timeout = 90);

Test(api_chat_plan, add_with_due_priority_tags_reminder_shows_in_rest)
{
    json_t *a = td_test_chat_say(&chat, "add call the plumber tomorrow at 9am #home high priority remind me 30 minutes before");
    char id[37];
    td_test_chat_first_task_id(a, id);
    cr_assert(id[0], "answer: %s", td_test_chat_resp(a));
    cr_expect(strstr(td_test_chat_resp(a), "call the plumber") || strstr(td_test_chat_resp(a), "Call the plumber"), "%s", td_test_chat_resp(a));
    cr_expect(strstr(td_test_chat_resp(a), "at 9:00 AM"), "%s", td_test_chat_resp(a));
    cr_expect_geq(json_array_size(json_object_get(a, "tool_calls")), 4);
    json_t *t = td_test_chat_task(&chat, id);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "tags"), 0)), "home");
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 1);
    const char *due = td_test_jstr(t, "due_at");
    cr_expect(due && strstr(due, "T09:00:00Z"), "due %s", due ? due : "(none)");
    json_decref(t);
    json_decref(a);
}

Test(api_chat_plan, add_recurring_task_has_its_rrule)
{
    json_t *a = td_test_chat_say(&chat, "add water the plants every other tuesday at 8am");
    char id[37];
    td_test_chat_first_task_id(a, id);
    json_t *t = td_test_chat_task(&chat, id);
    cr_assert(t, "answer: %s", td_test_chat_resp(a));
    cr_expect(strstr(td_test_jstr(t, "recurrence") ? td_test_jstr(t, "recurrence") : "",
                     "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"), "%s", td_test_jstr(t, "recurrence"));
    json_decref(t);
    json_decref(a);
}

Test(api_chat_plan, due_date_is_said_in_the_users_zone)
{
    /* A signed-up user in Paris: 9am there is 08:00Z in winter. */
    struct td_test_user u;
    td_test_signup(chat.roles.port, "paris@example.com", "correct horse battery", "P", &u);
    cr_assert_eq(td_test_api_json(chat.roles.port, u.token, "PATCH", "/api/me",
                                  "{\"time_zone\":\"Europe/Paris\"}", NULL, NULL), 200);
    json_t *j = NULL;
    cr_assert_eq(td_test_api_json(chat.roles.port, u.token, "POST", "/api/chat",
                                  "{\"message\":\"add call the bank tomorrow at 9am\"}", NULL, &j), 200);
    cr_expect(strstr(td_test_chat_resp(j), "at 9:00 AM"), "%s", td_test_chat_resp(j));
    const char *due = td_test_jstr(json_array_get(json_object_get(j, "tasks"), 0), "due_at");
    cr_expect(due && strstr(due, "T08:00:00Z"), "due %s", due ? due : "(none)");
    json_decref(j);
}

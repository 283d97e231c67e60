/* roles/api/chat_intents.c: add, list with filters, search, complete, reminders set and
 * cancelled, skip, and the answer of each. Through POST /api/chat with the api role in the
 * test process on a real PostgreSQL; what the chat did is checked through REST and the
 * rows, not through its words alone. */
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

TestSuite(api_chat_intents, .init = start, .fini = stop, .timeout = 90);

Test(api_chat_intents, complete_it_after_adding)
{
    json_decref(td_test_chat_say(&chat, "add buy milk"));
    json_t *c = td_test_chat_say(&chat, "mark it done");
    char id[37];
    td_test_chat_first_task_id(c, id);
    cr_expect(strstr(td_test_chat_resp(c), "Completed \"buy milk\"") || strstr(td_test_chat_resp(c), "Completed \"Buy milk\""),
              "%s", td_test_chat_resp(c));
    json_t *t = td_test_chat_task(&chat, id);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "status"), "completed");
    json_decref(t);
    json_decref(c);
}

Test(api_chat_intents, list_with_filters)
{
    char a[37];
    td_test_chat_add_rest(&chat, "Plain one", a);
    json_decref(td_test_chat_say(&chat, "add pay rent #money"));
    json_t *l = td_test_chat_say(&chat, "show my #money tasks");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 1, "%s", td_test_chat_resp(l));
    json_decref(l);
    json_decref(td_test_chat_say(&chat, "add file taxes tomorrow"));
    l = td_test_chat_say(&chat, "what's due tomorrow?");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 1, "%s", td_test_chat_resp(l));
    cr_expect(strstr(td_test_chat_resp(l), "file taxes"), "%s", td_test_chat_resp(l));
    json_decref(l);
}

Test(api_chat_intents, reminders_set_and_cancelled_on_it)
{
    json_t *a = td_test_chat_say(&chat, "add team meeting tomorrow at 2pm");
    char id[37];
    td_test_chat_first_task_id(a, id);
    json_decref(a);
    json_t *r = td_test_chat_say(&chat, "set a reminder for it 1 hour before");
    cr_expect(strstr(td_test_chat_resp(r), "Set a reminder on \"team meeting\""), "%s", td_test_chat_resp(r));
    json_decref(r);
    json_t *t = td_test_chat_task(&chat, id);
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(t, "reminders"), 0), "offset"), "PT1H");
    json_decref(t);
    r = td_test_chat_say(&chat, "remind me at 8am");
    json_decref(r);
    t = td_test_chat_task(&chat, id);
    cr_expect(td_test_jstr(json_array_get(json_object_get(t, "reminders"), 0), "at"));
    json_decref(t);
    r = td_test_chat_say(&chat, "cancel the reminders");
    cr_expect(strstr(td_test_chat_resp(r), "Cancelled the reminders of \"team meeting\""), "%s", td_test_chat_resp(r));
    json_decref(r);
    t = td_test_chat_task(&chat, id);
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 0);
    json_decref(t);
    r = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(r), "Undone"), "%s", td_test_chat_resp(r));
    json_decref(r);
    t = td_test_chat_task(&chat, id);
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 1);
    json_decref(t);
}

Test(api_chat_intents, search_skip_overdue_and_a_title_reference)
{
    char a[37], b[37];
    td_test_chat_add_rest(&chat, "Pay rent", a);
    td_test_chat_add_rest(&chat, "Dentist appointment", b);
    json_t *s = td_test_chat_say(&chat, "search for dentist");
    cr_expect_eq(json_array_size(json_object_get(s, "tasks")), 1, "%s", td_test_chat_resp(s));
    cr_expect(strstr(td_test_chat_resp(s), "Dentist appointment"), "%s", td_test_chat_resp(s));
    json_decref(s);
    json_t *d = td_test_chat_say(&chat, "delete the task called \"Pay rent\"");
    cr_expect(strstr(td_test_chat_resp(d), "Deleted \"Pay rent\""), "%s", td_test_chat_resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s'", a), 0);
    json_t *n = td_test_chat_say(&chat, "delete the task called \"Nothing like it\"");
    cr_expect(strstr(td_test_chat_resp(n), "couldn't find"), "%s", td_test_chat_resp(n));
    json_decref(n);

    cr_assert_eq(td_test_api_json(chat.roles.port, chat.user.token, "POST", "/api/tasks",
                                  "{\"title\":\"Late one\",\"due_at\":\"2020-01-01T09:00:00Z\"}",
                                  NULL, NULL), 201);
    json_t *o = td_test_chat_say(&chat, "what's overdue?");
    cr_expect_eq(json_array_size(json_object_get(o, "tasks")), 1, "%s", td_test_chat_resp(o));
    cr_expect(strstr(td_test_chat_resp(o), "Late one"), "%s", td_test_chat_resp(o));
    json_decref(o);

    json_t *w = td_test_chat_say(&chat, "add stand-up every weekday at 9am");
    char id[37];
    td_test_chat_first_task_id(w, id);
    json_decref(w);
    json_t *t0 = td_test_chat_task(&chat, id);
    char due0[40];
    snprintf(due0, sizeof due0, "%s", td_test_jstr(t0, "due_at"));
    json_decref(t0);
    json_t *k = td_test_chat_say(&chat, "skip it");
    cr_expect(strstr(td_test_chat_resp(k), "Skipped to the next occurrence of"), "%s", td_test_chat_resp(k));
    json_decref(k);
    json_t *t1 = td_test_chat_task(&chat, id);
    cr_expect_str_neq(td_test_jstr(t1, "due_at"), due0);
    json_decref(t1);
    json_t *un = td_test_chat_say(&chat, "undo");   /* not the add before the skip */
    cr_expect(strstr(td_test_chat_resp(un), "nothing to undo"), "%s", td_test_chat_resp(un));
    json_decref(un);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 1);
}

Test(api_chat_intents, the_answer_says_which_fields_were_set)
{
    json_t *a = td_test_chat_say(&chat, "add stretch remind me 30 minutes before");
    char id[37];
    td_test_chat_first_task_id(a, id);
    cr_expect(strstr(td_test_chat_resp(a), "Added \"stretch\""), "%s", td_test_chat_resp(a));
    json_t *t = td_test_chat_task(&chat, id);
    cr_assert(t, "%s", td_test_chat_resp(a));
    /* Whether the task model takes an offset reminder without a due date or not, the answer
     * says what happened. */
    if (json_array_size(json_object_get(t, "reminders")) == 0)
        cr_expect(strstr(td_test_chat_resp(a), "But I couldn't set everything (set_reminders)"), "%s", td_test_chat_resp(a));
    else
        cr_expect(strstr(td_test_chat_resp(a), "with a reminder"), "%s", td_test_chat_resp(a));
    json_decref(t);
    json_decref(a);
}

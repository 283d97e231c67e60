/* roles/api/chat_undo.c: undo reverts the last add, complete, delete (the task comes back
 * with its fields) and update (only what changed), once. Through POST /api/chat with the
 * api role in the test process on a real PostgreSQL; checked through REST and the rows. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/chat_harness.h"

TD_TEST_CHAT_SUITE(api_chat_undo);

Test(api_chat_undo, undo_add_complete_delete_update)
{
    json_t *a = td_test_chat_say(&chat, "add renew passport friday #admin");
    char id[37];
    td_test_chat_first_task_id(a, id);
    json_decref(a);
    json_t *u = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(u), "Undone"), "%s", td_test_chat_resp(u));
    json_decref(u);
    json_t *t = td_test_chat_task(&chat, id);
    cr_expect_null(t, "the added task is gone");
    json_decref(t);

    json_decref(td_test_chat_say(&chat, "add book flights"));
    json_t *c = td_test_chat_say(&chat, "mark it done");
    td_test_chat_first_task_id(c, id);
    json_decref(c);
    json_decref(td_test_chat_say(&chat, "undo"));
    t = td_test_chat_task(&chat, id);
    cr_expect_str_eq(td_test_jstr(t, "status"), "pending");
    json_decref(t);

    json_t *up = td_test_chat_say(&chat, "rename it to \"book cheap flights\"");
    t = td_test_chat_task(&chat, id);
    cr_expect_str_eq(td_test_jstr(t, "title"), "book cheap flights", "%s", td_test_chat_resp(up));
    json_decref(t);
    json_decref(up);
    json_t *uu = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(uu), "Undone"), "%s %s", td_test_chat_resp(uu), json_dumps(json_object_get(uu, "tool_calls"), JSON_COMPACT));
    char *calls = json_dumps(json_object_get(uu, "tool_calls"), JSON_COMPACT);
    cr_expect_eq(json_array_size(json_object_get(uu, "tool_calls")), 2, "%s", calls);
    free(calls);
    json_decref(uu);
    t = td_test_chat_task(&chat, id);
    cr_expect_str_eq(td_test_jstr(t, "title"), "book flights");
    json_decref(t);

    json_decref(td_test_chat_say(&chat, "add dentist appointment tomorrow at 3pm #health"));
    json_t *d = td_test_chat_say(&chat, "delete it");
    td_test_chat_first_task_id(d, id);
    cr_expect(strstr(td_test_chat_resp(d), "Deleted"), "%s", td_test_chat_resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 0);
    json_t *r = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(r), "is back"), "%s", td_test_chat_resp(r));
    json_decref(r);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND "
                                 "title = 'dentist appointment' AND 'health' = ANY (tags) AND "
                                 "due_at IS NOT NULL", chat.user.id), 1);
    json_t *none = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(none), "nothing to undo"), "%s", td_test_chat_resp(none));
    json_decref(none);
}

Test(api_chat_undo, update_due_priority_tags_then_undo_restores_them)
{
    json_t *a = td_test_chat_say(&chat, "add submit report tomorrow at 10am");
    char id[37];
    td_test_chat_first_task_id(a, id);
    json_decref(a);
    json_t *before = td_test_chat_task(&chat, id);
    json_t *u = td_test_chat_say(&chat, "move it to friday at 5pm");
    cr_expect(strstr(td_test_chat_resp(u), "Updated \"submit report\" (due Fri"), "%s", td_test_chat_resp(u));
    cr_expect(strstr(td_test_chat_resp(u), "5:00 PM"), "%s", td_test_chat_resp(u));
    json_decref(u);
    json_decref(td_test_chat_say(&chat, "make it high priority"));
    json_decref(td_test_chat_say(&chat, "tag it #work"));
    json_t *t = td_test_chat_task(&chat, id);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "tags"), 0)), "work");
    cr_expect(strstr(td_test_jstr(t, "due_at"), "T17:00:00Z"), "%s", td_test_jstr(t, "due_at"));
    json_decref(t);
    json_decref(td_test_chat_say(&chat, "undo"));   /* the tag */
    t = td_test_chat_task(&chat, id);
    cr_expect_eq(json_array_size(json_object_get(t, "tags")), 0);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    json_decref(t);
    json_decref(before);
}

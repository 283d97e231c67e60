/* roles/api/chat_refs.c: "it", "the second one", "them all" and titles resolve to the
 * right tasks, an ambiguous title asks "Which one?" and the answer acts, and deleting
 * several tasks waits for a yes. Through POST /api/chat with the api role in the test
 * process on a real PostgreSQL; what the chat did is checked through REST and the rows. */
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

TestSuite(api_chat_refs, .init = start, .fini = stop, .timeout = 90);

Test(api_chat_refs, list_then_the_second_one)
{
    char a[37], b[37];
    td_test_chat_add_rest(&chat, "Alpha report", a);
    td_test_chat_add_rest(&chat, "Beta review", b);
    json_t *l = td_test_chat_say(&chat, "show my tasks");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 2, "%s", td_test_chat_resp(l));
    cr_expect(strstr(td_test_chat_resp(l), "1. "), "%s", td_test_chat_resp(l));
    const char *second = td_test_jstr(json_array_get(json_object_get(l, "tasks"), 1), "id");
    char want[37];
    snprintf(want, sizeof want, "%s", second ? second : "");
    json_decref(l);
    json_t *c = td_test_chat_say(&chat, "complete the second one");
    json_t *t = td_test_chat_task(&chat, want);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "status"), "completed", "%s", td_test_chat_resp(c));
    json_decref(t);
    json_decref(c);
    /* "the first one" alone is a reference (not a task called that), then "it". */
    json_t *f = td_test_chat_say(&chat, "the first one");
    cr_expect(strstr(td_test_chat_resp(f), "What should I do with"), "%s", td_test_chat_resp(f));
    cr_expect_eq(json_array_size(json_object_get(f, "tool_calls")), 0);
    json_decref(f);
    json_t *d = td_test_chat_say(&chat, "delete it");
    cr_expect(strstr(td_test_chat_resp(d), "Deleted"), "%s", td_test_chat_resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 1);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s'", want), 1);
}

Test(api_chat_refs, ambiguity_asks_back_and_the_answer_acts)
{
    char a[37], b[37];
    td_test_chat_add_rest(&chat, "Call mom", a);
    td_test_chat_add_rest(&chat, "Call mom about flights", b);
    json_t *q = td_test_chat_say(&chat, "complete call mom");
    cr_expect(strstr(td_test_chat_resp(q), "Which one: 1. "), "%s", td_test_chat_resp(q));
    cr_expect(strstr(td_test_chat_resp(q), "2. "), "%s", td_test_chat_resp(q));
    cr_expect_eq(json_array_size(json_object_get(q, "tool_calls")), 1);   /* the lookup only */
    const char *r = td_test_chat_resp(q);
    int flights_second = strstr(r, "2. Call mom about flights") != NULL;
    json_decref(q);
    json_t *c = td_test_chat_say(&chat, "the second");
    json_t *ta = td_test_chat_task(&chat, a), *tb = td_test_chat_task(&chat, b);
    const char *want = flights_second ? b : a;
    json_t *done = flights_second ? tb : ta, *other = flights_second ? ta : tb;
    (void)want;
    cr_expect_str_eq(td_test_jstr(done, "status"), "completed", "%s", td_test_chat_resp(c));
    cr_expect_str_eq(td_test_jstr(other, "status"), "pending");
    json_decref(ta);
    json_decref(tb);
    json_decref(c);
}

Test(api_chat_refs, deleting_several_asks_for_confirmation)
{
    char a[37], b[37];
    td_test_chat_add_rest(&chat, "Old thing one", a);
    td_test_chat_add_rest(&chat, "Old thing two", b);
    json_decref(td_test_chat_say(&chat, "show my tasks"));
    json_t *q = td_test_chat_say(&chat, "delete them all");
    cr_expect(strstr(td_test_chat_resp(q), "Delete these 2 tasks?"), "%s", td_test_chat_resp(q));
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 2);
    json_decref(q);
    json_t *no = td_test_chat_say(&chat, "no");
    cr_expect(strstr(td_test_chat_resp(no), "deleted nothing"), "%s", td_test_chat_resp(no));
    json_decref(no);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 2);
    json_decref(td_test_chat_say(&chat, "delete them all"));
    json_t *y = td_test_chat_say(&chat, "yes");
    cr_expect(strstr(td_test_chat_resp(y), "Deleted 2 tasks"), "%s", td_test_chat_resp(y));
    json_decref(y);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 0);
    /* Undo brings both back. */
    json_t *u = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(u), "Undone"), "%s", td_test_chat_resp(u));
    json_decref(u);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND title LIKE 'Old thing%%'", chat.user.id), 2);
}

Test(api_chat_refs, delete_all_completed_asks_then_deletes_only_those)
{
    char a[37], b[37], c[37];
    td_test_chat_add_rest(&chat, "Old report", a);
    td_test_chat_add_rest(&chat, "Old invoice", b);
    td_test_chat_add_rest(&chat, "Still open", c);
    json_decref(td_test_chat_say(&chat, "complete old report"));
    json_decref(td_test_chat_say(&chat, "complete old invoice"));
    json_t *q = td_test_chat_say(&chat, "delete all completed tasks");
    cr_expect(strstr(td_test_chat_resp(q), "Delete these 2 tasks?"), "%s", td_test_chat_resp(q));
    json_decref(q);
    json_t *y = td_test_chat_say(&chat, "yes");
    cr_expect(strstr(td_test_chat_resp(y), "Deleted 2 tasks"), "%s", td_test_chat_resp(y));
    json_decref(y);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", chat.user.id), 1);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s'", c), 1);
}

Test(api_chat_refs, mark_them_all_done_after_a_filtered_list)
{
    char a[37], b[37], c[37];
    td_test_chat_add_rest(&chat, "Write intro", a);
    td_test_chat_add_rest(&chat, "Write outro", b);
    td_test_chat_add_rest(&chat, "Other thing", c);
    json_decref(td_test_chat_say(&chat, "search for write"));
    json_t *m = td_test_chat_say(&chat, "mark them all done");
    cr_expect(strstr(td_test_chat_resp(m), "Completed 2 tasks"), "%s", td_test_chat_resp(m));
    json_decref(m);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND status = 'completed'",
                                 chat.user.id), 2);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND status = 'pending'", c), 1);
    json_t *r = td_test_chat_say(&chat, "reopen the last one");
    cr_expect(strstr(td_test_chat_resp(r), "Reopened"), "%s", td_test_chat_resp(r));
    json_decref(r);
    json_t *u = td_test_chat_say(&chat, "complete that one");
    cr_expect(strstr(td_test_chat_resp(u), "Completed"), "%s", td_test_chat_resp(u));
    json_decref(u);
    json_t *un = td_test_chat_say(&chat, "undo");
    cr_expect(strstr(td_test_chat_resp(un), "back to pending"), "%s", td_test_chat_resp(un));
    json_decref(un);
    cr_expect_eq(td_test_pg_long(chat.pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND status = 'completed'",
                                 chat.user.id), 1);
}

#define _GNU_SOURCE   /* vasprintf */
/* roles/api/chat_engine.c: each intent end to end through POST /api/chat, the api role
 * running in the test process on a real PostgreSQL. What the chat did is checked through
 * REST (GET /api/tasks/{id}) and the rows, not through its own words alone. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

extern const struct td_role td_role_api;
static const struct td_role *const roles[] = {&td_role_api};

static struct td_test_roles S;
static struct td_test_pg *pg;
static struct td_test_user user;
static char conv[64];

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, 0);
    td_test_user_fake(&user);
    conv[0] = '\0';
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(api_chat_engine, .init = start, .fini = stop, .timeout = 90);

/* Sends message in the current conversation (starting one the first time); returns the
 * answer (asserts 200). */
static json_t *say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    cr_assert(vasprintf(&msg, fmt, ap) >= 0);
    va_end(ap);
    json_t *m = json_pack("{s:s}", "message", msg);
    if (conv[0])
        json_object_set_new(m, "conversation_id", json_string(conv));
    char *body = json_dumps(m, JSON_COMPACT);
    json_t *j = NULL;
    int st = td_test_api_json(S.port, user.token, "POST", "/api/chat", body, NULL, &j);
    cr_assert_eq(st, 200, "chat %s: %d", msg, st);
    const char *id = td_test_jstr(j, "conversation_id");
    cr_assert(id);
    snprintf(conv, sizeof conv, "%s", id);
    free(body);
    json_decref(m);
    free(msg);
    return j;
}

static const char *resp(json_t *j)
{
    const char *r = td_test_jstr(j, "response");
    return r ? r : "(none)";
}

/* The task through REST. */
static json_t *task(const char *id)
{
    char *path = td_test_fmt("/api/tasks/%s", id);
    json_t *j = NULL;
    int st = td_test_api_json(S.port, user.token, "GET", path, NULL, NULL, &j);
    free(path);
    if (st != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *first_task_id(json_t *j, char out[37])
{
    const char *id = td_test_jstr(json_array_get(json_object_get(j, "tasks"), 0), "id");
    snprintf(out, 37, "%s", id ? id : "");
    return out;
}

static void add_rest(const char *title, char id[37])
{
    char *body = td_test_fmt("{\"title\":\"%s\"}", title);
    json_t *t = td_test_create_task(S.port, user.token, body);
    snprintf(id, 37, "%s", td_test_jstr(t, "id"));
    json_decref(t);
    free(body);
}

Test(api_chat_engine, add_with_due_priority_tags_reminder_shows_in_rest)
{
    json_t *a = say("add call the plumber tomorrow at 9am #home high priority remind me 30 minutes before");
    char id[37];
    first_task_id(a, id);
    cr_assert(id[0], "answer: %s", resp(a));
    cr_expect(strstr(resp(a), "call the plumber") || strstr(resp(a), "Call the plumber"), "%s", resp(a));
    cr_expect(strstr(resp(a), "at 9:00 AM"), "%s", resp(a));
    cr_expect_geq(json_array_size(json_object_get(a, "tool_calls")), 4);
    json_t *t = task(id);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "tags"), 0)), "home");
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 1);
    const char *due = td_test_jstr(t, "due_at");
    cr_expect(due && strstr(due, "T09:00:00Z"), "due %s", due ? due : "(none)");
    json_decref(t);
    json_decref(a);
}

Test(api_chat_engine, add_recurring_task_has_its_rrule)
{
    json_t *a = say("add water the plants every other tuesday at 8am");
    char id[37];
    first_task_id(a, id);
    json_t *t = task(id);
    cr_assert(t, "answer: %s", resp(a));
    cr_expect(strstr(td_test_jstr(t, "recurrence") ? td_test_jstr(t, "recurrence") : "",
                     "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"), "%s", td_test_jstr(t, "recurrence"));
    json_decref(t);
    json_decref(a);
}

Test(api_chat_engine, complete_it_after_adding)
{
    json_decref(say("add buy milk"));
    json_t *c = say("mark it done");
    char id[37];
    first_task_id(c, id);
    cr_expect(strstr(resp(c), "Completed \"buy milk\"") || strstr(resp(c), "Completed \"Buy milk\""),
              "%s", resp(c));
    json_t *t = task(id);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "status"), "completed");
    json_decref(t);
    json_decref(c);
}

Test(api_chat_engine, list_then_the_second_one)
{
    char a[37], b[37];
    add_rest("Alpha report", a);
    add_rest("Beta review", b);
    json_t *l = say("show my tasks");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 2, "%s", resp(l));
    cr_expect(strstr(resp(l), "1. "), "%s", resp(l));
    const char *second = td_test_jstr(json_array_get(json_object_get(l, "tasks"), 1), "id");
    char want[37];
    snprintf(want, sizeof want, "%s", second ? second : "");
    json_decref(l);
    json_t *c = say("complete the second one");
    json_t *t = task(want);
    cr_assert(t);
    cr_expect_str_eq(td_test_jstr(t, "status"), "completed", "%s", resp(c));
    json_decref(t);
    json_decref(c);
    /* "the first one" alone is a reference (not a task called that), then "it". */
    json_t *f = say("the first one");
    cr_expect(strstr(resp(f), "What should I do with"), "%s", resp(f));
    cr_expect_eq(json_array_size(json_object_get(f, "tool_calls")), 0);
    json_decref(f);
    json_t *d = say("delete it");
    cr_expect(strstr(resp(d), "Deleted"), "%s", resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", want), 1);
}

Test(api_chat_engine, list_with_filters)
{
    char a[37];
    add_rest("Plain one", a);
    json_decref(say("add pay rent #money"));
    json_t *l = say("show my #money tasks");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 1, "%s", resp(l));
    json_decref(l);
    json_decref(say("add file taxes tomorrow"));
    l = say("what's due tomorrow?");
    cr_expect_eq(json_array_size(json_object_get(l, "tasks")), 1, "%s", resp(l));
    cr_expect(strstr(resp(l), "file taxes"), "%s", resp(l));
    json_decref(l);
}

Test(api_chat_engine, ambiguity_asks_back_and_the_answer_acts)
{
    char a[37], b[37];
    add_rest("Call mom", a);
    add_rest("Call mom about flights", b);
    json_t *q = say("complete call mom");
    cr_expect(strstr(resp(q), "Which one: 1. "), "%s", resp(q));
    cr_expect(strstr(resp(q), "2. "), "%s", resp(q));
    cr_expect_eq(json_array_size(json_object_get(q, "tool_calls")), 1);   /* the lookup only */
    const char *r = resp(q);
    int flights_second = strstr(r, "2. Call mom about flights") != NULL;
    json_decref(q);
    json_t *c = say("the second");
    json_t *ta = task(a), *tb = task(b);
    const char *want = flights_second ? b : a;
    json_t *done = flights_second ? tb : ta, *other = flights_second ? ta : tb;
    (void)want;
    cr_expect_str_eq(td_test_jstr(done, "status"), "completed", "%s", resp(c));
    cr_expect_str_eq(td_test_jstr(other, "status"), "pending");
    json_decref(ta);
    json_decref(tb);
    json_decref(c);
}

Test(api_chat_engine, deleting_several_asks_for_confirmation)
{
    char a[37], b[37];
    add_rest("Old thing one", a);
    add_rest("Old thing two", b);
    json_decref(say("show my tasks"));
    json_t *q = say("delete them all");
    cr_expect(strstr(resp(q), "Delete these 2 tasks?"), "%s", resp(q));
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 2);
    json_decref(q);
    json_t *no = say("no");
    cr_expect(strstr(resp(no), "deleted nothing"), "%s", resp(no));
    json_decref(no);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 2);
    json_decref(say("delete them all"));
    json_t *y = say("yes");
    cr_expect(strstr(resp(y), "Deleted 2 tasks"), "%s", resp(y));
    json_decref(y);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 0);
    /* Undo brings both back. */
    json_t *u = say("undo");
    cr_expect(strstr(resp(u), "Undone"), "%s", resp(u));
    json_decref(u);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND title LIKE 'Old thing%%'", user.id), 2);
}

Test(api_chat_engine, undo_add_complete_delete_update)
{
    json_t *a = say("add renew passport friday #admin");
    char id[37];
    first_task_id(a, id);
    json_decref(a);
    json_t *u = say("undo");
    cr_expect(strstr(resp(u), "Undone"), "%s", resp(u));
    json_decref(u);
    json_t *t = task(id);
    cr_expect_null(t, "the added task is gone");
    json_decref(t);

    json_decref(say("add book flights"));
    json_t *c = say("mark it done");
    first_task_id(c, id);
    json_decref(c);
    json_decref(say("undo"));
    t = task(id);
    cr_expect_str_eq(td_test_jstr(t, "status"), "pending");
    json_decref(t);

    json_t *up = say("rename it to \"book cheap flights\"");
    t = task(id);
    cr_expect_str_eq(td_test_jstr(t, "title"), "book cheap flights", "%s", resp(up));
    json_decref(t);
    json_decref(up);
    json_t *uu = say("undo");
    cr_expect(strstr(resp(uu), "Undone"), "%s %s", resp(uu), json_dumps(json_object_get(uu, "tool_calls"), JSON_COMPACT));
    char *calls = json_dumps(json_object_get(uu, "tool_calls"), JSON_COMPACT);
    cr_expect_eq(json_array_size(json_object_get(uu, "tool_calls")), 2, "%s", calls);
    free(calls);
    json_decref(uu);
    t = task(id);
    cr_expect_str_eq(td_test_jstr(t, "title"), "book flights");
    json_decref(t);

    json_decref(say("add dentist appointment tomorrow at 3pm #health"));
    json_t *d = say("delete it");
    first_task_id(d, id);
    cr_expect(strstr(resp(d), "Deleted"), "%s", resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 0);
    json_t *r = say("undo");
    cr_expect(strstr(resp(r), "is back"), "%s", resp(r));
    json_decref(r);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND "
                                 "title = 'dentist appointment' AND 'health' = ANY (tags) AND "
                                 "due_at IS NOT NULL", user.id), 1);
    json_t *none = say("undo");
    cr_expect(strstr(resp(none), "nothing to undo"), "%s", resp(none));
    json_decref(none);
}

Test(api_chat_engine, help_and_smalltalk_do_nothing)
{
    json_t *h = say("help");
    cr_expect(strstr(resp(h), "I can add tasks"), "%s", resp(h));
    cr_expect_eq(json_array_size(json_object_get(h, "tool_calls")), 0);
    json_decref(h);
    json_t *s = say("thanks");
    cr_expect_eq(json_array_size(json_object_get(s, "tool_calls")), 0, "%s", resp(s));
    json_decref(s);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 0);
}

Test(api_chat_engine, due_date_is_said_in_the_users_zone)
{
    /* A signed-up user in Paris: 9am there is 08:00Z in winter. */
    struct td_test_user u;
    td_test_signup(S.port, "paris@example.com", "correct horse battery", "P", &u);
    cr_assert_eq(td_test_api_json(S.port, u.token, "PATCH", "/api/me",
                                  "{\"time_zone\":\"Europe/Paris\"}", NULL, NULL), 200);
    json_t *j = NULL;
    cr_assert_eq(td_test_api_json(S.port, u.token, "POST", "/api/chat",
                                  "{\"message\":\"add call the bank tomorrow at 9am\"}", NULL, &j), 200);
    cr_expect(strstr(resp(j), "at 9:00 AM"), "%s", resp(j));
    const char *due = td_test_jstr(json_array_get(json_object_get(j, "tasks"), 0), "due_at");
    cr_expect(due && strstr(due, "T08:00:00Z"), "due %s", due ? due : "(none)");
    json_decref(j);
}

Test(api_chat_engine, update_due_priority_tags_then_undo_restores_them)
{
    json_t *a = say("add submit report tomorrow at 10am");
    char id[37];
    first_task_id(a, id);
    json_decref(a);
    json_t *before = task(id);
    json_t *u = say("move it to friday at 5pm");
    cr_expect(strstr(resp(u), "Updated \"submit report\" (due Fri"), "%s", resp(u));
    cr_expect(strstr(resp(u), "5:00 PM"), "%s", resp(u));
    json_decref(u);
    json_decref(say("make it high priority"));
    json_decref(say("tag it #work"));
    json_t *t = task(id);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "tags"), 0)), "work");
    cr_expect(strstr(td_test_jstr(t, "due_at"), "T17:00:00Z"), "%s", td_test_jstr(t, "due_at"));
    json_decref(t);
    json_decref(say("undo"));   /* the tag */
    t = task(id);
    cr_expect_eq(json_array_size(json_object_get(t, "tags")), 0);
    cr_expect_str_eq(td_test_jstr(t, "priority"), "high");
    json_decref(t);
    json_decref(before);
}

Test(api_chat_engine, reminders_set_and_cancelled_on_it)
{
    json_t *a = say("add team meeting tomorrow at 2pm");
    char id[37];
    first_task_id(a, id);
    json_decref(a);
    json_t *r = say("set a reminder for it 1 hour before");
    cr_expect(strstr(resp(r), "Set a reminder on \"team meeting\""), "%s", resp(r));
    json_decref(r);
    json_t *t = task(id);
    cr_expect_str_eq(td_test_jstr(json_array_get(json_object_get(t, "reminders"), 0), "offset"), "PT1H");
    json_decref(t);
    r = say("remind me at 8am");
    json_decref(r);
    t = task(id);
    cr_expect(td_test_jstr(json_array_get(json_object_get(t, "reminders"), 0), "at"));
    json_decref(t);
    r = say("cancel the reminders");
    cr_expect(strstr(resp(r), "Cancelled the reminders of \"team meeting\""), "%s", resp(r));
    json_decref(r);
    t = task(id);
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 0);
    json_decref(t);
    r = say("undo");
    cr_expect(strstr(resp(r), "Undone"), "%s", resp(r));
    json_decref(r);
    t = task(id);
    cr_expect_eq(json_array_size(json_object_get(t, "reminders")), 1);
    json_decref(t);
}

Test(api_chat_engine, search_skip_overdue_and_a_title_reference)
{
    char a[37], b[37];
    add_rest("Pay rent", a);
    add_rest("Dentist appointment", b);
    json_t *s = say("search for dentist");
    cr_expect_eq(json_array_size(json_object_get(s, "tasks")), 1, "%s", resp(s));
    cr_expect(strstr(resp(s), "Dentist appointment"), "%s", resp(s));
    json_decref(s);
    json_t *d = say("delete the task called \"Pay rent\"");
    cr_expect(strstr(resp(d), "Deleted \"Pay rent\""), "%s", resp(d));
    json_decref(d);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", a), 0);
    json_t *n = say("delete the task called \"Nothing like it\"");
    cr_expect(strstr(resp(n), "couldn't find"), "%s", resp(n));
    json_decref(n);

    cr_assert_eq(td_test_api_json(S.port, user.token, "POST", "/api/tasks",
                                  "{\"title\":\"Late one\",\"due_at\":\"2020-01-01T09:00:00Z\"}",
                                  NULL, NULL), 201);
    json_t *o = say("what's overdue?");
    cr_expect_eq(json_array_size(json_object_get(o, "tasks")), 1, "%s", resp(o));
    cr_expect(strstr(resp(o), "Late one"), "%s", resp(o));
    json_decref(o);

    json_t *w = say("add stand-up every weekday at 9am");
    char id[37];
    first_task_id(w, id);
    json_decref(w);
    json_t *t0 = task(id);
    char due0[40];
    snprintf(due0, sizeof due0, "%s", td_test_jstr(t0, "due_at"));
    json_decref(t0);
    json_t *k = say("skip it");
    cr_expect(strstr(resp(k), "Skipped to the next occurrence of"), "%s", resp(k));
    json_decref(k);
    json_t *t1 = task(id);
    cr_expect_str_neq(td_test_jstr(t1, "due_at"), due0);
    json_decref(t1);
    json_t *un = say("undo");   /* not the add before the skip */
    cr_expect(strstr(resp(un), "nothing to undo"), "%s", resp(un));
    json_decref(un);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", id), 1);
}

Test(api_chat_engine, delete_all_completed_asks_then_deletes_only_those)
{
    char a[37], b[37], c[37];
    add_rest("Old report", a);
    add_rest("Old invoice", b);
    add_rest("Still open", c);
    json_decref(say("complete old report"));
    json_decref(say("complete old invoice"));
    json_t *q = say("delete all completed tasks");
    cr_expect(strstr(resp(q), "Delete these 2 tasks?"), "%s", resp(q));
    json_decref(q);
    json_t *y = say("yes");
    cr_expect(strstr(resp(y), "Deleted 2 tasks"), "%s", resp(y));
    json_decref(y);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s'", user.id), 1);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s'", c), 1);
}

Test(api_chat_engine, mark_them_all_done_after_a_filtered_list)
{
    char a[37], b[37], c[37];
    add_rest("Write intro", a);
    add_rest("Write outro", b);
    add_rest("Other thing", c);
    json_decref(say("search for write"));
    json_t *m = say("mark them all done");
    cr_expect(strstr(resp(m), "Completed 2 tasks"), "%s", resp(m));
    json_decref(m);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND status = 'completed'",
                                 user.id), 2);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE id = '%s' AND status = 'pending'", c), 1);
    json_t *r = say("reopen the last one");
    cr_expect(strstr(resp(r), "Reopened"), "%s", resp(r));
    json_decref(r);
    json_t *u = say("complete that one");
    cr_expect(strstr(resp(u), "Completed"), "%s", resp(u));
    json_decref(u);
    json_t *un = say("undo");
    cr_expect(strstr(resp(un), "back to pending"), "%s", resp(un));
    json_decref(un);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM tasks WHERE user_id = '%s' AND status = 'completed'",
                                 user.id), 1);
}

Test(api_chat_engine, the_answer_says_which_fields_were_set)
{
    json_t *a = say("add stretch remind me 30 minutes before");
    char id[37];
    first_task_id(a, id);
    cr_expect(strstr(resp(a), "Added \"stretch\""), "%s", resp(a));
    json_t *t = task(id);
    cr_assert(t, "%s", resp(a));
    /* Whether the task model takes an offset reminder without a due date or not, the answer
     * says what happened. */
    if (json_array_size(json_object_get(t, "reminders")) == 0)
        cr_expect(strstr(resp(a), "But I couldn't set everything (set_reminders)"), "%s", resp(a));
    else
        cr_expect(strstr(resp(a), "with a reminder"), "%s", resp(a));
    json_decref(t);
    json_decref(a);
}

/* roles/sync/sync.c: the task-updates and reminders consumers and the fan-out. The sync
 * role runs alone in the test process with a relay (the local bus); tasks and their
 * events are written by SQL as the api writes them (todod_emit), so these tests also hold
 * the migration's task-updates rows to their schema. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles/sync/sync.h"
#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/json_schema.h"
#include "tests/support/role_harness.h"
#include "tests/support/ws_harness.h"

extern const struct td_role td_role_sync;
static const struct td_role *const roles[] = {&td_role_sync};

static struct td_test_roles S;
static struct td_test_pg *pg;

static void start(void)
{
    pg = td_test_roles_pg();
    td_test_roles_start(&S, roles, 1, TD_NEED_RELAY);
}

static void stop(void)
{
    td_test_roles_stop(&S);
}

TestSuite(sync_sync, .init = start, .fini = stop, .timeout = 60);

static void open_ws(struct td_test_ws *ws, const struct td_test_user *u)
{
    char *auth = td_test_fmt("Authorization: Bearer %s", u->token);
    const char *h[] = {auth, NULL};
    cr_assert_eq(td_test_ws_open(ws, S.port, "/ws", h, 0), 101, "%s", ws->body);
    json_t *hello = td_test_ws_next(ws, 5000);
    cr_assert_str_eq(td_test_jstr(hello, "type"), "hello");
    json_decref(hello);
    free(auth);
}

/* A task of u written and announced as the api does; returns its id (static). */
static const char *write_task(const struct td_test_user *u, const char *kind, const char *id_in)
{
    static char id[37];
    if (!id_in) {
        td_test_uuid(id);
        free(td_test_pg_queryf(pg, "INSERT INTO tasks (id, user_id, title) VALUES ('%s', '%s', 'sync me')",
                               id, u->id));
    }
    free(td_test_pg_queryf(pg, "SELECT todod_emit(t, '%s', NULL, NULL) FROM tasks t WHERE id = '%s'; "
                               "NOTIFY todod_outbox", kind, id_in ? id_in : id));
    return id_in ? id_in : id;
}

Test(sync_sync, updates_go_to_every_connection_of_their_user_in_order)
{
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    struct td_test_ws a1, a2, b1;
    open_ws(&a1, &a);
    open_ws(&a2, &a);
    open_ws(&b1, &b);
    char id[37];
    snprintf(id, sizeof id, "%s", write_task(&a, "created", NULL));
    write_task(&a, "updated", id);
    write_task(&a, "completed", id);
    static const char *const kinds[] = {"task_created", "task_updated", "task_completed"};
    for (int i = 0; i < 3; i++) {
        json_t *m1 = td_test_ws_next(&a1, 5000), *m2 = td_test_ws_next(&a2, 5000);
        cr_assert(m1 && m2, "update %d missing", i);
        cr_expect_eq(json_integer_value(json_object_get(m1, "seq")), i + 1);
        cr_expect_str_eq(td_test_jstr(m1, "event_type"), kinds[i]);
        cr_expect_str_eq(td_test_jstr(m1, "task_id"), id);
        cr_expect_str_eq(td_test_jstr(m1, "task.title"), "sync me");
        cr_expect(json_equal(m1, m2));
        json_decref(m1);
        json_decref(m2);
    }
    json_t *none = td_test_ws_next(&b1, 300);
    cr_expect_null(none, "B got A's update");
    td_test_ws_free(&a1);
    td_test_ws_free(&a2);
    td_test_ws_free(&b1);
}

Test(sync_sync, task_updates_rows_are_numbered_per_user_in_the_changes_transaction)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    char id[37];
    snprintf(id, sizeof id, "%s", write_task(&a, "created", NULL));
    write_task(&a, "deleted", id);
    char *text = td_test_pg_queryf(pg,
        "SELECT json_agg(json_build_object('event', o.event, 'key', o.key, 'same_tx', "
        "  o.created_at = (SELECT e.created_at FROM outbox e WHERE e.topic = 'task-events' "
        "  AND e.seq = o.seq - 1)) ORDER BY o.seq)::text FROM outbox o "
        "WHERE o.topic = 'task-updates' AND o.key = '%s'", a.id);
    json_t *rows = json_loads(text ? text : "null", 0, NULL);
    cr_assert_eq(json_array_size(rows), 2, "%s", text);
    json_t *schema = td_test_schema_load("proto/events/task-update.schema.json");
    json_t *ce = td_test_schema_load("proto/events/cloudevent.schema.json");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *ev = json_object_get(row, "event");
        char why[512];
        cr_expect_eq(td_test_schema_validate(ce, ev, why, sizeof why), 0, "%s", why);
        cr_expect_eq(td_test_schema_validate(schema, json_object_get(ev, "data"), why, sizeof why), 0,
                     "%s", why);
        cr_expect_eq(json_integer_value(td_test_jget(ev, "data.seq")), (json_int_t)i + 1);
        cr_expect(json_is_true(json_object_get(row, "same_tx")), "not written with its task event");
    }
    cr_expect_str_eq(td_test_jstr(json_array_get(rows, 0), "event.type"), "todo.task.created");
    cr_expect(json_is_null(td_test_jget(json_array_get(rows, 1), "event.data.task")));
    cr_expect_eq(td_test_pg_long(pg, "SELECT seq FROM sync_seqs WHERE user_id = '%s'", a.id), 2);
    cr_expect_eq(td_test_pg_long(pg, "SELECT count(*) FROM task_updates WHERE user_id = '%s'", a.id), 2);
    json_decref(schema);
    json_decref(ce);
    json_decref(rows);
    free(text);
}

Test(sync_sync, fired_in_app_reminders_become_notification_messages)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    struct td_test_ws ws;
    open_ws(&ws, &a);
    char task[37], nid[37];
    td_test_uuid(task);
    td_test_uuid(nid);
    /* a reminder sent and its notification, with the event todod_notify_fire writes; an
     * email reminder's event is no notification */
    free(td_test_pg_queryf(pg,
        "WITH r AS (INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, "
        "  offset_minutes, channel, state, fired_at) VALUES ('%s', '%s', 'call mum', now(), "
        "  now(), 0, 'in_app', 'sent', now()) RETURNING *), "
        "n AS (INSERT INTO notifications (id, user_id, reminder_id, task_id, title, due_at, remind_at) "
        "  SELECT '%s', user_id, id, task_id, title, due_at, remind_at FROM r), "
        "e AS (SELECT todod_reminder_event(r, 'reminder_triggered', now()) AS ev FROM r) "
        "INSERT INTO outbox (event_id, topic, key, event) SELECT (ev->>'id')::uuid, 'reminders', "
        "  '%s', ev FROM e; NOTIFY todod_outbox", task, a.id, nid, a.id));
    json_t *m = td_test_ws_next(&ws, 5000);
    cr_assert_not_null(m, "no notification");
    cr_expect_str_eq(td_test_jstr(m, "type"), "notification");
    cr_expect_str_eq(td_test_jstr(m, "notification.id"), nid);
    cr_expect_str_eq(td_test_jstr(m, "notification.title"), "call mum");
    cr_expect_str_eq(td_test_jstr(m, "notification.channel"), "in_app");
    cr_expect(json_is_false(td_test_jget(m, "notification.read")));
    json_decref(m);
    td_test_ws_free(&ws);
}

Test(sync_sync, the_frame_of_an_update_carries_what_the_contract_says)
{
    json_t *d = json_loads("{\"event_type\":\"task_updated\",\"task_id\":\"t1\",\"user_id\":\"u\","
                           "\"task\":{\"id\":\"t1\"},\"version\":2,\"timestamp\":\"x\",\"seq\":7}", 0, NULL);
    long long seq = 0;
    char *f = sync_task_frame(d, &seq);
    cr_expect_eq(seq, 7);
    cr_expect_str_eq(f, "{\"type\":\"task\",\"seq\":7,\"event_type\":\"task_updated\","
                        "\"task_id\":\"t1\",\"task\":{\"id\":\"t1\"}}");
    free(f);
    json_object_set_new(d, "task", json_null());
    f = sync_task_frame(d, &seq);
    cr_expect_str_eq(f, "{\"type\":\"task\",\"seq\":7,\"event_type\":\"task_updated\",\"task_id\":\"t1\"}");
    free(f);
    json_object_del(d, "seq");
    cr_expect_null(sync_task_frame(d, &seq));
    json_decref(d);
}

/* Every event the api writes to the outbox matches proto/events: the CloudEvents
 * envelope and the task-event data with the seeds' field names and event_type values
 * (task_created, task_updated, task_completed, task_deleted). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/json_schema.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0);
    td_test_pg_destroy(&pg);
}

TestSuite(event_contracts, .init = start, .fini = stop, .timeout = 90);

/* Creates, changes and deletes tasks through every writing route. */
static void exercise_every_write(const struct td_test_user *u)
{
    json_t *a = td_test_create_task(todod.port, u->token,
        "{\"title\":\"Pay rent\",\"priority\":\"p1\",\"tags\":[\"home\",\"money\"],"
        "\"due_at\":\"2026-12-01\",\"recurrence\":\"FREQ=MONTHLY;BYMONTHDAY=1\","
        "\"reminders\":[{\"offset\":\"P1D\",\"channel\":\"email\"},{\"at\":\"2026-11-30T18:00:00Z\"}]}");
    json_t *b = td_test_create_task(todod.port, u->token, "{\"title\":\"Call Bob\"}");
    char *pa = td_test_fmt("/api/tasks/%s", td_test_jstr(a, "id"));
    char *pb = td_test_fmt("/api/%s/tasks/%s", u->id, td_test_jstr(b, "id"));
    char *toggle = td_test_fmt("%s/complete", pb);
    const char *idem[] = {"Idempotency-Key: contract-1", NULL};
    cr_expect_eq(td_test_api_json(todod.port, u->token, "POST", "/api/tasks", "{\"title\":\"Once\"}",
                                  idem, NULL), 201);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "PATCH", pa, "{\"description\":\"by card\"}",
                                  NULL, NULL), 200);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "PUT", pb, "{\"title\":\"Call Bob back\"}",
                                  NULL, NULL), 200);
    char *complete = td_test_fmt("%s/complete", pa), *reopen = td_test_fmt("%s/reopen", pa);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "POST", complete, NULL, NULL, NULL), 200);
    /* The recur role follows the recurring task's completion with its next occurrence. */
    char *next = td_test_fmt("SELECT count(*) FROM tasks WHERE series_id = '%s'", td_test_jstr(a, "id"));
    cr_expect_eq(td_test_wait_count(&pg, 1, 20000, next), 1, "no next occurrence");
    free(next);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "POST", reopen, NULL, NULL, NULL), 200);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "PATCH", toggle, NULL, NULL, NULL), 200);
    cr_expect_eq(td_test_api_json(todod.port, u->token, "DELETE", pa, NULL, NULL, NULL), 204);
    free(complete);
    free(reopen);
    free(toggle);
    free(pa);
    free(pb);
    json_decref(a);
    json_decref(b);
}

/* The outbox rows of topic (task-events; reminders, which notify writes as it schedules
 * the reminders of these tasks, are checked in the_reminder_events_match_the_schemas). */
static json_t *outbox_rows(const char *topic)
{
    char *text = td_test_pg_queryf(&pg, "SELECT json_agg(json_build_object('event', event, "
                                        "'headers', headers, 'topic', topic, 'key', key) ORDER BY seq)::text "
                                        "FROM outbox WHERE topic = '%s'", topic);
    json_t *rows = json_loads(text ? text : "null", 0, NULL);
    free(text);
    cr_assert(json_is_array(rows), "no outbox rows");
    return rows;
}

Test(event_contracts, every_emitted_event_matches_the_schemas)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    exercise_every_write(&u);
    json_t *envelope = td_test_schema_load("proto/events/cloudevent.schema.json");
    json_t *data = td_test_schema_load("proto/events/task-event.schema.json");
    json_t *rows = outbox_rows("task-events");
    int seen[4] = {0};
    /* The seeds' names, each with its CloudEvents type. */
    static const char *const kinds[] = {"task_created", "task_updated", "task_completed",
                                        "task_deleted"};
    static const char *const types[] = {"todo.task.created", "todo.task.updated",
                                        "todo.task.completed", "todo.task.deleted"};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *ev = json_object_get(row, "event");
        char why[512];
        cr_expect_eq(td_test_schema_validate(envelope, ev, why, sizeof why), 0, "event %zu: %s", i, why);
        cr_expect_eq(td_test_schema_validate(data, json_object_get(ev, "data"), why, sizeof why), 0,
                     "event %zu data: %s", i, why);
        const char *type = td_test_jstr(ev, "type"), *kind = td_test_jstr(ev, "data.event_type");
        int k = 0;
        while (k < 4 && !(kind && !strcmp(kind, kinds[k])))
            k++;
        cr_expect_lt(k, 4, "event %zu: data.event_type %s is not one of the seeds'", i, kind);
        cr_expect(k < 4 && type && !strcmp(type, types[k]), "event %zu: type %s with event_type %s",
                  i, type, kind);
        cr_expect_str_eq(td_test_jstr(ev, "subject"), td_test_jstr(ev, "data.task_id"));
        cr_expect_str_eq(td_test_jstr(row, "topic"), "task-events");
        cr_expect_str_eq(td_test_jstr(row, "key"), u.id, "key is the user: per-user order");
        cr_expect_str_eq(td_test_jstr(row, "headers.traceparent"), td_test_jstr(ev, "traceparent"));
        if (k < 4)
            seen[k]++;
    }
    for (int k = 0; k < 4; k++)
        cr_expect_gt(seen[k], 0, "no %s event was emitted", kinds[k]);
    /* 3 creates, PATCH, PUT, complete, the next occurrence's create (recur), reopen,
     * toggle, delete */
    cr_expect_eq(json_array_size(rows), 10, "one event per change, got %zu", json_array_size(rows));
    json_decref(rows);
    json_decref(envelope);
    json_decref(data);
}

/* The notify role of `todod all` schedules a reminder a second ahead, fires it and
 * stores it in_app: reminder_scheduled, reminder_triggered and reminder_sent go to topic
 * reminders, keyed by the user, each with its CloudEvents type, and fit the envelope and
 * the reminder schema. */
Test(event_contracts, the_reminder_events_match_the_schemas)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    char at[32];
    time_t t = time(NULL) + 2;
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    char *body = td_test_fmt("{\"title\":\"Call Bob\",\"reminders\":[{\"at\":\"%s\","
                             "\"channel\":\"in_app\"}]}", at);
    json_t *task = td_test_create_task(todod.port, u.token, body);
    cr_expect_eq(td_test_wait_count(&pg, 3, 20000,
                                    "SELECT count(*) FROM outbox WHERE topic = 'reminders'"), 3,
                 "not three reminder events");
    char *text = td_test_pg_query(&pg,
        "SELECT json_agg(json_build_object('event', event, 'key', key) ORDER BY created_at, "
        "event->'data'->>'event_type' DESC)::text FROM outbox WHERE topic = 'reminders'");
    json_t *rows = json_loads(text ? text : "null", 0, NULL);
    cr_assert(json_is_array(rows));
    json_t *envelope = td_test_schema_load("proto/events/cloudevent.schema.json");
    json_t *reminder = td_test_schema_load("proto/events/reminder-event.schema.json");
    static const char *const kinds[][2] = {
        {"reminder_scheduled", "todo.reminder.scheduled"},
        {"reminder_triggered", "todo.reminder.due"},
        {"reminder_sent", "todo.reminder.sent"},
    };
    int seen[3] = {0};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *ev = json_object_get(row, "event");
        char why[512];
        cr_expect_eq(td_test_schema_validate(envelope, ev, why, sizeof why), 0, "%s", why);
        cr_expect_eq(td_test_schema_validate(reminder, json_object_get(ev, "data"), why, sizeof why), 0,
                     "data: %s", why);
        const char *kind = td_test_jstr(ev, "data.event_type");
        int k = 0;
        while (k < 3 && (!kind || strcmp(kind, kinds[k][0])))
            k++;
        cr_assert_lt(k, 3, "event_type %s", kind ? kind : "(none)");
        seen[k]++;
        cr_expect_str_eq(td_test_jstr(ev, "type"), kinds[k][1], "%s", kind);
        cr_expect_str_eq(td_test_jstr(ev, "data.task_id"), td_test_jstr(task, "id"));
        cr_expect_str_eq(td_test_jstr(ev, "data.remind_at"), at);
        cr_expect_str_eq(td_test_jstr(ev, "data.notification_type"), "in_app");
        cr_expect_str_eq(td_test_jstr(row, "key"), u.id, "key is the user");
    }
    cr_expect(seen[0] == 1 && seen[1] == 1 && seen[2] == 1, "scheduled %d, triggered %d, sent %d",
              seen[0], seen[1], seen[2]);
    json_decref(envelope);
    json_decref(reminder);
    json_decref(rows);
    json_decref(task);
    free(text);
    free(body);
}

/* The checker itself must say no: a broken event fails, naming the member. */
Test(event_contracts, the_checker_rejects_broken_events)
{
    json_t *envelope = td_test_schema_load("proto/events/cloudevent.schema.json");
    json_t *data = td_test_schema_load("proto/events/task-event.schema.json");
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{}}", "specversion", "1.0",
                           "id", "7d444840-9dc0-11d1-b245-5ffdce74fad2", "source", "/todod/api",
                           "type", "todo.task.created", "subject", "x", "time", "2026-11-23T10:00:00Z",
                           "datacontenttype", "application/json", "data");
    char why[512];
    cr_expect_eq(td_test_schema_validate(envelope, ev, why, sizeof why), 0, "%s", why);
    json_object_set_new(ev, "time", json_string("yesterday"));
    cr_expect_neq(td_test_schema_validate(envelope, ev, why, sizeof why), 0);
    cr_expect(strstr(why, ".time") != NULL, "%s", why);
    json_object_set_new(ev, "time", json_string("2026-11-23T10:00:00Z"));
    json_object_set_new(ev, "extra", json_true());
    cr_expect_neq(td_test_schema_validate(envelope, ev, why, sizeof why), 0);
    cr_expect_neq(td_test_schema_validate(data, json_object(), why, sizeof why), 0);
    cr_expect(strstr(why, "event_type") != NULL, "%s", why);
    /* The bare words todod wrote before 0006 are not the seeds' names: refused. */
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:{}}", "event_type", "created",
                          "task_id", "7d444840-9dc0-11d1-b245-5ffdce74fad2", "user_id", "u",
                          "timestamp", "2026-11-23T10:00:00Z", "task_data");
    cr_expect_neq(td_test_schema_validate(data, d, why, sizeof why), 0);
    cr_expect(strstr(why, "event_type") != NULL, "%s", why);
    json_decref(d);
    json_decref(ev);
    json_decref(envelope);
    json_decref(data);
}

/* The payload schemas of the topics the later roles will fill (task-updates, reminders)
 * describe what the api really answers: a real task fits task-updates' "task", and a
 * reminder built from a real task's reminder fits; broken ones do not. */
Test(event_contracts, task_update_and_reminder_schemas_fit_real_tasks)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = td_test_create_task(todod.port, u.token,
        "{\"title\":\"Dentist\",\"due_at\":\"2026-12-01T09:00:00Z\",\"tags\":[\"health\"],"
        "\"reminders\":[{\"offset\":\"PT1H\",\"channel\":\"email\"}]}");
    json_t *update = td_test_schema_load("proto/events/task-update.schema.json");
    json_t *reminder = td_test_schema_load("proto/events/reminder-event.schema.json");
    json_t *payload = json_pack("{s:s,s:O,s:s,s:O,s:O,s:s}", "event_type", "task_updated",
                                "task_id", json_object_get(t, "id"), "user_id", u.id,
                                "task", t, "version", json_object_get(t, "version"),
                                "timestamp", "2026-11-23T10:00:00Z");
    char why[512];
    cr_expect_eq(td_test_schema_validate(update, payload, why, sizeof why), 0, "%s", why);
    json_object_set_new(payload, "task", json_null());
    json_object_set_new(payload, "event_type", json_string("task_deleted"));
    cr_expect_eq(td_test_schema_validate(update, payload, why, sizeof why), 0, "%s", why);
    json_object_set_new(payload, "event_type", json_string("renamed"));
    cr_expect_neq(td_test_schema_validate(update, payload, why, sizeof why), 0);
    json_object_set_new(payload, "event_type", json_string("deleted"));
    cr_expect_neq(td_test_schema_validate(update, payload, why, sizeof why), 0, "the pre-0006 word");

    json_t *r = json_pack("{s:s,s:O,s:s,s:O,s:O,s:s,s:s,s:s,s:i}", "event_type", "reminder_scheduled",
                          "task_id", json_object_get(t, "id"), "user_id", u.id,
                          "title", json_object_get(t, "title"), "due_at", json_object_get(t, "due_at"),
                          "remind_at", "2026-12-01T08:00:00Z", "notification_type", "email",
                          "timestamp", "2026-11-23T10:00:00Z", "offset_minutes", 60);
    cr_expect_eq(td_test_schema_validate(reminder, r, why, sizeof why), 0, "%s", why);
    /* The seeds' three reminder names fit; the old words and "due" do not. */
    static const char *const good[] = {"reminder_scheduled", "reminder_triggered", "reminder_sent"};
    static const char *const old[] = {"scheduled", "due", "sent", "reminder_due"};
    for (int k = 0; k < 3; k++) {
        json_object_set_new(r, "event_type", json_string(good[k]));
        cr_expect_eq(td_test_schema_validate(reminder, r, why, sizeof why), 0, "%s: %s", good[k], why);
    }
    for (int k = 0; k < 4; k++) {
        json_object_set_new(r, "event_type", json_string(old[k]));
        cr_expect_neq(td_test_schema_validate(reminder, r, why, sizeof why), 0, "%s fits", old[k]);
    }
    json_object_set_new(r, "event_type", json_string("reminder_scheduled"));
    json_object_set_new(r, "remind_at", json_string("soon"));
    cr_expect_neq(td_test_schema_validate(reminder, r, why, sizeof why), 0);
    cr_expect(strstr(why, "remind_at"), "%s", why);
    json_decref(r);
    json_decref(payload);
    json_decref(update);
    json_decref(reminder);
    json_decref(t);
}

/* recurrence_pattern is the same word-or-RRULE in the api's answers (C, task_json.c), in
 * the events (SQL, todod_task_event) and in todod_task_json: a plain daily, weekly,
 * monthly or yearly rule by its word, any other rule as itself, null when none. */
Test(event_contracts, recurrence_pattern_is_the_word_or_the_rule_everywhere)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    static const struct { const char *in, *rule, *pattern; } cases[] = {
        {"\"Weekly\"", "FREQ=WEEKLY", "weekly"},
        {"\"daily\"", "FREQ=DAILY", "daily"},
        {"\"MONTHLY\"", "FREQ=MONTHLY", "monthly"},
        {"\"yearly\"", "FREQ=YEARLY", "yearly"},
        {"\"freq=daily\"", "freq=daily", "daily"},
        {"\"RRULE:FREQ=YEARLY\"", "FREQ=YEARLY", "yearly"},
        {"\"FREQ=DAILY;INTERVAL=2\"", "FREQ=DAILY;INTERVAL=2", "FREQ=DAILY;INTERVAL=2"},
        {"\"FREQ=WEEKLY;BYDAY=MO\"", "FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"},
        {"\"none\"", NULL, NULL},
        {"\"\"", NULL, NULL},
        {"null", NULL, NULL},
    };
    json_t *data = td_test_schema_load("proto/events/task-event.schema.json");
    json_t *update = td_test_schema_load("proto/events/task-update.schema.json");
    char *path = td_test_fmt("/api/%s/tasks", u.id);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = td_test_fmt("{\"title\":\"r%zu\",\"recurrence_pattern\":%s,\"isEditing\":false}",
                                 i, cases[i].in);
        json_t *t = NULL;
        cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", path, body, NULL, &t), 201, "%s", body);
        const char *id = td_test_jstr(t, "id");
        if (cases[i].rule) {
            cr_expect_str_eq(td_test_jstr(t, "recurrence"), cases[i].rule, "%s", body);
            cr_expect_str_eq(td_test_jstr(t, "recurrence_pattern"), cases[i].pattern, "%s", body);
        } else {
            cr_expect(json_is_null(json_object_get(t, "recurrence")), "%s", body);
            cr_expect(json_is_null(json_object_get(t, "recurrence_pattern")), "%s", body);
        }
        json_t *o = td_test_outbox_last(&pg, id);
        json_t *ev_pattern = td_test_jget(o, "event.data.task_data.recurrence_pattern");
        cr_expect(ev_pattern && json_equal(ev_pattern, json_object_get(t, "recurrence_pattern")),
                  "%s: event says %s", body, json_dumps(ev_pattern, JSON_ENCODE_ANY));
        char why[512];
        cr_expect_eq(td_test_schema_validate(data, td_test_jget(o, "event.data"), why, sizeof why), 0,
                     "%s: %s", body, why);
        /* todod_task_json, the shape task-updates will carry, is the api's answer. */
        char *row = td_test_pg_queryf(&pg, "SELECT todod_task_json(t)::text FROM tasks t WHERE id = '%s'", id);
        json_t *sql = json_loads(row ? row : "null", 0, NULL);
        cr_expect(json_equal(sql, t), "%s: todod_task_json %s differs from the answer %s", body, row,
                  json_dumps(t, 0));
        json_t *payload = json_pack("{s:s,s:s,s:s,s:O,s:O,s:s}", "event_type", "task_created", "task_id", id,
                                    "user_id", u.id, "task", t, "version", json_object_get(t, "version"),
                                    "timestamp", "2026-11-23T10:00:00Z");
        cr_expect_eq(td_test_schema_validate(update, payload, why, sizeof why), 0, "%s: %s", body, why);
        json_decref(payload);
        json_decref(sql);
        free(row);
        json_decref(o);
        json_decref(t);
        free(body);
    }
    /* The schemas refuse an empty pattern: "" is none, which is null. */
    json_t *bad = json_pack("{s:s}", "recurrence_pattern", "");
    char why[512];
    json_t *def = td_test_jget(data, "$defs.task_data.properties.recurrence_pattern");
    cr_assert_not_null(def);
    cr_expect_neq(td_test_schema_validate(def, json_object_get(bad, "recurrence_pattern"), why, sizeof why), 0);
    json_decref(bad);
    free(path);
    json_decref(data);
    json_decref(update);
}

/* Live sync over WebSocket (issue 13) against `todod all` with a real client
 * (tests/support/ws_harness.h): who may connect (token, ticket, Origin), what each user
 * sees (only their own updates, live and resumed), and what the server does to clients
 * that misbehave (oversized, unmasked, not reading) or when it stops (1001). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"
#include "tests/support/ws_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate", "--rate-limit-user",
                          "0", "--rate-limit-addr", "0", "--ws-queue-max", "64KiB",
                          "--ws-max-message", "4KiB", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    if (todod.pid)
        cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(sync_ws, .init = start, .fini = stop, .timeout = 120);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Opens /ws with a bearer token (query: "" or "?since=N"); asserts the upgrade and the
 * hello, and returns the hello's seq. */
static long long open_bearer(struct td_test_ws *ws, const char *token, const char *query)
{
    char *auth = td_test_fmt("Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    char *path = td_test_fmt("/ws%s", query);
    int st = td_test_ws_open(ws, todod.port, path, h, 0);
    cr_assert_eq(st, 101, "upgrade refused: %d %s", st, ws->body ? ws->body : "");
    cr_expect(ws->accept_ok, "wrong Sec-WebSocket-Accept: %s", ws->head);
    json_t *hello = td_test_ws_next(ws, 5000);
    cr_assert_not_null(hello, "no hello");
    cr_assert_str_eq(td_test_jstr(hello, "type"), "hello");
    long long seq = json_integer_value(json_object_get(hello, "seq"));
    json_decref(hello);
    free(auth);
    free(path);
    return seq;
}

static json_t *create(const char *token, const char *title)
{
    char *body = td_test_fmt("{\"title\":\"%s\"}", title);
    json_t *t = td_test_create_task(todod.port, token, body);
    free(body);
    return t;
}

static void expect_problem(struct td_test_ws *ws, int status, const char *slug)
{
    cr_expect_eq(ws->status, status, "status %d: %s", ws->status, ws->body);
    cr_expect(strstr(ws->head, "application/problem+json"), "%s", ws->head);
    char *want = td_test_fmt("problems/%s\"", slug);
    cr_expect(ws->body && strstr(ws->body, want), "%s in %s", slug, ws->body);
    free(want);
}

Test(sync_ws, tokens_and_tickets_are_checked_before_the_upgrade)
{
    struct td_test_ws ws;
    /* no credentials, a forged token, a token signed with another secret */
    td_test_ws_open(&ws, todod.port, "/ws", NULL, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    const char *bad[] = {"Authorization: Bearer not.a.token", NULL};
    td_test_ws_open(&ws, todod.port, "/ws", bad, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    struct td_test_claims c = {.sub = "someone", .has_exp = 1, .exp = 3600,
                               .secret = "another-secret-another-secret-another-secret!!"};
    char *forged = td_test_jwt_claims(&c);
    char *fh = td_test_fmt("Authorization: Bearer %s", forged);
    const char *h[] = {fh, NULL};
    td_test_ws_open(&ws, todod.port, "/ws", h, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    /* a forged ticket */
    td_test_ws_open(&ws, todod.port, "/ws?ticket=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    /* a real ticket works once */
    struct td_test_user u;
    td_test_user_fake(&u);
    json_t *t = NULL;
    cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", "/api/ws-ticket", NULL, NULL, &t), 201);
    cr_expect_eq(json_integer_value(json_object_get(t, "expires_in")), 30);
    const char *ticket = td_test_jstr(t, "ticket");
    cr_assert(ticket && strlen(ticket) >= 32);
    char *path = td_test_fmt("/ws?ticket=%s", ticket);
    cr_assert_eq(td_test_ws_open(&ws, todod.port, path, NULL, 0), 101, "%s", ws.body);
    json_t *hello = td_test_ws_next(&ws, 5000);
    cr_expect_str_eq(td_test_jstr(hello, "type"), "hello");
    json_decref(hello);
    td_test_ws_free(&ws);
    td_test_ws_open(&ws, todod.port, path, NULL, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    /* the ticket route itself needs a token; the table keeps only hashes */
    struct td_test_http r;
    cr_expect_eq(td_test_api(todod.port, NULL, "POST", "/api/ws-ticket", NULL, NULL, &r), 401);
    td_test_http_free(&r);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM ws_tickets WHERE "
                                      "encode(hash, 'escape') LIKE '%%%s%%'", ticket), 0);
    /* an expired ticket */
    cr_assert_eq(td_test_api_json(todod.port, u.token, "POST", "/api/ws-ticket", NULL, NULL, &t), 201);
    free(td_test_pg_queryf(&pg, "UPDATE ws_tickets SET expires_at = now() - interval '1 s'"));
    free(path);
    path = td_test_fmt("/ws?ticket=%s", td_test_jstr(t, "ticket"));
    td_test_ws_open(&ws, todod.port, path, NULL, 0);
    expect_problem(&ws, 401, "unauthorized");
    td_test_ws_free(&ws);
    /* not a WebSocket handshake at all */
    cr_assert_eq(td_test_http(todod.port, "GET", "/ws", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 426);
    td_test_http_free(&r);
    json_decref(t);
    free(path);
    free(fh);
    free(forged);
}

Test(sync_ws, only_the_servers_own_origin_may_connect)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    char *auth = td_test_fmt("Authorization: Bearer %s", u.token);
    const char *evil[] = {auth, "Origin: https://evil.example", NULL};
    struct td_test_ws ws;
    td_test_ws_open(&ws, todod.port, "/ws", evil, 0);
    expect_problem(&ws, 403, "origin-not-allowed");
    td_test_ws_free(&ws);
    char *own = td_test_fmt("Origin: http://127.0.0.1:%d", todod.port);
    const char *good[] = {auth, own, NULL};
    cr_expect_eq(td_test_ws_open(&ws, todod.port, "/ws", good, 0), 101, "%s", ws.body);
    td_test_ws_free(&ws);
    free(own);
    free(auth);
}

Test(sync_ws, each_user_sees_their_own_updates_live_and_no_one_elses)
{
    struct td_test_user a, b;
    td_test_user_fake(&a);
    td_test_user_fake(&b);
    struct td_test_ws wa, wa2, wb;
    long long sa = open_bearer(&wa, a.token, "");
    open_bearer(&wa2, a.token, "");
    open_bearer(&wb, b.token, "");
    cr_expect_eq(sa, 0);
    double lat[20];
    for (int i = 0; i < 20; i++) {
        double t0 = now_ms();
        char title[32];
        snprintf(title, sizeof title, "a-%d", i);
        json_t *t = create(a.token, title);
        json_t *m = td_test_ws_next(&wa, 5000);
        lat[i] = now_ms() - t0;
        cr_assert_not_null(m, "no live update %d", i);
        cr_expect_str_eq(td_test_jstr(m, "type"), "task");
        cr_expect_str_eq(td_test_jstr(m, "event_type"), "task_created");
        cr_expect_eq(json_integer_value(json_object_get(m, "seq")), sa + i + 1);
        cr_expect_str_eq(td_test_jstr(m, "task_id"), td_test_jstr(t, "id"));
        cr_expect(json_equal(json_object_get(m, "task"), t), "the task differs from the REST answer");
        json_t *m2 = td_test_ws_next(&wa2, 5000);
        cr_expect(m2 && json_equal(m, m2), "A's second connection missed it");
        json_decref(m2);
        json_decref(m);
        json_decref(t);
    }
    /* latency: from sending the POST to the update on the socket (an upper bound of
     * commit-to-client) */
    double sorted[20];
    memcpy(sorted, lat, sizeof lat);
    for (int i = 0; i < 20; i++)
        for (int j = i + 1; j < 20; j++)
            if (sorted[j] < sorted[i]) {
                double x = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = x;
            }
    cr_log_info("POST-to-WebSocket latency ms: p50 %.2f max %.2f", sorted[10], sorted[19]);
    fprintf(stderr, "sync_ws: POST-to-WebSocket latency ms: p50 %.2f max %.2f\n", sorted[10], sorted[19]);
    /* completes and deletes come through with their kinds; a delete has no task */
    json_t *t = create(a.token, "to delete");
    json_decref(td_test_ws_next(&wa, 5000));
    char *path = td_test_fmt("/api/tasks/%s", td_test_jstr(t, "id"));
    struct td_test_http r;
    cr_assert_eq(td_test_api(todod.port, a.token, "DELETE", path, NULL, NULL, &r), 204);
    td_test_http_free(&r);
    json_t *m = td_test_ws_next(&wa, 5000);
    cr_expect_str_eq(td_test_jstr(m, "event_type"), "task_deleted");
    cr_expect_null(json_object_get(m, "task"));
    json_decref(m);
    /* B saw none of it; B's own change reaches B only */
    json_t *none = td_test_ws_next(&wb, 300);
    cr_expect_null(none, "user B got %s", none ? json_dumps(none, 0) : "");
    json_t *tb = create(b.token, "b's");
    m = td_test_ws_next(&wb, 5000);
    cr_expect(m && !strcmp(td_test_jstr(m, "task_id"), td_test_jstr(tb, "id")));
    cr_expect_eq(json_integer_value(json_object_get(m, "seq")), 1, "B's numbers are B's own");
    json_decref(m);
    none = td_test_ws_next(&wa, 300);
    cr_expect_null(none, "user A got %s", none ? json_dumps(none, 0) : "");
    json_decref(tb);
    json_decref(t);
    free(path);
    td_test_ws_free(&wa);
    td_test_ws_free(&wa2);
    td_test_ws_free(&wb);
}

Test(sync_ws, a_client_resumes_after_a_disconnect_or_is_told_to_resync)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    struct td_test_ws ws;
    json_decref(create(a.token, "before"));
    long long seq = open_bearer(&ws, a.token, "");
    cr_assert_eq(seq, 1);
    td_test_ws_free(&ws);
    json_t *t1 = create(a.token, "missed one");
    json_t *t2 = create(a.token, "missed two");
    char *q = td_test_fmt("?since=%lld", seq);
    cr_expect_eq(open_bearer(&ws, a.token, q), 3);
    json_t *m1 = td_test_ws_next(&ws, 5000), *m2 = td_test_ws_next(&ws, 5000);
    cr_assert(m1 && m2, "missed updates not sent");
    cr_expect_eq(json_integer_value(json_object_get(m1, "seq")), 2);
    cr_expect_str_eq(td_test_jstr(m1, "task_id"), td_test_jstr(t1, "id"));
    cr_expect_eq(json_integer_value(json_object_get(m2, "seq")), 3);
    cr_expect_str_eq(td_test_jstr(m2, "task_id"), td_test_jstr(t2, "id"));
    cr_expect(json_equal(json_object_get(m2, "task"), t2));
    /* then live ones, without repeats */
    json_decref(create(a.token, "live"));
    json_t *m3 = td_test_ws_next(&ws, 5000);
    cr_expect_eq(json_integer_value(json_object_get(m3, "seq")), 4);
    json_t *none = td_test_ws_next(&ws, 300);
    cr_expect_null(none);
    td_test_ws_free(&ws);
    /* up to date: nothing but the hello */
    cr_expect_eq(open_bearer(&ws, a.token, "?since=4"), 4);
    cr_expect_null(td_test_ws_next(&ws, 300));
    td_test_ws_free(&ws);
    /* ahead of the server, or older than what is kept: resync */
    cr_expect_eq(open_bearer(&ws, a.token, "?since=99"), 4);
    json_t *rs = td_test_ws_next(&ws, 5000);
    cr_expect_str_eq(td_test_jstr(rs, "type"), "resync");
    cr_expect_eq(json_integer_value(json_object_get(rs, "seq")), 4);
    json_decref(rs);
    td_test_ws_free(&ws);
    free(td_test_pg_queryf(&pg, "DELETE FROM task_updates WHERE user_id = '%s' AND seq <= 2", a.id));
    cr_expect_eq(open_bearer(&ws, a.token, "?since=1"), 4);
    rs = td_test_ws_next(&ws, 5000);
    cr_expect_str_eq(td_test_jstr(rs, "type"), "resync");
    json_decref(rs);
    td_test_ws_free(&ws);
    /* since=2 still works (3 and 4 are kept) */
    open_bearer(&ws, a.token, "?since=2");
    json_t *m = td_test_ws_next(&ws, 5000);
    cr_expect_eq(json_integer_value(json_object_get(m, "seq")), 3);
    json_decref(m);
    td_test_ws_free(&ws);
    /* a bad since is a 400 */
    char *auth = td_test_fmt("Authorization: Bearer %s", a.token);
    const char *h[] = {auth, NULL};
    td_test_ws_open(&ws, todod.port, "/ws?since=-1", h, 0);
    expect_problem(&ws, 400, "invalid-query");
    td_test_ws_free(&ws);
    free(auth);
    json_decref(m1);
    json_decref(m2);
    json_decref(m3);
    json_decref(t1);
    json_decref(t2);
    free(q);
}

Test(sync_ws, a_client_that_does_not_read_is_closed_and_others_keep_receiving)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    json_t *t = create(a.token, "flood");
    const char *id = td_test_jstr(t, "id");
    struct td_test_ws slow, fast;
    char *auth = td_test_fmt("Authorization: Bearer %s", a.token);
    const char *h[] = {auth, NULL};
    cr_assert_eq(td_test_ws_open(&slow, todod.port, "/ws", h, 2048), 101);
    open_bearer(&fast, a.token, "");
    /* 1500 updates of ~4 KiB each (more than the kernel's buffers hold), written the way
     * the api writes them */
    free(td_test_pg_queryf(&pg, "UPDATE tasks SET description = repeat('x', 4000) WHERE id = '%s'", id));
    free(td_test_pg_queryf(&pg, "SELECT count(todod_emit(t, 'updated', NULL, NULL)) FROM tasks t, "
                                "generate_series(1, 1500) WHERE t.id = '%s'", id));
    long long last = 0;
    int got = 0;
    while (last < 1501) {
        json_t *m = td_test_ws_next(&fast, 10000);
        if (!m)
            break;
        long long seq = json_integer_value(json_object_get(m, "seq"));
        cr_expect(seq > last, "out of order: %lld after %lld", seq, last);
        last = seq;
        got++;
        json_decref(m);
    }
    cr_expect_eq(last, 1501, "the reading client stopped at %lld", last);
    cr_expect_eq(got, 1500);
    /* the slow one was closed: it reads what had reached it, then the end */
    int code = td_test_ws_wait_close(&slow, 15000);
    cr_expect(code == 1008 || code == 1006, "slow client: close code %d", code);
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_expect(strstr(r.body, "todod_ws_evicted_total 1"), "not counted as evicted");
    td_test_http_free(&r);
    td_test_ws_free(&slow);
    td_test_ws_free(&fast);
    free(auth);
    json_decref(t);
}

Test(sync_ws, oversized_and_unmasked_frames_close_the_connection)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    struct td_test_ws ws;
    open_bearer(&ws, a.token, "");
    /* wslay judges a frame by its length once payload starts to arrive */
    cr_assert_eq(td_test_ws_send_header(&ws, 1, 1 << 20, 1), 0);
    char junk[1000];
    memset(junk, 'j', sizeof junk);
    td_test_send_all(ws.fd, junk, sizeof junk);
    cr_expect_eq(td_test_ws_wait_close(&ws, 5000), 1009);
    td_test_ws_free(&ws);
    open_bearer(&ws, a.token, "");
    cr_assert_eq(td_test_ws_send(&ws, 1, "hello", 5, 0), 0);
    cr_expect_eq(td_test_ws_wait_close(&ws, 5000), 1002);
    td_test_ws_free(&ws);
    /* a small masked message and a ping are fine; the ping gets its pong */
    open_bearer(&ws, a.token, "");
    cr_assert_eq(td_test_ws_send(&ws, 1, "hello", 5, 1), 0);
    cr_assert_eq(td_test_ws_send(&ws, 9, "p", 1, 1), 0);
    char *p = NULL;
    size_t len;
    int op = td_test_ws_recv(&ws, 5000, &p, &len);
    cr_expect_eq(op, 10, "no pong (%d)", op);
    free(p);
    /* a client's close is answered with the same code */
    cr_assert_eq(td_test_ws_send(&ws, 8, "\x03\xe8", 2, 1), 0);
    cr_expect_eq(td_test_ws_wait_close(&ws, 5000), 1000);
    td_test_ws_free(&ws);
}

Test(sync_ws, sigterm_closes_clients_with_1001)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    struct td_test_ws w1, w2;
    open_bearer(&w1, a.token, "");
    open_bearer(&w2, a.token, "");
    kill(todod.pid, SIGTERM);
    cr_expect_eq(td_test_ws_wait_close(&w1, 10000), 1001);
    cr_expect_eq(td_test_ws_wait_close(&w2, 10000), 1001);
    cr_expect_eq(td_test_stop(&todod, 0, 15000), 0, "todod did not stop cleanly");
    td_test_ws_free(&w1);
    td_test_ws_free(&w2);
}

/* An in_app reminder, as notify fires it, reaches the user's connections as the item GET
 * /api/notifications lists. */
Test(sync_ws, a_fired_in_app_reminder_arrives_as_a_notification)
{
    struct td_test_user a;
    td_test_user_fake(&a);
    struct td_test_ws ws;
    open_bearer(&ws, a.token, "");
    time_t due = time(NULL) + 62;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&due));
    char *body = td_test_fmt("{\"title\":\"stand up\",\"due_at\":\"%s\",\"reminders\":"
                             "[{\"offset\":\"PT1M\",\"channel\":\"in_app\"}]}", when);
    json_t *t = td_test_create_task(todod.port, a.token, body);
    json_t *m = NULL;
    for (int i = 0; i < 10; i++) {   /* skip the task's own update */
        m = td_test_ws_next(&ws, 15000);
        if (!m || !strcmp(td_test_jstr(m, "type"), "notification"))
            break;
        json_decref(m);
        m = NULL;
    }
    cr_assert_not_null(m, "no notification");
    json_t *list = NULL;
    cr_assert_eq(td_test_api_json(todod.port, a.token, "GET", "/api/notifications", NULL, NULL, &list), 200);
    json_t *item = json_array_get(json_object_get(list, "items"), 0);
    cr_expect(json_equal(json_object_get(m, "notification"), item), "%s differs from %s",
              json_dumps(json_object_get(m, "notification"), 0), json_dumps(item, 0));
    cr_expect_str_eq(td_test_jstr(m, "notification.task_id"), td_test_jstr(t, "id"));
    json_decref(list);
    json_decref(m);
    json_decref(t);
    free(body);
    td_test_ws_free(&ws);
}

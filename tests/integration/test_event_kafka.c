/* The event backbone on Kafka (the librdkafka mock cluster, a real Kafka-protocol broker
 * in another process): `todod api` processes write and relay, `todod audit` consumes.
 * 10 000 changes across 50 users arrive exactly once and in per-user order through a
 * kill -9 of the relay and, separately, of the consumer; a 10 s broker outage loses
 * nothing and does not slow the API; a malformed event lands in the dead-letter topic. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/event_harness.h"
#include "tests/support/kafka_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_kafka kafka;
static struct td_test_proc api[2], audit;

static void spawn(struct td_test_proc *p, const char *role)
{
    const char *argv[] = {role, "--database-url", pg.conninfo, "--migrate", "--bus", "kafka",
                          "--kafka-brokers", kafka.bootstraps, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", "--consumer-max-attempts", "3", NULL};
    td_test_spawn(p, argv, NULL);
}

static void start(void)
{
    td_test_pg_start(&pg);
    const char *topics[] = {"task-events:6", "task-events.dlq:1", "reminders:6",
                            "task-updates:6", NULL};
    td_test_kafka_start(&kafka, topics);
    spawn(&api[0], "api");
    spawn(&api[1], "api");
    spawn(&audit, "audit");
}

static void stop(void)
{
    td_test_stop_running(&api[0]);
    td_test_stop_running(&api[1]);
    td_test_stop_running(&audit);
    td_test_kafka_stop(&kafka);
    td_test_pg_destroy(&pg);
}

TestSuite(event_kafka, .init = start, .fini = stop, .timeout = 300);

static int metric_says(const struct td_test_proc *p, const char *line)
{
    struct td_test_http m;
    if (td_test_http(p->port, "GET", "/metrics", NULL, NULL, &m) != 0)
        return 0;
    int yes = m.body && strstr(m.body, line) != NULL;
    td_test_http_free(&m);
    return yes;
}

/* The api process that holds the relay lease (waits for one to take it). */
static int leader(void)
{
    for (int i = 0; i < 200; i++) {
        for (int j = 0; j < 2; j++)
            if (api[j].pid > 0 && metric_says(&api[j], "\ntd_outbox_leader 1\n"))
                return j;
        usleep(50 * 1000);
    }
    cr_assert_fail("no relay took the lease");
    return -1;
}

static void kill9(struct td_test_proc *p)
{
    kill(p->pid, SIGKILL);
    int st;
    waitpid(p->pid, &st, 0);
    p->pid = 0;
}

static void expect_all_once_in_order(const char *prefix, long n)
{
    char *sql = td_test_fmt("SELECT count(*) FROM audit_log WHERE user_id LIKE '%s-%%'", prefix);
    long got = td_test_wait_count(&pg, n, 120000, sql);
    free(sql);
    cr_assert_eq(got, n, "audit holds %ld of %ld events", got, n);
    cr_expect_eq(td_test_audit_missing(&pg, prefix), 0);
    cr_expect_eq(td_test_audit_misordered(&pg, prefix), 0);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM inbox i JOIN outbox o USING "
                                      "(event_id) WHERE o.key LIKE '%s-%%'", prefix), n);
    usleep(300 * 1000);   /* nothing more arrives late */
    cr_expect_eq(td_test_audit_count(&pg, prefix), n);
}

/* 10 bursts of 1 000 events (50 users x 20); the kill comes after the third. */
static long bursts(const char *prefix, void (*after_third)(void))
{
    long n = 0;
    char users[64];
    for (int b = 0; b < 10; b++) {
        snprintf(users, sizeof users, "%s", prefix);
        n += td_test_emit_burst(&pg, users, 50, 20);
        if (b == 2)
            after_third();
        usleep(100 * 1000);
    }
    return n;
}

static void kill_the_relay(void)
{
    int l = leader();
    /* in the middle: some of the 3 000 events so far are out, not all */
    long published = td_test_wait_count(&pg, 1000, 30000,
        "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL AND key LIKE 'relaykill-%'");
    cr_assert_geq(published, 1000, "the relay published nothing");
    fprintf(stderr, "killing relay %d with %ld of 3000 events published\n", l, published);
    kill9(&api[l]);
    cr_expect_eq(leader(), 1 - l, "the standby relay takes the lease");
}

Test(event_kafka, kill9_of_the_relay_mid_burst_loses_and_duplicates_nothing)
{
    long n = bursts("relaykill", kill_the_relay);
    expect_all_once_in_order("relaykill", n);
    int dead = api[0].pid == 0 ? 0 : 1;
    spawn(&api[dead], "api");   /* back as the standby */
}

static void kill_the_consumer(void)
{
    /* wait until it is busy with this burst, then kill it */
    long done = td_test_wait_count(&pg, 500, 30000,
                                   "SELECT count(*) FROM audit_log WHERE user_id LIKE 'auditkill-%'");
    cr_assert_geq(done, 500, "the consumer recorded nothing");
    fprintf(stderr, "killing the audit consumer with %ld of 3000 events recorded\n", done);
    kill9(&audit);
    spawn(&audit, "audit");
}

Test(event_kafka, kill9_of_the_audit_consumer_mid_burst_loses_and_duplicates_nothing)
{
    long n = bursts("auditkill", kill_the_consumer);
    expect_all_once_in_order("auditkill", n);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Creates tasks for ms milliseconds, 50 ms apart; returns how many, their median and
 * slowest latency. */
static int writes_for(int port, const char *token, int ms, double *median, double *worst)
{
    static double took[1000];
    int n = 0;
    double t0 = now_ms();
    while (now_ms() - t0 < ms && n < 1000) {
        double s = now_ms();
        json_decref(td_test_create_task(port, token, "{\"title\":\"latency probe\"}"));
        took[n++] = now_ms() - s;
        usleep(50 * 1000);
    }
    qsort(took, (size_t)n, sizeof *took, cmp_double);
    *median = took[n / 2];
    *worst = took[n - 1];
    return n;
}

Test(event_kafka, a_ten_second_broker_outage_loses_nothing_and_the_api_keeps_answering)
{
    struct td_test_user u;
    td_test_user_fake(&u);
    int l = leader();
    double base_median, base_worst, median, worst;
    int before = writes_for(api[l].port, u.token, 3000, &base_median, &base_worst);
    td_test_kafka_cmd(&kafka, "down");
    int during = writes_for(api[l].port, u.token, 10000, &median, &worst);
    struct td_test_http r;
    cr_expect_eq(td_test_http(api[l].port, "GET", "/ready", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "the api stays ready while the broker is away");
    td_test_http_free(&r);
    td_test_kafka_cmd(&kafka, "up");
    fprintf(stderr, "broker up: median %.1f ms, slowest %.1f ms; broker down (%d writes): "
            "median %.1f ms, slowest %.1f ms\n", base_median, base_worst, during, median, worst);
    cr_expect_lt(median, 2 * base_median + 20, "median write %.1f ms during the outage, %.1f ms "
                 "before", median, base_median);
    cr_expect_lt(worst, 1000.0, "a write took %.1f ms while the broker was down", worst);
    cr_expect_gt(during, 50);
    char *sql = td_test_fmt("SELECT count(*) FROM audit_log WHERE user_id = '%s'", u.id);
    long got = td_test_wait_count(&pg, before + during, 60000, sql);
    free(sql);
    cr_expect_eq(got, before + during, "audit holds %ld of the %d writes", got, before + during);
}

Test(event_kafka, a_malformed_event_goes_to_the_dead_letter_topic_and_the_consumer_goes_on)
{
    free(td_test_pg_query(&pg,
        "INSERT INTO outbox (event_id, topic, key, event) VALUES (gen_random_uuid(), "
        "'task-events', 'dlq-user', '{\"specversion\":\"1.0\",\"type\":\"todo.task.updated\"}');"
        "NOTIFY todod_outbox"));
    char why[512] = "";
    cr_assert_eq(td_test_kafka_find_header(&kafka, "task-events.dlq", "todod-error", why,
                                           sizeof why, 60000), 0,
                 "nothing reached task-events.dlq");
    cr_expect(strstr(why, "not a task event"), "the dead letter says why: %s", why);
    struct td_test_user u;
    td_test_user_fake(&u);
    json_decref(td_test_create_task(api[leader()].port, u.token, "{\"title\":\"next\"}"));
    char *sql = td_test_fmt("SELECT count(*) FROM audit_log WHERE user_id = '%s'", u.id);
    cr_expect_eq(td_test_wait_count(&pg, 1, 30000, sql), 1, "the consumer goes on");
    free(sql);
    cr_expect(metric_says(&audit, "td_bus_consumer_lag{group=\"todod-audit\",topic=\"task-events\"}"),
              "consumer lag is in /metrics");
    char tp[128] = "";
    cr_expect_eq(td_test_kafka_find_header(&kafka, "task-events", "traceparent", tp, sizeof tp,
                                           30000), 0, "events carry traceparent in Kafka headers");
    cr_expect_eq(strlen(tp), 55, "traceparent header: %s", tp);
}

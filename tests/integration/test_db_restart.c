/* PostgreSQL restarts while requests flow: no crash, 503 while it is down, recovery after. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--log-level", "warn", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(db_restart, .init = start, .fini = stop, .timeout = 90);

static int get_status(const char *path)
{
    struct td_test_http r;
    if (td_test_http(todod.port, "GET", path, NULL, NULL, &r) != 0)
        return -1;
    int status = r.status;
    td_test_http_free(&r);
    return status;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls /ready until it answers want, up to seconds; returns the time taken or -1. */
static double wait_ready_status(int want, double seconds)
{
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        if (get_status("/ready") == want)
            return now_s() - t0;
        usleep(50000);
    }
    return -1;
}

Test(db_restart, outage_answers_503_and_recovers)
{
    cr_assert_eq(get_status("/ready"), 200);

    /* A client keeps requesting /ready through the outage: every answer must be 200 or
     * 503 (never a dropped connection), and the process must stay up. */
    pid_t load = fork();
    cr_assert(load >= 0);
    if (load == 0) {
        double t0 = now_s();
        int bad = 0;
        while (now_s() - t0 < 6) {
            int s = get_status("/ready");
            if (s != 200 && s != 503)
                bad++;
        }
        _exit(bad ? 1 : 0);
    }

    usleep(300000);
    td_test_pg_stop_server(&pg);
    cr_expect(wait_ready_status(503, 5) >= 0, "no 503 while PostgreSQL was down");
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/ready", NULL, NULL, &r), 0);
    if (r.status == 503) {
        cr_expect(strstr(r.body, "database") != NULL, "reason should name the database: %s", r.body);
        cr_expect(strstr(r.body, "application/problem+json") == NULL);   /* body, not header */
        char *type = td_test_header(r.headers, "Content-Type");
        cr_expect(type && strstr(type, "application/problem+json"), "%s", type);
        free(type);
    }
    td_test_http_free(&r);
    cr_expect_eq(get_status("/health"), 200, "liveness must not depend on the database");

    usleep(1500000);
    td_test_pg_start_server(&pg);
    double took = wait_ready_status(200, 15);
    cr_expect(took >= 0, "not ready again 15 s after PostgreSQL came back");

    int st;
    cr_assert_eq(waitpid(load, &st, 0), load);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "some answers were neither 200 nor 503");
    cr_expect_eq(kill(todod.pid, 0), 0, "todod died during the outage");
}

Test(db_restart, metrics_show_the_pool_recovering)
{
    td_test_pg_stop_server(&pg);
    cr_expect(wait_ready_status(503, 5) >= 0);
    td_test_pg_start_server(&pg);
    cr_expect(wait_ready_status(200, 15) >= 0);
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_expect(strstr(r.body, "status=\"503\"") != NULL, "503s should be counted");
    td_test_http_free(&r);
}

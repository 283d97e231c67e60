/* SIGTERM drains: in-flight requests finish, exit 0 inside the deadline; a second
 * signal stops at once; no leaks under valgrind (release build). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;

static void start(void)
{
    td_test_pg_start(&pg);
}

static void stop(void)
{
    td_test_pg_destroy(&pg);
}

TestSuite(shutdown, .init = start, .fini = stop, .timeout = 120);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(shutdown, sigterm_exits_0_quickly_when_idle)
{
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, NULL};
    td_test_spawn(&p, argv, NULL);
    double t0 = now_s();
    cr_expect_eq(td_test_stop(&p, SIGTERM, 10000), 0);
    cr_expect(now_s() - t0 < 2.0, "idle drain took %.2f s", now_s() - t0);
    char *logs = td_test_logs(&p);
    cr_expect(strstr(logs, "stopped cleanly") != NULL, "%s", logs);
    free(logs);
}

Test(shutdown, in_flight_request_finishes_during_drain)
{
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--drain-timeout", "5s", NULL};
    td_test_spawn(&p, argv, NULL);
    int fd = td_test_connect(p.port);
    const char *first = "GET /health HTTP/1.1\r\nHost: x\r\n";
    td_test_send_all(fd, first, strlen(first));   /* half a request: in flight */
    usleep(100000);
    kill(p.pid, SIGTERM);
    usleep(300000);
    cr_expect_eq(waitpid(p.pid, NULL, WNOHANG), 0, "exited before the in-flight request finished");
    /* New connections are refused while draining. */
    cr_expect_lt(td_test_connect(p.port), 0, "listener still open during drain");
    td_test_send_all(fd, "\r\n", 2);
    char *resp = td_test_recv_response(fd, 3000);
    cr_assert(resp, "no answer for the in-flight request");
    cr_expect(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%.100s", resp);
    cr_expect(strstr(resp, "Connection: close") != NULL, "draining answers close: %s", resp);
    free(resp);
    close(fd);
    cr_expect_eq(td_test_stop(&p, 0, 5000), 0, "exit status after drain");
}

Test(shutdown, drain_deadline_bounds_a_stuck_client)
{
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--drain-timeout", "800ms",
                          "--request-timeout", "30s", NULL};
    td_test_spawn(&p, argv, NULL);
    int fd = td_test_connect(p.port);
    td_test_send_all(fd, "GET /health HTTP/1.1\r\n", 22);   /* never finishes */
    usleep(100000);
    double t0 = now_s();
    cr_expect_eq(td_test_stop(&p, SIGTERM, 5000), 0);
    double took = now_s() - t0;
    cr_expect(took > 0.7 && took < 2.5, "drain took %.2f s, deadline 0.8 s", took);
    close(fd);
}

/* Logins still hashing when the drain deadline passes finish after the api role's fini:
 * their answers must not touch what fini freed (the token signer, the login limiter). */
Test(shutdown, password_jobs_outliving_the_deadline_are_answered_safely)
{
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--drain-timeout", "50ms",
                          "--rate-limit-user", "0", "--rate-limit-addr", "0", NULL};
    td_test_spawn(&p, argv, NULL);
    struct td_test_user u;
    td_test_signup(p.port, "late@example.com", "correct horse battery", "Late", &u);
    const char *body = "{\"email\":\"late@example.com\",\"password\":\"correct horse battery\"}";
    char *req = td_test_fmt("POST /api/auth/login HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                            strlen(body), body);
    enum { N = 12 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = td_test_connect(p.port);
        cr_assert_geq(fds[i], 0);
        td_test_send_all(fds[i], req, strlen(req));
    }
    usleep(50000);   /* the logins reach the argon2 queue: two run, the rest wait */
    int rc = td_test_stop(&p, SIGTERM, 20000);
    char *logs = td_test_logs(&p);
    cr_expect_eq(rc, 0, "exit status %d after logins outlived the deadline:\n%s", rc, logs);
    cr_expect(!strstr(logs, "AddressSanitizer"), "%s", logs);
    free(logs);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    free(req);
}

Test(shutdown, second_signal_stops_at_once)
{
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--drain-timeout", "20s",
                          "--request-timeout", "30s", NULL};
    td_test_spawn(&p, argv, NULL);
    int fd = td_test_connect(p.port);
    td_test_send_all(fd, "GET /health HTTP/1.1\r\n", 22);
    usleep(100000);
    kill(p.pid, SIGTERM);
    usleep(200000);
    double t0 = now_s();
    int rc = td_test_stop(&p, SIGINT, 3000);
    cr_expect_eq(rc, 130, "second signal exit status %d", rc);
    cr_expect(now_s() - t0 < 1.0);
    close(fd);
}

Test(shutdown, no_leaks_under_valgrind, .timeout = 180)
{
    const char *bin = getenv("TODOD_RELEASE_BIN");
    if (!bin || access(bin, X_OK) != 0 || system("command -v valgrind >/dev/null 2>&1") != 0)
        cr_skip_test("needs TODOD_RELEASE_BIN and valgrind (make test provides both)");
    /* td_test_spawn runs $TODOD_BIN: point it at valgrind with the release binary. */
    char wrapper[] = "/tmp/td-valgrind-XXXXXX";
    int fd = mkstemp(wrapper);
    cr_assert(fd >= 0);
    char script[1024];
    int n = snprintf(script, sizeof script,
                     "#!/bin/sh\nexec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect "
                     "--errors-for-leak-kinds=definite,indirect --error-exitcode=99 %s \"$@\"\n", bin);
    cr_assert(write(fd, script, (size_t)n) == n);
    close(fd);
    chmod(wrapper, 0755);
    setenv("TODOD_BIN", wrapper, 1);
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, NULL};
    td_test_spawn(&p, argv, NULL);
    const char *paths[] = {"/health", "/ready", "/metrics", "/missing"};
    for (int i = 0; i < 4; i++) {
        struct td_test_http r;
        cr_assert_eq(td_test_http(p.port, "GET", paths[i], NULL, NULL, &r), 0);
        td_test_http_free(&r);
    }
    /* The api's paths too: an account (argon2 on the thread pool), writes through group
     * commit, a filtered list, a 422, a 401. */
    struct td_test_user u;
    td_test_signup(p.port, "leaks@example.com", "correct horse battery", "Val", &u);
    json_t *task = td_test_create_task(p.port, u.token, "{\"title\":\"check leaks\",\"tags\":[\"a\"],"
                                       "\"due_at\":\"2026-12-01\",\"recurrence\":\"FREQ=DAILY\"}");
    char *path = td_test_fmt("/api/tasks/%s", td_test_jstr(task, "id"));
    cr_expect_eq(td_test_api_json(p.port, u.token, "PATCH", path, "{\"priority\":\"p1\"}", NULL, NULL), 200);
    cr_expect_eq(td_test_api_json(p.port, u.token, "GET", "/api/tasks?tag=a&q=leak&limit=5", NULL,
                                  NULL, NULL), 200);
    cr_expect_eq(td_test_api_json(p.port, u.token, "POST", "/api/tasks", "{\"title\":\"\"}", NULL,
                                  NULL), 422);
    cr_expect_eq(td_test_api_json(p.port, "not-a-token", "GET", "/api/tasks", NULL, NULL, NULL), 401);
    cr_expect_eq(td_test_api_json(p.port, u.token, "DELETE", path, NULL, NULL, NULL), 204);
    free(path);
    json_decref(task);
    int sock = td_test_connect(p.port);   /* a connection still open at shutdown */
    int rc = td_test_stop(&p, SIGTERM, 60000);
    close(sock);
    char *logs = td_test_logs(&p);
    cr_expect_eq(rc, 0, "valgrind run exit %d:\n%s", rc, logs);
    free(logs);
    unlink(wrapper);
}

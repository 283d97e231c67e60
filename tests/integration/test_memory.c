/* Memory given back after password hashing: each argon2id run holds 19 MiB, and the
 * process must return to its idle size once the hashes are done, not keep the peak.
 * Measured on the release binary (TODOD_RELEASE_BIN, which tests/run.sh sets): in the
 * sanitized one ASan's allocator and shadow memory decide the RSS, not our code. */
#include <criterion/criterion.h>
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

/* What the process may keep after the hashes, in KiB. Idle-to-after growth with the
 * fix is under 1 MiB (libpq results, the pool threads' stacks and small arenas); one
 * argon2id run held on to is 19 MiB, so 4 MiB tells the two apart with room to spare. */
#define MARGIN_KB (4 * 1024)
#define PAIRS 2 /* two signups at once, twice: both hashing slots busy */

static struct td_test_pg pg;

static void start(void)
{
    td_test_pg_start(&pg);
}

static void stop(void)
{
    td_test_pg_destroy(&pg);
}

TestSuite(memory, .init = start, .fini = stop, .timeout = 120);

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    cr_assert_gt(kb, 0, "no VmRSS in %s", path);
    return kb;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends the same kind of request on two connections before reading either answer, so
 * both are hashing at the same time. */
static void post_pair(int port, const char *path, const char *bodies[2], int want)
{
    int fd[2];
    for (int i = 0; i < 2; i++) {
        fd[i] = td_test_connect(port);
        cr_assert_geq(fd[i], 0);
        char *req = td_test_fmt("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                path, strlen(bodies[i]), bodies[i]);
        cr_assert_eq(td_test_send_all(fd[i], req, strlen(req)), 0);
        free(req);
    }
    for (int i = 0; i < 2; i++) {
        char *resp = td_test_recv_response(fd[i], 30000);
        cr_assert_not_null(resp, "%s: no answer", path);
        char status[16];
        snprintf(status, sizeof status, "HTTP/1.1 %d", want);
        cr_expect_eq(strncmp(resp, status, strlen(status)), 0, "%s: %.200s", path, resp);
        free(resp);
        close(fd[i]);
    }
}

Test(memory, rss_returns_to_idle_after_signups_and_logins)
{
    const char *release = getenv("TODOD_RELEASE_BIN");
    if (!release || access(release, X_OK) != 0)
        cr_skip_test("needs TODOD_RELEASE_BIN (make test provides it)");
    setenv("TODOD_BIN", release, 1); /* td_test_spawn runs $TODOD_BIN */
    struct td_test_proc p;
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--migrate",
                          "--rate-limit-user", "0", "--rate-limit-addr", "0", NULL};
    td_test_spawn(&p, argv, NULL);

    /* Warm the paths that do not hash (connections, routes, a query) before measuring. */
    struct td_test_user fake;
    td_test_user_fake(&fake);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(td_test_api_json(p.port, fake.token, "GET", "/api/tasks", NULL, NULL, NULL), 200);
        cr_expect_eq(td_test_api_json(p.port, NULL, "GET", "/metrics", NULL, NULL, NULL), 200);
    }
    sleep_ms(1000);
    long idle = rss_kb(p.pid);

    char *signups[2 * PAIRS], *logins[2 * PAIRS];
    for (int i = 0; i < 2 * PAIRS; i++) {
        signups[i] = td_test_fmt("{\"email\":\"mem%d@example.com\",\"password\":\"memory password %d\","
                                 "\"name\":\"M%d\"}", i, i, i);
        logins[i] = td_test_fmt("{\"email\":\"mem%d@example.com\",\"password\":\"memory password %d\"}",
                                i, i);
    }
    for (int i = 0; i < PAIRS; i++)
        post_pair(p.port, "/api/auth/signup", (const char **)&signups[2 * i], 201);
    long busy = rss_kb(p.pid);
    for (int i = 0; i < PAIRS; i++)
        post_pair(p.port, "/api/auth/login", (const char **)&logins[2 * i], 200);

    long after = rss_kb(p.pid);
    for (int waited = 0; waited < 5000 && after > idle + MARGIN_KB; waited += 100) {
        sleep_ms(100);
        after = rss_kb(p.pid);
    }
    fprintf(stderr, "RSS idle %ld KiB, after the signups %ld KiB, settled %ld KiB\n", idle, busy,
            after);
    cr_expect_leq(after, idle + MARGIN_KB,
                  "RSS %ld KiB five seconds after 4 signups and 4 logins; idle was %ld KiB", after,
                  idle);

    for (int i = 0; i < 2 * PAIRS; i++) {
        free(signups[i]);
        free(logins[i]);
    }
    cr_expect_eq(td_test_stop(&p, SIGTERM, 15000), 0);
}

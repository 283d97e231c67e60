/* `todod migrate`, concurrent starters, and the private PostgreSQL of `todod all`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/embed.h"
#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

Test(migrations, migrate_applies_once_and_reports, .timeout = 60)
{
    struct td_test_pg pg;
    td_test_pg_start(&pg);
    const char *argv[] = {"migrate", "--database-url", pg.conninfo, NULL};
    char *out = NULL, *err = NULL;
    cr_expect_eq(td_test_run(argv, NULL, &out, &err), 0, "%s", err);
    char want[64];
    snprintf(want, sizeof want, "applied %zu migration(s)", td_migrations_count);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    free(out);
    free(err);
    cr_expect_eq(td_test_run(argv, NULL, &out, NULL), 0);
    cr_expect(strstr(out, "applied 0 migration(s)") != NULL, "%s", out);
    free(out);
    char *count = td_test_pg_query(&pg, "SELECT count(*) FROM schema_migrations");
    cr_expect_eq(atoi(count), (int)td_migrations_count);
    free(count);
    char *outbox = td_test_pg_query(&pg, "SELECT to_regclass('public.outbox')::text");
    cr_expect_str_eq(outbox ? outbox : "", "outbox");
    free(outbox);
    td_test_pg_destroy(&pg);
}

Test(migrations, concurrent_starters_apply_exactly_once, .timeout = 60)
{
    struct td_test_pg pg;
    td_test_pg_start(&pg);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            const char *argv[] = {"migrate", "--database-url", pg.conninfo, NULL};
            _exit(td_test_run(argv, NULL, NULL, NULL));
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "starter %d failed", i);
    }
    char *count = td_test_pg_query(&pg, "SELECT count(*) FROM schema_migrations");
    cr_expect_eq(atoi(count), (int)td_migrations_count);
    free(count);
    td_test_pg_destroy(&pg);
}

Test(migrations, unreachable_database_is_one_line_exit_1)
{
    const char *argv[] = {"migrate", "--database-url",
                          "host=/nonexistent-dir port=1 dbname=x connect_timeout=1", NULL};
    char *err = NULL;
    cr_expect_eq(td_test_run(argv, NULL, NULL, &err), 1);
    cr_expect(strncmp(err, "todod: migrate:", 15) == 0, "%s", err);
    cr_expect(strchr(err, '\n') == err + strlen(err) - 1, "one line: %s", err);
    free(err);
}

Test(migrations, all_without_url_runs_a_private_cluster, .timeout = 120)
{
    char dir[] = "/tmp/todod-test-embedded-XXXXXX";
    cr_assert(mkdtemp(dir));
    chmod(dir, 0711);
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    struct td_test_proc p;
    const char *argv[] = {"all", "--data-dir", data, NULL};
    td_test_spawn(&p, argv, NULL);
    struct td_test_http r;
    cr_assert_eq(td_test_http(p.port, "GET", "/ready", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    td_test_http_free(&r);
    char pidfile[400];
    snprintf(pidfile, sizeof pidfile, "%s/pg/postmaster.pid", data);
    cr_expect_eq(access(pidfile, F_OK), 0, "no postmaster.pid: PostgreSQL not running in %s", data);
    cr_expect_eq(td_test_stop(&p, SIGTERM, 30000), 0);
    cr_expect_neq(access(pidfile, F_OK), 0, "PostgreSQL still running after todod stopped");
    /* Second start reuses the cluster (no initdb) and still works. */
    td_test_spawn(&p, argv, NULL);
    cr_assert_eq(td_test_http(p.port, "GET", "/ready", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200);
    td_test_http_free(&r);
    cr_expect_eq(td_test_stop(&p, SIGTERM, 30000), 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

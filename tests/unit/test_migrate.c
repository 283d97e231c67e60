/* core/migrate.c against a real PostgreSQL. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/embed.h"
#include "core/migrate.h"
#include "tests/support/pg_harness.h"

static struct td_test_pg t;

static void setup(void)
{
    td_test_pg_start(&t);
}

static void teardown(void)
{
    td_test_pg_destroy(&t);
}

#define FILE_OF(name, sql) {name, sql, sizeof sql - 1}

/* The first value of sql's first row, as an int. */
static int query_int(const char *sql)
{
    char *v = td_test_pg_query(&t, sql);
    cr_assert(v, "%s returned no value", sql);
    int n = atoi(v);
    free(v);
    return n;
}

static int recorded(void)
{
    return query_int("SELECT count(*) FROM schema_migrations");
}

static int table_exists(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", name);
    char *v = td_test_pg_query(&t, sql);
    int yes = v && strcmp(v, "t") == 0;
    free(v);
    return yes;
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 60);

Test(migrate, applies_the_embedded_migrations_and_records_them)
{
    cr_assert_gt(td_migrations_count, 0);
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply(t.conninfo, td_migrations, td_migrations_count, NULL, &applied,
                              err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
    cr_expect_eq(applied, (int)td_migrations_count);
    cr_expect_eq(recorded(), (int)td_migrations_count);
    cr_expect(table_exists("outbox") && table_exists("inbox"));

    char sql[256];
    snprintf(sql, sizeof sql, "SELECT checksum FROM schema_migrations WHERE name = '%s'",
             td_migrations[0].name);
    char *sum = td_test_pg_query(&t, sql);
    cr_assert(sum);
    cr_expect_eq(strlen(sum), 64, "checksum %s is not sha256 hex", sum);
    cr_expect_eq(strspn(sum, "0123456789abcdef"), 64, "checksum %s is not sha256 hex", sum);
    free(sum);
}

Test(migrate, second_run_applies_nothing)
{
    int applied = -1;
    char err[512];
    cr_assert_eq(td_migrate_apply(t.conninfo, td_migrations, td_migrations_count, NULL, &applied,
                                  err, sizeof err), 0, "%s", err);
    cr_assert_eq(td_migrate_apply(t.conninfo, td_migrations, td_migrations_count, NULL, &applied,
                                  err, sizeof err), 0, "%s", err);
    cr_expect_eq(applied, 0);
    cr_expect_eq(recorded(), (int)td_migrations_count);
}

/* The sleep widens the window: without the advisory lock a second applier would not see
 * the first one's row yet and fail on CREATE TABLE (or record the file twice). */
static const struct td_embedded_file slow[] = {
    FILE_OF("0001_slow.sql", "CREATE TABLE slow (x int); SELECT pg_sleep(0.3);"),
    FILE_OF("0002_more.sql", "ALTER TABLE slow ADD COLUMN y int;"),
};

struct applier {
    pthread_barrier_t *go;
    int rc, applied;
    char err[512];
};

static void *run_applier(void *arg)
{
    struct applier *a = arg;
    pthread_barrier_wait(a->go);
    a->rc = td_migrate_apply(t.conninfo, slow, 2, NULL, &a->applied, a->err, sizeof a->err);
    return NULL;
}

Test(migrate, concurrent_appliers_apply_each_file_once)
{
    enum { N = 4 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    struct applier a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct applier){.go = &go};
        cr_assert_eq(pthread_create(&th[i], NULL, run_applier, &a[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(a[i].rc, 0, "applier %d: %d %s", i, a[i].rc, a[i].err);
        total += a[i].applied;
    }
    pthread_barrier_destroy(&go);
    cr_expect_eq(total, 2, "files applied %d times in all", total);
    cr_expect_eq(recorded(), 2);
}

Test(migrate, failing_migration_rolls_back_wholly)
{
    static const struct td_embedded_file bad[] = {
        FILE_OF("0001_bad.sql", "CREATE TABLE half (x int);\n"
                                "INSERT INTO half VALUES (1);\n"
                                "SELEC 1;\n"),
    };
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply(t.conninfo, bad, 1, NULL, &applied, err, sizeof err);
    cr_assert_eq(rc, -EIO, "rc %d: %s", rc, err);
    cr_expect_eq(applied, 0);
    cr_expect(strstr(err, "0001_bad.sql"), "err: %s", err);
    cr_expect(strstr(err, "line 3"), "err: %s", err);
    cr_expect(strstr(err, "syntax error"), "err: %s", err);
    cr_expect_null(strchr(err, '\n'), "err is not one line: %s", err);
    cr_expect(!table_exists("half"), "half-applied migration left a table");
    cr_expect_eq(recorded(), 0);
}

Test(migrate, failure_stops_after_the_files_that_committed)
{
    static const struct td_embedded_file files[] = {
        FILE_OF("0001_ok.sql", "CREATE TABLE ok1 (x int);"),
        FILE_OF("0002_bad.sql", "CREATE TABLE bad2 (x int); SELECT 1/0;"),
        FILE_OF("0003_never.sql", "CREATE TABLE never3 (x int);"),
    };
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply(t.conninfo, files, 3, NULL, &applied, err, sizeof err);
    cr_assert_eq(rc, -EIO, "rc %d: %s", rc, err);
    cr_expect_eq(applied, 1);
    cr_expect(strstr(err, "0002_bad.sql") && strstr(err, "division by zero"), "err: %s", err);
    cr_expect(table_exists("ok1"));
    cr_expect(!table_exists("bad2") && !table_exists("never3"));
    cr_expect_eq(recorded(), 1);
}

Test(migrate, changed_checksum_is_refused)
{
    static const struct td_embedded_file v1[] = {FILE_OF("0001_a.sql", "CREATE TABLE a (x int);")};
    static const struct td_embedded_file v2[] = {FILE_OF("0001_a.sql", "CREATE TABLE a (x bigint);")};
    int applied = -1;
    char err[512];
    cr_assert_eq(td_migrate_apply(t.conninfo, v1, 1, NULL, &applied, err, sizeof err), 0, "%s", err);
    int rc = td_migrate_apply(t.conninfo, v2, 1, NULL, &applied, err, sizeof err);
    cr_assert_eq(rc, -EINVAL, "rc %d: %s", rc, err);
    cr_expect_eq(applied, 0);
    cr_expect(strstr(err, "0001_a.sql") && strstr(err, "changed"), "err: %s", err);
}

Test(migrate, migration_that_commits_itself_is_not_recorded)
{
    static const struct td_embedded_file files[] = {
        FILE_OF("0001_commit.sql", "CREATE TABLE c (x int); COMMIT;"),
    };
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply(t.conninfo, files, 1, NULL, &applied, err, sizeof err);
    cr_assert_eq(rc, -EIO, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "0001_commit.sql") && strstr(err, "transaction"), "err: %s", err);
    cr_expect_eq(recorded(), 0);
}

Test(migrate, logs_each_applied_migration)
{
    char path[] = "/tmp/todod-test-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    struct td_log log = {.level = TD_LOG_INFO, .format = TD_LOG_TEXT, .role = "test", .fd = fd};
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply(t.conninfo, td_migrations, td_migrations_count, &log, &applied,
                              err, sizeof err);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_gt(n, 0, "nothing logged");
    cr_expect(strstr(buf, td_migrations[0].name), "log: %s", buf);
}

/* No server needed: these fail before or at connecting. */
Test(migrate_input, files_out_of_name_order_are_refused)
{
    static const struct td_embedded_file files[] = {
        FILE_OF("0002_b.sql", "SELECT 1;"),
        FILE_OF("0001_a.sql", "SELECT 1;"),
    };
    char err[512];
    int rc = td_migrate_apply("host=/nonexistent", files, 2, NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, -EINVAL, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "name order"), "err: %s", err);
}

Test(migrate_input, unreachable_server_is_a_clear_error)
{
    int applied = -1;
    char err[512];
    int rc = td_migrate_apply("host=/nonexistent port=1 dbname=x connect_timeout=2", td_migrations,
                              td_migrations_count, NULL, &applied, err, sizeof err);
    cr_assert_eq(rc, -ECONNREFUSED, "rc %d: %s", rc, err);
    cr_expect_eq(applied, 0);
    cr_expect(strstr(err, "cannot connect"), "err: %s", err);
    cr_expect_null(strchr(err, '\n'), "err is not one line: %s", err);
}

/* core/pgembed.c against the real PostgreSQL binaries. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/pgembed.h"
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

/* A temp dir without a server, for the error cases; td_test_pg_destroy removes it. */
static void setup_dir_only(void)
{
    memset(&t, 0, sizeof t);
    snprintf(t.dir, sizeof t.dir, "/tmp/todod-test-pg-XXXXXX");
    cr_assert(mkdtemp(t.dir), "mkdtemp: %s", strerror(errno));
    cr_assert(chmod(t.dir, 0711) == 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void assert_query(const char *sql, const char *want)
{
    char *got = td_test_pg_query(&t, sql);
    cr_assert(got, "%s returned no value", sql);
    cr_expect_str_eq(got, want, "%s", sql);
    free(got);
}

/* A pid that surely belongs to no process: a child we started and reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

TestSuite(pgembed, .init = setup, .fini = teardown, .timeout = 60);

Test(pgembed, start_creates_cluster_and_database)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/pg/PG_VERSION", t.dir);
    cr_assert(stat(path, &st) == 0, "no cluster at %s", path);

    assert_query("SELECT current_database()", "todod");
    assert_query("SELECT current_user", "todod");
    assert_query("SHOW listen_addresses", "");   /* socket only */
    assert_query("SHOW fsync", "on");
    assert_query("SHOW server_encoding", "UTF8");

    cr_expect(strstr(t.conninfo, "dbname=todod"), "conninfo: %s", t.conninfo);
    cr_expect(strstr(t.conninfo, t.dir), "socket not under the data dir: %s", t.conninfo);
    int pid = td_pgembed_pid(t.pg);
    cr_assert(pid > 0 && kill(pid, 0) == 0, "postmaster pid %d not alive", pid);

    snprintf(path, sizeof path, "%s/run", t.dir);
    cr_assert(stat(path, &st) == 0);
    cr_expect_eq(st.st_mode & 0777, 0700, "socket dir mode %o", st.st_mode & 0777);

    snprintf(path, sizeof path, "%s/pg.log", t.dir);
    cr_expect(strstr(slurp(path), "ready to accept connections"), "pg.log lacks the server's output");

    if (geteuid() == 0) {
        /* PostgreSQL refuses root: the postmaster and its files belong to someone else. */
        snprintf(path, sizeof path, "/proc/%d", pid);
        cr_assert(stat(path, &st) == 0);
        cr_expect_neq(st.st_uid, 0, "postmaster runs as root");
        snprintf(path, sizeof path, "%s/pg", t.dir);
        cr_assert(stat(path, &st) == 0);
        cr_expect_neq(st.st_uid, 0, "cluster owned by root");
    }
}

Test(pgembed, second_start_while_running_is_refused)
{
    struct td_pgembed_opts opts = {.data_dir = t.dir};
    struct td_pgembed *pg2 = (struct td_pgembed *)1;
    char err[512];
    int rc = td_pgembed_start(&opts, &pg2, err, sizeof err);
    if (rc == 0)
        td_pgembed_stop(pg2);
    cr_assert_eq(rc, -EBUSY, "rc %d: %s", rc, err);
    cr_expect_null(pg2);
    cr_expect(strstr(err, "already running"), "err: %s", err);
    assert_query("SELECT 1", "1");   /* the first server is untouched */
}

Test(pgembed, restart_reuses_the_cluster)
{
    free(td_test_pg_query(&t, "CREATE TABLE keep (x int)"));
    free(td_test_pg_query(&t, "INSERT INTO keep VALUES (42)"));
    int old_pid = td_pgembed_pid(t.pg);
    td_test_pg_stop_server(&t);
    cr_assert(kill(old_pid, 0) != 0, "postmaster %d still there after stop", old_pid);

    td_test_pg_start_server(&t);
    assert_query("SELECT x FROM keep", "42");
    char path[512];
    snprintf(path, sizeof path, "%s/pg.log", t.dir);
    cr_expect_eq(count_of(slurp(path), "The files belonging to this database system"), 1,
                 "initdb ran more than once");
}

Test(pgembed, stale_lock_files_are_removed)
{
    td_test_pg_stop_server(&t);

    /* postmaster.pid naming a dead process, and a socket lock naming a live process that
     * is not PostgreSQL (a pid reused after a crash). PostgreSQL itself would refuse the
     * latter when that process is its own user's (it takes EPERM from kill as "stale"). */
    char path[512], text[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/pg", t.dir);
    cr_assert(stat(path, &st) == 0);
    pid_t live = fork();
    cr_assert(live >= 0);
    if (live == 0) {
        if (geteuid() == 0 && (setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0))
            _exit(1);
        pause();
        _exit(0);
    }
    snprintf(path, sizeof path, "%s/pg/postmaster.pid", t.dir);
    snprintf(text, sizeof text, "%d\n%s/pg\n", (int)dead_pid(), t.dir);
    write_file(path, text);
    snprintf(path, sizeof path, "%s/run/.s.PGSQL.5432.lock", t.dir);
    snprintf(text, sizeof text, "%d\n%s/pg\n", (int)live, t.dir);
    write_file(path, text);

    struct td_pgembed_opts opts = {.data_dir = t.dir};
    char err[1024];
    int rc = td_pgembed_start(&opts, &t.pg, err, sizeof err);
    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    cr_assert_eq(rc, 0, "start with stale lock files: %d %s", rc, err);
    snprintf(t.conninfo, sizeof t.conninfo, "%s", td_pgembed_conninfo(t.pg));
    assert_query("SELECT 1", "1");
}

Test(pgembed, killed_server_recovers_on_next_start)
{
    free(td_test_pg_query(&t, "CREATE TABLE keep (x int)"));
    free(td_test_pg_query(&t, "INSERT INTO keep VALUES (7)"));
    /* As after a power cut or kill -9 of the whole group: no shutdown checkpoint. */
    cr_assert(kill(td_pgembed_pid(t.pg), SIGKILL) == 0);
    td_test_pg_stop_server(&t);   /* reaps it */
    td_test_pg_start_server(&t);
    assert_query("SELECT x FROM keep", "7");   /* committed means kept */
}

TestSuite(pgembed_errors, .init = setup_dir_only, .fini = teardown, .timeout = 30);

/* Gone, or a zombie nobody has reaped yet (some container inits never do). */
static int process_gone(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return kill(pid, 0) != 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *p = strrchr(stat, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

Test(pgembed_errors, server_stops_when_its_parent_dies)
{
    int fds[2];
    cr_assert(pipe(fds) == 0);
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {
        /* A todod that crashes without stopping its database. */
        struct td_pgembed_opts opts = {.data_dir = t.dir};
        struct td_pgembed *pg;
        char err[512];
        int pid = td_pgembed_start(&opts, &pg, err, sizeof err) == 0 ? td_pgembed_pid(pg) : -1;
        ssize_t w = write(fds[1], &pid, sizeof pid);
        (void)w;
        kill(getpid(), SIGKILL);
    }
    close(fds[1]);
    int pid = -1;
    cr_assert_eq(read(fds[0], &pid, sizeof pid), (ssize_t)sizeof pid);
    close(fds[0]);
    waitpid(child, NULL, 0);
    cr_assert_gt(pid, 0, "the child could not start PostgreSQL");
    int waited = 0;
    while (!process_gone(pid) && waited < 10000) {
        usleep(20000);
        waited += 20;
    }
    if (!process_gone(pid))
        kill(pid, SIGKILL);
    cr_assert(process_gone(pid), "postmaster %d outlived its parent", pid);
}

Test(pgembed_errors, missing_bin_dir_is_a_clear_error)
{
    struct td_pgembed_opts opts = {.data_dir = t.dir, .bin_dir = "/nonexistent/pg/bin"};
    struct td_pgembed *pg = (struct td_pgembed *)1;
    char err[512];
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -ENOENT, "rc %d: %s", rc, err);
    cr_expect_null(pg);
    cr_expect(strstr(err, "PostgreSQL server binaries not found"), "err: %s", err);
    cr_expect(strstr(err, "TODOD_PG_BIN"), "err: %s", err);
}

Test(pgembed_errors, bad_TODOD_PG_BIN_is_a_clear_error)
{
    setenv("TODOD_PG_BIN", "/nonexistent/bin", 1);
    struct td_pgembed_opts opts = {.data_dir = t.dir};
    struct td_pgembed *pg = NULL;
    char err[512];
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -ENOENT, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "/nonexistent/bin"), "err: %s", err);
}

/* A bin dir of shell scripts standing in for initdb and postgres. */
static void fake_bin(char *bin, size_t n, const char *initdb, const char *postgres)
{
    char path[512];
    snprintf(bin, n, "%s/bin", t.dir);
    cr_assert(mkdir(bin, 0755) == 0);
    snprintf(path, sizeof path, "%s/initdb", bin);
    write_file(path, initdb);
    cr_assert(chmod(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/postgres", bin);
    write_file(path, postgres);
    cr_assert(chmod(path, 0755) == 0);
}

Test(pgembed_errors, failed_initdb_reports_its_output)
{
    char bin[512], err[1024];
    fake_bin(bin, sizeof bin, "#!/bin/sh\necho 'initdb: error: disk on fire' >&2\nexit 1\n",
             "#!/bin/sh\nexit 1\n");
    struct td_pgembed_opts opts = {.data_dir = t.dir, .bin_dir = bin};
    struct td_pgembed *pg = NULL;
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -EIO, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "initdb") && strstr(err, "disk on fire"), "err: %s", err);
    cr_expect(strstr(err, "pg.log"), "err: %s", err);
}

Test(pgembed_errors, server_that_exits_at_start_reports_its_output)
{
    char bin[512], err[1024];
    fake_bin(bin, sizeof bin, "#!/bin/sh\necho 15 > \"$2/PG_VERSION\"\n",
             "#!/bin/sh\necho 'old line' >&2\necho 'FATAL:  no good' >&2\nexit 1\n");
    struct td_pgembed_opts opts = {.data_dir = t.dir, .bin_dir = bin};
    struct td_pgembed *pg = NULL;
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -EIO, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "exited during start-up") && strstr(err, "FATAL:  no good"), "err: %s", err);
    cr_expect_null(strchr(err, '\n'), "err is not one line: %s", err);
}

Test(pgembed_errors, data_dir_path_too_long_for_a_socket)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%0100d", t.dir, 0);
    struct td_pgembed_opts opts = {.data_dir = dir};
    struct td_pgembed *pg = NULL;
    char err[512];
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -ENAMETOOLONG, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "--data-dir"), "err: %s", err);
}

Test(pgembed_errors, root_needs_a_reachable_data_dir)
{
    if (geteuid() != 0) {
        teardown();   /* a skipped test does not run .fini */
        cr_skip_test("only root drops to another user");
    }
    char priv[300], dir[320];
    snprintf(priv, sizeof priv, "%s/private", t.dir);
    cr_assert(mkdir(priv, 0700) == 0);
    snprintf(dir, sizeof dir, "%s/data", priv);
    struct td_pgembed_opts opts = {.data_dir = dir};
    struct td_pgembed *pg = NULL;
    char err[1024];
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -EACCES, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "cannot reach"), "err: %s", err);
    cr_expect(strstr(err, "--data-dir"), "err: %s", err);
}

Test(pgembed_errors, root_with_unknown_run_as_user)
{
    if (geteuid() != 0) {
        teardown();   /* a skipped test does not run .fini */
        cr_skip_test("only root drops to another user");
    }
    struct td_pgembed_opts opts = {.data_dir = t.dir, .run_as = "todod-no-such-user"};
    struct td_pgembed *pg = NULL;
    char err[512];
    int rc = td_pgembed_start(&opts, &pg, err, sizeof err);
    cr_assert_eq(rc, -ENOENT, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "todod-no-such-user"), "err: %s", err);
}

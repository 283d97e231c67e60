/* The command line: usage, help, version, and one clear line + exit 2 for bad input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/proc_harness.h"

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void expect_usage_error(const char *const *argv, const char *const *env, const char *needle)
{
    char *out = NULL, *err = NULL;
    int rc = td_test_run(argv, env, &out, &err);
    cr_expect_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    cr_expect_eq(count_lines(err), 1, "want one line, got: %s", err);
    cr_expect(strstr(err, needle) != NULL, "stderr lacks \"%s\": %s", needle, err);
    cr_expect(strncmp(err, "todod: ", 7) == 0, "stderr: %s", err);
    cr_expect_str_empty(out);
    free(out);
    free(err);
}

Test(cli, no_command_prints_usage_and_exits_2)
{
    char *out = NULL, *err = NULL;
    const char *argv[] = {NULL};
    cr_expect_eq(td_test_run(argv, NULL, &out, &err), 2);
    cr_expect(strstr(err, "usage: todod <command>") != NULL, "%s", err);
    free(out);
    free(err);
}

Test(cli, unknown_command)
{
    const char *argv[] = {"frobnicate", NULL};
    expect_usage_error(argv, NULL, "unknown command 'frobnicate'");
}

Test(cli, unknown_flag)
{
    const char *argv[] = {"all", "--no-such-flag", NULL};
    expect_usage_error(argv, NULL, "--no-such-flag");
}

Test(cli, bad_flag_values_name_the_setting)
{
    const char *listen[] = {"all", "--listen", "nowhere", NULL};
    expect_usage_error(listen, NULL, "--listen");
    const char *bus[] = {"all", "--bus=carrier-pigeon", NULL};
    expect_usage_error(bus, NULL, "--bus");
    const char *timeout[] = {"all", "--request-timeout", "soon", NULL};
    expect_usage_error(timeout, NULL, "--request-timeout");
    const char *missing[] = {"all", "--database-url", NULL};
    expect_usage_error(missing, NULL, "needs a value");
}

Test(cli, bad_environment_value_names_the_variable)
{
    const char *argv[] = {"all", NULL};
    const char *env[] = {"TODOD_LOG_LEVEL=chatty", NULL};
    expect_usage_error(argv, env, "TODOD_LOG_LEVEL");
    const char *short_secret[] = {"TODOD_JWT_SECRET=tooshort", NULL};
    expect_usage_error(argv, short_secret, "at least 32 bytes");
    const char *kafka[] = {"TODOD_BUS=kafka", NULL};
    expect_usage_error(argv, kafka, "--kafka-brokers");
}

Test(cli, flags_win_over_environment)
{
    /* The env value alone is invalid; with the flag given, the failure must come from
     * somewhere else (the unreachable database), not from the env. */
    const char *env[] = {"TODOD_LOG_LEVEL=chatty", NULL};
    const char *run[] = {"migrate", "--log-level", "debug", "--database-url",
                         "host=/nonexistent-dir port=1 dbname=x connect_timeout=1", NULL};
    char *err = NULL;
    int rc = td_test_run(run, env, NULL, &err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "TODOD_LOG_LEVEL") == NULL, "env was read over the flag: %s", err);
    free(err);
}

Test(cli, help_and_version)
{
    char *out = NULL;
    const char *help[] = {"help", NULL};
    cr_expect_eq(td_test_run(help, NULL, &out, NULL), 0);
    cr_expect(strstr(out, "all") && strstr(out, "migrate"), "%s", out);
    free(out);
    const char *all_help[] = {"all", "--help", NULL};
    cr_expect_eq(td_test_run(all_help, NULL, &out, NULL), 0);
    cr_expect(strstr(out, "--listen") && strstr(out, "TODOD_DATABASE_URL"), "%s", out);
    free(out);
    const char *version[] = {"version", NULL};
    cr_expect_eq(td_test_run(version, NULL, &out, NULL), 0);
    cr_expect(strncmp(out, "todod ", 6) == 0, "%s", out);
    free(out);
    const char *help_bad[] = {"help", "nope", NULL};
    expect_usage_error(help_bad, NULL, "unknown command 'nope'");
}

Test(cli, listen_port_in_use_is_one_line_and_exit_1)
{
    /* Bind a port, then ask todod for it: a clear runtime error, not a crash. */
    int port = td_test_free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    /* `api` connects to its database in the background, so the port is what fails. */
    const char *argv[] = {"api", "--listen", addr, "--database-url",
                          "host=/nonexistent-dir port=1 dbname=x connect_timeout=1", NULL};
    /* Without a reachable database the pool keeps retrying in the background, so the
     * process starts; occupy the port first so it must fail. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0);
    char *err = NULL;
    int rc = td_test_run(argv, NULL, NULL, &err);
    close(fd);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "todod: --listen") != NULL, "%s", err);
    free(err);
}

/* The README's configuration table is printed from the settings rows, never by hand. */
Test(cli, readme_settings_table_is_current)
{
    char path[512], *out = NULL;
    snprintf(path, sizeof path, "%s/README.md", getenv("TODOD_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char readme[65536];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    fclose(f);
    readme[n] = '\0';
    const char *open_tag = "<!-- settings: generated by `todod help settings`; a test compares them -->\n";
    char *start = strstr(readme, open_tag), *end = strstr(readme, "<!-- end settings -->");
    cr_assert(start && end && end > start, "README lacks the settings markers");
    start += strlen(open_tag);
    *end = '\0';
    const char *argv[] = {"help", "settings", NULL};
    cr_assert_eq(td_test_run(argv, NULL, &out, NULL), 0);
    cr_assert_str_eq(start, out, "README's table is stale: paste `todod help settings`");
    cr_assert_not_null(strstr(out, "--rate-limit-user"), "role and door settings are listed");
    free(out);
}

/* `todod routes` reads the roles' tables: no database, no secret, nothing listening. */
Test(cli, routes_need_no_database_or_secret)
{
    const char *argv[] = {"routes", NULL};
    const char *env[] = {"TODOD_DATABASE_URL=host=/nonexistent port=1", "TODOD_LISTEN=bad",
                         NULL};
    char *out = NULL, *err = NULL;
    cr_assert_eq(td_test_run(argv, env, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "GET /health\n") && strstr(out, "POST /api/tasks\n") &&
              strstr(out, "GET /api/audit/verify\n"), "%s", out);
    cr_expect_str_empty(err);
    free(out);
    free(err);
}

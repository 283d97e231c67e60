/* core/config.c: defaults, TODOD_* variables, flags (which win), validation with errors
 * that name the setting. criterion runs each test in its own process, so setenv does not
 * leak between tests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/door.h"

static void clean_env(void)
{
    for (const struct td_setting *s = td_settings; s->flag; s++)
        if (s->env)
            unsetenv(s->env);
    unsetenv("TODOD_JWT_SECRET");
    unsetenv("BETTER_AUTH_SECRET");
}

TestSuite(config, .init = clean_env);

static struct td_config cfg;
static char err[512];

/* Loads with the given flags (NULL-terminated); returns td_config_load's result. The
 * config is freed by the fixture-less tests themselves via done(). */
static int load_argv(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    td_config_defaults(&cfg);
    cr_assert_eq(td_config_add_group(&cfg, &td_door_settings), 0);
    err[0] = '\0';
    return td_config_load(&cfg, argc, argv, err, sizeof err);
}
#define LOAD(...) load_argv((const char *const[]){__VA_ARGS__, NULL})

static struct td_door_conf *door(void)
{
    return td_config_group(&cfg, &td_door_settings);
}

static void done(void)
{
    td_config_free(&cfg);
}

/* Asserts that loading fails and the message names `who` (e.g. "--listen"). */
static void expect_error(int rc, const char *who)
{
    cr_assert_eq(rc, -EINVAL, "expected a failure naming %s (err \"%s\")", who, err);
    cr_assert_not_null(strstr(err, who), "error \"%s\" does not name %s", err, who);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    done();
}

Test(config, defaults)
{
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
    cr_assert_eq(cfg.listen_port, 8080);
    cr_assert_null(cfg.database_url);
    cr_assert_str_eq(cfg.data_dir, ".todod");
    cr_assert_eq(cfg.bus, TD_BUS_LOCAL);
    cr_assert_null(cfg.kafka_brokers);
    cr_assert_null(door()->jwt_secret);
    cr_assert_eq(cfg.log_level, TD_LOG_INFO);
    cr_assert_eq(cfg.log_format, TD_LOG_JSON);
    cr_assert_eq(cfg.migrate, 0);
    cr_assert_eq(cfg.db_pool_size, 4);
    cr_assert_eq(cfg.max_header_bytes, 16 * 1024);
    cr_assert_eq(cfg.max_headers, 100);
    cr_assert_eq(cfg.max_body_bytes, 1024 * 1024);
    cr_assert_eq(cfg.request_timeout_ms, 10000);
    cr_assert_eq(cfg.idle_timeout_ms, 60000);
    cr_assert_eq(cfg.drain_timeout_ms, 10000);
    cr_assert_eq(cfg.max_connections, 10000);
    done();
}

Test(config, every_setting_has_flag_env_and_help)
{
    int n = 0;
    for (const struct td_setting *s = td_settings; s->flag; s++, n++) {
        cr_assert_not_null(s->env, "--%s has no variable", s->flag);
        cr_assert_not_null(s->help);
        char want[64];
        snprintf(want, sizeof want, "TODOD_%s", s->flag);
        for (char *p = want; *p; p++)
            *p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        cr_assert_str_eq(s->env, want, "variable for --%s", s->flag);
    }
    cr_assert_geq(n, 17);
}

Test(config, all_settings_from_env)
{
    setenv("TODOD_LISTEN", "0.0.0.0:9000", 1);
    setenv("TODOD_DATABASE_URL", "postgres://u@h/db", 1);
    setenv("TODOD_DATA_DIR", "/var/lib/todod", 1);
    setenv("TODOD_BUS", "kafka", 1);
    setenv("TODOD_KAFKA_BROKERS", "k1:9092,k2:9092", 1);
    setenv("TODOD_LOG_LEVEL", "debug", 1);
    setenv("TODOD_LOG_FORMAT", "text", 1);
    setenv("TODOD_MIGRATE", "yes", 1);
    setenv("TODOD_DB_POOL_SIZE", "12", 1);
    setenv("TODOD_MAX_HEADER_BYTES", "32KiB", 1);
    setenv("TODOD_MAX_HEADERS", "50", 1);
    setenv("TODOD_MAX_BODY_BYTES", "2MiB", 1);
    setenv("TODOD_REQUEST_TIMEOUT", "500ms", 1);
    setenv("TODOD_IDLE_TIMEOUT", "2m", 1);
    setenv("TODOD_DRAIN_TIMEOUT", "3s", 1);
    setenv("TODOD_MAX_CONNECTIONS", "77", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "0.0.0.0");
    cr_assert_eq(cfg.listen_port, 9000);
    cr_assert_str_eq(cfg.database_url, "postgres://u@h/db");
    cr_assert_str_eq(cfg.data_dir, "/var/lib/todod");
    cr_assert_eq(cfg.bus, TD_BUS_KAFKA);
    cr_assert_str_eq(cfg.kafka_brokers, "k1:9092,k2:9092");
    cr_assert_eq(cfg.log_level, TD_LOG_DEBUG);
    cr_assert_eq(cfg.log_format, TD_LOG_TEXT);
    cr_assert_eq(cfg.migrate, 1);
    cr_assert_eq(cfg.db_pool_size, 12);
    cr_assert_eq(cfg.max_header_bytes, 32 * 1024);
    cr_assert_eq(cfg.max_headers, 50);
    cr_assert_eq(cfg.max_body_bytes, 2 * 1024 * 1024);
    cr_assert_eq(cfg.request_timeout_ms, 500);
    cr_assert_eq(cfg.idle_timeout_ms, 120000);
    cr_assert_eq(cfg.drain_timeout_ms, 3000);
    cr_assert_eq(cfg.max_connections, 77);
    done();
}

Test(config, all_settings_from_flags)
{
    int rc = LOAD("--listen", "127.0.0.1:0", "--database-url=host=/tmp dbname=x",
                  "--data-dir", "/d", "--bus=kafka", "--kafka-brokers", "b:1", "--log-level=warn",
                  "--log-format", "text", "--migrate", "--db-pool-size=2",
                  "--max-header-bytes", "4k", "--max-headers=10", "--max-body-bytes", "100",
                  "--request-timeout=1s", "--idle-timeout", "250", "--drain-timeout=1m",
                  "--max-connections", "5");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(cfg.listen_port, 0);
    cr_assert_str_eq(cfg.database_url, "host=/tmp dbname=x");
    cr_assert_str_eq(cfg.data_dir, "/d");
    cr_assert_eq(cfg.bus, TD_BUS_KAFKA);
    cr_assert_str_eq(cfg.kafka_brokers, "b:1");
    cr_assert_eq(cfg.log_level, TD_LOG_WARN);
    cr_assert_eq(cfg.log_format, TD_LOG_TEXT);
    cr_assert_eq(cfg.migrate, 1);
    cr_assert_eq(cfg.db_pool_size, 2);
    cr_assert_eq(cfg.max_header_bytes, 4096);
    cr_assert_eq(cfg.max_headers, 10);
    cr_assert_eq(cfg.max_body_bytes, 100);
    cr_assert_eq(cfg.request_timeout_ms, 1000);
    cr_assert_eq(cfg.idle_timeout_ms, 250);
    cr_assert_eq(cfg.drain_timeout_ms, 60000);
    cr_assert_eq(cfg.max_connections, 5);
    done();
}

Test(config, flags_win_over_env)
{
    setenv("TODOD_LISTEN", "127.0.0.1:1111", 1);
    setenv("TODOD_LOG_LEVEL", "error", 1);
    setenv("TODOD_MAX_HEADERS", "7", 1);
    cr_assert_eq(LOAD("--listen=127.0.0.1:2222", "--log-level", "debug"), 0, "%s", err);
    cr_assert_eq(cfg.listen_port, 2222);
    cr_assert_eq(cfg.log_level, TD_LOG_DEBUG);
    cr_assert_eq(cfg.max_headers, 7, "env still applies where no flag is given");
    done();
}

Test(config, flag_overrides_a_bad_env_value)
{
    setenv("TODOD_LISTEN", "not an address", 1);
    cr_assert_eq(LOAD("--listen", "127.0.0.1:3333"), 0, "%s", err);
    cr_assert_eq(cfg.listen_port, 3333);
    done();
}

Test(config, bad_env_value_names_the_variable)
{
    setenv("TODOD_LISTEN", "nope", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_LISTEN");
    cr_assert_not_null(strstr(err, "nope"), "shows the bad value: %s", err);
}

Test(config, last_flag_wins)
{
    cr_assert_eq(LOAD("--db-pool-size=3", "--db-pool-size", "9"), 0, "%s", err);
    cr_assert_eq(cfg.db_pool_size, 9);
    done();
}

Test(config, listen_forms)
{
    cr_assert_eq(LOAD("--listen", "localhost:81"), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
    cr_assert_eq(cfg.listen_port, 81);
    done();
    cr_assert_eq(LOAD("--listen", ":82"), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "0.0.0.0");
    cr_assert_eq(cfg.listen_port, 82);
    done();
    cr_assert_eq(LOAD("--listen", "[::1]:83"), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "::1");
    cr_assert_eq(cfg.listen_port, 83);
    done();
    cr_assert_eq(LOAD("--listen", "10.1.2.3:65535"), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "10.1.2.3");
    cr_assert_eq(cfg.listen_port, 65535);
    done();
}

Test(config, listen_rejects_bad_values)
{
    const char *bad[] = {"8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                         "127.0.0.1:80x", "::1:80", "[::1]80", "[::1:80", "999.1.1.1:80",
                         "127.0.0.1: 80", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(LOAD("--listen", bad[i]), "--listen");
    }
    setenv("TODOD_LISTEN", "1.2.3.4", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_LISTEN");
}

Test(config, empty_strings_rejected)
{
    expect_error(LOAD("--database-url="), "--database-url");
    expect_error(LOAD("--data-dir", ""), "--data-dir");
    setenv("TODOD_DATABASE_URL", "", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_DATABASE_URL");
}

Test(config, bus_values)
{
    expect_error(LOAD("--bus", "rabbit"), "--bus");
    setenv("TODOD_BUS", "Kafka", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_BUS");
}

Test(config, kafka_bus_requires_brokers)
{
    expect_error(LOAD("--bus", "kafka"), "--kafka-brokers");
    setenv("TODOD_BUS", "kafka", 1);
    expect_error(load_argv((const char *const[]){NULL}), "kafka-brokers");
    setenv("TODOD_KAFKA_BROKERS", "k:9092", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    done();
}

Test(config, kafka_brokers_validated)
{
    expect_error(LOAD("--kafka-brokers", "a:1, b:2"), "--kafka-brokers");
    expect_error(LOAD("--kafka-brokers="), "--kafka-brokers");
}

Test(config, log_level_and_format_validated)
{
    expect_error(LOAD("--log-level", "loud"), "--log-level");
    expect_error(LOAD("--log-format=yaml"), "--log-format");
    setenv("TODOD_LOG_LEVEL", "DEBUG", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_LOG_LEVEL");
    unsetenv("TODOD_LOG_LEVEL");
    setenv("TODOD_LOG_FORMAT", "xml", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_LOG_FORMAT");
}

Test(config, migrate_boolean)
{
    cr_assert_eq(LOAD("--migrate"), 0, "%s", err);
    cr_assert_eq(cfg.migrate, 1);
    done();
    cr_assert_eq(LOAD("--migrate=false"), 0, "%s", err);
    cr_assert_eq(cfg.migrate, 0);
    done();
    setenv("TODOD_MIGRATE", "1", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_eq(cfg.migrate, 1);
    done();
    setenv("TODOD_MIGRATE", "0", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_eq(cfg.migrate, 0);
    done();
    setenv("TODOD_MIGRATE", "maybe", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_MIGRATE");
    unsetenv("TODOD_MIGRATE");
    expect_error(LOAD("--migrate=perhaps"), "--migrate");
    /* A boolean flag does not take the next argument as its value. */
    expect_error(LOAD("--migrate", "true"), "true");
}

Test(config, whole_numbers_validated)
{
    const char *bad[] = {"0", "-1", "abc", "", " 4", "4 ", "4x", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(LOAD("--db-pool-size", bad[i]), "--db-pool-size");
        expect_error(LOAD("--max-headers", bad[i]), "--max-headers");
        expect_error(LOAD("--max-connections", bad[i]), "--max-connections");
    }
    expect_error(LOAD("--db-pool-size", "257"), "--db-pool-size");
    expect_error(LOAD("--max-headers", "10001"), "--max-headers");
    expect_error(LOAD("--max-connections", "1000001"), "--max-connections");
    cr_assert_eq(LOAD("--db-pool-size", "256", "--max-headers", "1", "--max-connections",
                      "1000000"), 0, "%s", err);
    cr_assert_eq(cfg.db_pool_size, 256);
    cr_assert_eq(cfg.max_headers, 1);
    cr_assert_eq(cfg.max_connections, 1000000);
    done();
    setenv("TODOD_DB_POOL_SIZE", "0", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_DB_POOL_SIZE");
    unsetenv("TODOD_DB_POOL_SIZE");
    setenv("TODOD_MAX_HEADERS", "x", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_MAX_HEADERS");
    unsetenv("TODOD_MAX_HEADERS");
    setenv("TODOD_MAX_CONNECTIONS", "-5", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_MAX_CONNECTIONS");
}

Test(config, durations)
{
    struct { const char *in; int ms; } ok[] = {
        {"500ms", 500}, {"10s", 10000}, {"2m", 120000}, {"250", 250}, {"1s", 1000},
        {"1.5s", 1500}, {"24m", 1440000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(LOAD("--request-timeout", ok[i].in, "--idle-timeout", ok[i].in,
                          "--drain-timeout", ok[i].in), 0, "%s: %s", ok[i].in, err);
        cr_assert_eq(cfg.request_timeout_ms, ok[i].ms, "%s", ok[i].in);
        cr_assert_eq(cfg.idle_timeout_ms, ok[i].ms, "%s", ok[i].in);
        cr_assert_eq(cfg.drain_timeout_ms, ok[i].ms, "%s", ok[i].in);
        done();
    }
    const char *bad[] = {"", "0", "0ms", "-1s", "10h", "10 s", "s", "ten", "10sec", "0.5ms",
                         "25h", "1441m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(LOAD("--request-timeout", bad[i]), "--request-timeout");
        expect_error(LOAD("--idle-timeout", bad[i]), "--idle-timeout");
        expect_error(LOAD("--drain-timeout", bad[i]), "--drain-timeout");
    }
    setenv("TODOD_REQUEST_TIMEOUT", "soon", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_REQUEST_TIMEOUT");
    unsetenv("TODOD_REQUEST_TIMEOUT");
    setenv("TODOD_IDLE_TIMEOUT", "0", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_IDLE_TIMEOUT");
    unsetenv("TODOD_IDLE_TIMEOUT");
    setenv("TODOD_DRAIN_TIMEOUT", "1y", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_DRAIN_TIMEOUT");
}

Test(config, sizes)
{
    struct { const char *in; size_t bytes; } ok[] = {
        {"16KiB", 16384}, {"1MiB", 1048576}, {"16k", 16384}, {"1m", 1048576}, {"2048", 2048},
        {"3kb", 3072}, {"2MB", 2097152}, {"4096b", 4096},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(LOAD("--max-header-bytes", ok[i].in, "--max-body-bytes", ok[i].in), 0,
                     "%s: %s", ok[i].in, err);
        cr_assert_eq(cfg.max_header_bytes, ok[i].bytes, "%s", ok[i].in);
        cr_assert_eq(cfg.max_body_bytes, ok[i].bytes, "%s", ok[i].in);
        done();
    }
    const char *bad[] = {"", "0", "-1", "1GiB", "12 KiB", "KiB", "1.5MiB", "lots",
                         "2000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(LOAD("--max-header-bytes", bad[i]), "--max-header-bytes");
        expect_error(LOAD("--max-body-bytes", bad[i]), "--max-body-bytes");
    }
    /* Headers need room for at least a request line. */
    expect_error(LOAD("--max-header-bytes", "1023"), "--max-header-bytes");
    cr_assert_eq(LOAD("--max-body-bytes", "1"), 0, "%s", err);
    cr_assert_eq(cfg.max_body_bytes, 1);
    done();
    setenv("TODOD_MAX_BODY_BYTES", "big", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_MAX_BODY_BYTES");
    unsetenv("TODOD_MAX_BODY_BYTES");
    setenv("TODOD_MAX_HEADER_BYTES", "100", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_MAX_HEADER_BYTES");
}

Test(config, unknown_flag)
{
    expect_error(LOAD("--listne", "127.0.0.1:1"), "--listne");
    cr_assert_not_null(strstr(err, "unknown"), "%s", err);
    expect_error(LOAD("--nope=3"), "--nope");
    /* a prefix of a real flag is not that flag */
    expect_error(LOAD("--list=127.0.0.1:1"), "--list");
    expect_error(LOAD("--listenx=127.0.0.1:1"), "--listenx");
}

Test(config, positional_argument_rejected)
{
    expect_error(LOAD("api"), "api");
    expect_error(LOAD("-listen", "x"), "-listen");
}

Test(config, missing_value)
{
    expect_error(LOAD("--listen"), "--listen");
    cr_assert_not_null(strstr(err, "value"), "%s", err);
    expect_error(LOAD("--log-level=debug", "--data-dir"), "--data-dir");
}

Test(config, equals_value_may_hold_equals)
{
    cr_assert_eq(LOAD("--database-url=postgresql://u@h/db?sslmode=require&x=y"), 0, "%s", err);
    cr_assert_str_eq(cfg.database_url, "postgresql://u@h/db?sslmode=require&x=y");
    done();
    cr_assert_eq(LOAD("--database-url", "--data-dir"), 0, "the next arg is a value: %s", err);
    cr_assert_str_eq(cfg.database_url, "--data-dir");
    done();
}

Test(config, print_help_lists_every_setting)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    td_config_print_help(&cfg, f);
    fclose(f);
    for (const struct td_setting *s = td_settings; s->flag; s++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", s->flag);
        cr_assert_not_null(strstr(text, flag), "help lacks %s", flag);
        cr_assert_not_null(strstr(text, s->env), "help lacks %s", s->env);
    }
    free(text);
}

Test(config, free_is_idempotent)
{
    setenv("TODOD_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    cr_assert_eq(LOAD("--database-url", "x", "--bus", "kafka", "--kafka-brokers", "k:1"), 0, "%s",
                 err);
    td_config_free(&cfg);
    cr_assert_null(cfg.database_url);
    cr_assert_null(td_config_group(&cfg, &td_door_settings), "the door's block is gone");
    cr_assert_null(cfg.data_dir);
    td_config_free(&cfg);
}

Test(config, cors_origins_and_credentials)
{
    cr_assert_eq(LOAD("--cors-origins", "http://localhost:3000"), 0, "%s", err);
    cr_assert_str_eq(cfg.cors_origins, "http://localhost:3000");
    cr_assert_eq(cfg.cors_credentials, 0);
    done();
    cr_assert_eq(LOAD("--cors-origins", "*"), 0, "%s", err);
    done();
    /* A wildcard would hand every site the user's credentials. */
    expect_error(LOAD("--cors-origins", "*", "--cors-credentials"), "--cors-origins");
    cr_assert_not_null(strstr(err, "credentials"), "%s", err);
}

Test(config, groups_are_added_once_and_printed)
{
    td_config_defaults(&cfg);
    cr_assert_eq(td_config_add_group(&cfg, &td_door_settings), 0);
    cr_assert_eq(td_config_add_group(&cfg, &td_door_settings), 0);
    cr_assert_eq(cfg.ngroups, 1);
    struct td_door_conf *d = door();
    cr_assert_not_null(d);
    cr_assert_float_eq(d->rate_limit_user, 20, 1e-9, "the group's defaults are applied");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    td_config_print_markdown(&cfg, f);
    fclose(f);
    cr_assert_not_null(strstr(text, "| `--rate-limit-user N` | `TODOD_RATE_LIMIT_USER` | `20` |"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "`--bus local\\|kafka`"), "pipes are escaped: %s", text);
    free(text);
    done();
}

Test(config, cors_origin_with_a_path_is_refused_at_load)
{
    expect_error(LOAD("--cors-origins", "http://localhost:3000/app"), "--cors-origins");
    cr_assert_not_null(strstr(err, "http://localhost:3000/app"), "names the entry: %s", err);
}

/* core/door_conf.c: the /api door's settings. The JWT secret comes from a file (flag or
 * TODOD_JWT_SECRET_FILE), TODOD_JWT_SECRET or BETTER_AUTH_SECRET, in that order, and is at
 * least 32 bytes; `all` keeps a generated one in its data dir. criterion runs each test in
 * its own process, so setenv does not leak between tests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/door.h"

static void clean_env(void)
{
    unsetenv("TODOD_JWT_SECRET_FILE");
    unsetenv("TODOD_JWT_SECRET");
    unsetenv("BETTER_AUTH_SECRET");
}

TestSuite(door_conf, .init = clean_env);

static struct td_config cfg;
static char err[512];

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

static void expect_error(int rc, const char *who)
{
    cr_assert_eq(rc, -EINVAL, "expected a failure naming %s (err \"%s\")", who, err);
    cr_assert_not_null(strstr(err, who), "error \"%s\" does not name %s", err, who);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    done();
}

Test(door_conf, defaults)
{
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_null(door()->jwt_secret);
    cr_assert_null(door()->jwt_issuer);
    cr_assert_float_eq(door()->rate_limit_user, 20, 1e-9);
    cr_assert_float_eq(door()->rate_limit_addr, 100, 1e-9);
    done();
}

Test(door_conf, rate_limits_and_issuer)
{
    setenv("TODOD_RATE_LIMIT_ADDR", "7.5", 1);
    cr_assert_eq(LOAD("--rate-limit-user", "0", "--jwt-issuer", "todod", "--jwt-audience=web"),
                 0, "%s", err);
    cr_assert_float_eq(door()->rate_limit_user, 0, 1e-9);
    cr_assert_float_eq(door()->rate_limit_addr, 7.5, 1e-9);
    cr_assert_str_eq(door()->jwt_issuer, "todod");
    cr_assert_str_eq(door()->jwt_audience, "web");
    done();
    expect_error(LOAD("--rate-limit-user", "-1"), "--rate-limit-user");
    expect_error(LOAD("--jwt-issuer="), "--jwt-issuer");
}

Test(door_conf, secret_kept_in_the_data_dir)
{
    char dir[] = "/tmp/td-door-conf-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    struct td_door_conf a = {0}, b = {0};
    cr_assert_eq(td_door_secret_from_data_dir(&a, dir, err, sizeof err), 0, "%s", err);
    cr_assert_eq(strlen(a.jwt_secret), 64);
    char path[128];
    snprintf(path, sizeof path, "%s/jwt-secret", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the secret file is the owner's alone");
    cr_assert_eq(td_door_secret_from_data_dir(&b, dir, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(a.jwt_secret, b.jwt_secret, "a restart keeps the secret");
    td_config_free_secret(&a.jwt_secret);
    td_config_free_secret(&b.jwt_secret);
    unlink(path);
    rmdir(dir);
}

#define SECRET32 "0123456789abcdef0123456789abcdef"

Test(door_conf, jwt_secret_from_env)
{
    setenv("TODOD_JWT_SECRET", SECRET32, 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_str_eq(door()->jwt_secret, SECRET32);
    done();
}

Test(door_conf, jwt_secret_shorter_than_32_bytes_rejected)
{
    setenv("TODOD_JWT_SECRET", "0123456789abcdef0123456789abcde", 1);   /* 31 */
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_JWT_SECRET:");
    cr_assert_not_null(strstr(err, "32"), "%s", err);
}

Test(door_conf, better_auth_secret_accepted)
{
    setenv("BETTER_AUTH_SECRET", SECRET32 "xyz", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_str_eq(door()->jwt_secret, SECRET32 "xyz");
    done();
    /* TODOD_JWT_SECRET wins over the seeds' name. */
    setenv("TODOD_JWT_SECRET", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 1);
    cr_assert_eq(load_argv((const char *const[]){NULL}), 0, "%s", err);
    cr_assert_str_eq(door()->jwt_secret, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ");
    done();
    unsetenv("TODOD_JWT_SECRET");
    setenv("BETTER_AUTH_SECRET", "short", 1);
    expect_error(load_argv((const char *const[]){NULL}), "BETTER_AUTH_SECRET");
}

static char secret_path[64];

static void write_secret(const char *content)
{
    snprintf(secret_path, sizeof secret_path, "/tmp/td-test-secret-XXXXXX");
    int fd = mkstemp(secret_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

Test(door_conf, jwt_secret_file_with_trailing_newline)
{
    write_secret(SECRET32 "\n");
    setenv("TODOD_JWT_SECRET_FILE", secret_path, 1);
    int rc = load_argv((const char *const[]){NULL});
    unlink(secret_path);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(door()->jwt_secret, SECRET32);
    done();
}

Test(door_conf, jwt_secret_file_crlf_stripped_and_wins_over_env)
{
    write_secret(SECRET32 "file\r\n");
    setenv("TODOD_JWT_SECRET", SECRET32 "env", 1);
    int rc = LOAD("--jwt-secret-file", secret_path);
    unlink(secret_path);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(door()->jwt_secret, SECRET32 "file");
    done();
}

Test(door_conf, jwt_secret_file_missing)
{
    setenv("TODOD_JWT_SECRET_FILE", "/nonexistent/td-secret", 1);
    expect_error(load_argv((const char *const[]){NULL}), "TODOD_JWT_SECRET_FILE");
    cr_assert_not_null(strstr(err, "/nonexistent/td-secret"), "%s", err);
    unsetenv("TODOD_JWT_SECRET_FILE");
    expect_error(LOAD("--jwt-secret-file", "/nonexistent/td-secret"), "--jwt-secret-file");
}

Test(door_conf, jwt_secret_file_too_short_names_the_file_setting)
{
    write_secret("tiny\n");
    int rc = LOAD("--jwt-secret-file", secret_path);
    expect_error(rc, "--jwt-secret-file");
    setenv("TODOD_JWT_SECRET_FILE", secret_path, 1);
    rc = load_argv((const char *const[]){NULL});
    unlink(secret_path);
    expect_error(rc, "TODOD_JWT_SECRET_FILE");
}


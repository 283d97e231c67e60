#include "tests/support/proc_harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/net_harness.h"

int td_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0, "no free port");
    close(fd);
    return ntohs(a.sin_port);
}

const char *td_test_todod_bin(void)
{
    const char *bin = getenv("TODOD_BIN");
    cr_assert(bin && *bin, "TODOD_BIN is not set (run the tests through meson)");
    return bin;
}

static void exec_todod(const char *const *argv, const char *const *env, const char *extra_flag,
                       const char *extra_value)
{
    const char *args[64];
    int n = 0;
    args[n++] = td_test_todod_bin();
    for (int i = 0; argv && argv[i] && n < 60; i++)
        args[n++] = argv[i];
    if (extra_flag) {
        args[n++] = extra_flag;
        args[n++] = extra_value;
    }
    args[n] = NULL;
    /* Tests sign their own tokens with this key unless they pass another. */
    setenv("TODOD_JWT_SECRET", TD_TEST_JWT_SECRET, 0);
    for (int i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    execv(args[0], (char *const *)args);
    _exit(127);
}

static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int td_test_run(const char *const *argv, const char *const *env, char **out, char **err)
{
    char out_path[] = "/tmp/td-test-out-XXXXXX", err_path[] = "/tmp/td-test-err-XXXXXX";
    int ofd = mkstemp(out_path), efd = mkstemp(err_path);
    cr_assert(ofd >= 0 && efd >= 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        exec_todod(argv, env, NULL, NULL);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    lseek(ofd, 0, SEEK_SET);
    lseek(efd, 0, SEEK_SET);
    char *o = slurp_fd(ofd), *e = slurp_fd(efd);
    close(ofd);
    close(efd);
    unlink(out_path);
    unlink(err_path);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    return exit_code(status);
}

/* Dependencies come up just after the listener: give /ready up to 10 s to say 200, so
 * tests start from a ready server (tests of unready servers look at /ready themselves). */
static void wait_ready(int port)
{
    for (int i = 0; i < 200; i++) {
        struct td_test_http r;
        int status = td_test_http(port, "GET", "/ready", NULL, NULL, &r) == 0 ? r.status : 0;
        if (status)
            td_test_http_free(&r);
        if (status == 200)
            return;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void td_test_spawn(struct td_test_proc *p, const char *const *argv, const char *const *env)
{
    memset(p, 0, sizeof *p);
    p->port = td_test_free_port();
    snprintf(p->stderr_path, sizeof p->stderr_path, "/tmp/td-test-log-%d-%d", getpid(), p->port);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    int efd = open(p->stderr_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    cr_assert(efd >= 0);
    p->pid = fork();
    cr_assert(p->pid >= 0);
    if (p->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(efd, 2);
        exec_todod(argv, env, "--listen", listen);
    }
    close(efd);
    for (int i = 0; i < 600; i++) {   /* 30 s: the first run may initdb */
        struct td_test_http r;
        if (td_test_http(p->port, "GET", "/health", NULL, NULL, &r) == 0) {
            int status = r.status;
            td_test_http_free(&r);
            if (status == 200) {
                wait_ready(p->port);
                return;
            }
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            char *logs = td_test_logs(p);
            cr_assert_fail("todod exited early (%d): %s", exit_code(st), logs);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    cr_assert_fail("todod did not answer /health within 30 s");
}

int td_test_stop(struct td_test_proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return exit_code(st);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    return -1;
}

char *td_test_logs(const struct td_test_proc *p)
{
    int fd = open(p->stderr_path, O_RDONLY);
    if (fd < 0)
        return strdup("");
    char *s = slurp_fd(fd);
    close(fd);
    return s;
}

void td_test_stop_running(struct td_test_proc *p)
{
    if (p->pid > 0)
        cr_expect_eq(td_test_stop(p, SIGTERM, 20000), 0, "todod did not stop cleanly");
    p->pid = 0;
}

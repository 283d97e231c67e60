/* Spawning the todod binary from tests and talking to it. */
#ifndef TD_TEST_PROC_HARNESS_H
#define TD_TEST_PROC_HARNESS_H
#include <sys/types.h>

/* The JWT secret spawned todod processes get unless a test passes another. */
#define TD_TEST_JWT_SECRET "test-secret-for-todod-integration-tests-0123456789"

struct td_test_proc {
    pid_t pid;
    int   port;             /* HTTP port it listens on */
    char  stderr_path[256]; /* its stderr (logs) go here */
};

/* A free TCP port on 127.0.0.1. */
int  td_test_free_port(void);
/* Path of the todod binary under test ($TODOD_BIN). */
const char *td_test_todod_bin(void);
/* Runs todod with argv (NULL-terminated, without argv[0]) and extra env "K=V" pairs
 * (NULL-terminated, may be NULL); waits for exit; returns exit status (or 128+signal)
 * and captures stdout/stderr (malloc'd, may be NULL out-params). */
int  td_test_run(const char *const *argv, const char *const *env, char **out, char **err);
/* Starts `todod <argv...>` in the background listening on a free port (adds --listen)
 * and waits until GET /health answers (asserts within 30 s). */
void td_test_spawn(struct td_test_proc *p, const char *const *argv, const char *const *env);
/* Sends sig and waits up to timeout_ms; returns exit status (or 128+signal), -1 on timeout
 * (then kills it). */
int  td_test_stop(struct td_test_proc *p, int sig, int timeout_ms);
/* Stops p with SIGTERM if it runs, expecting a clean exit within 20 s; p->pid becomes 0. */
void td_test_stop_running(struct td_test_proc *p);
/* Whole stderr captured so far (malloc'd). */
char *td_test_logs(const struct td_test_proc *p);

#endif

/* Roles run in the test process: one throwaway PostgreSQL (migrated) per test binary, and
 * td_svc_run on a thread of the test's worker with a plan holding just the roles under
 * test, on a free port. Tests talk real HTTP to it and read the database.
 *
 * Criterion runs each test in a fresh worker process and a TestSuite's .init in each of
 * them, so the cluster is started once by report hooks in the runner process and reaches
 * the workers through the environment. */
#ifndef TD_TEST_ROLE_HARNESS_H
#define TD_TEST_ROLE_HARNESS_H
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/config.h"
#include "core/door.h"
#include "core/svc.h"
#include "tests/support/pg_harness.h"

/* In the runner, before and after every test: start and migrate the cluster, then stop
 * and remove it. A failure is reported by the first td_test_roles_pg() of each test.
 * role_harness.c registers both as criterion report hooks (PRE_ALL, POST_ALL), so every
 * test binary that uses the harness gets them. */
void td_test_roles_cluster_up(void);
void td_test_roles_cluster_down(void);

/* Inside a test: the shared cluster (conninfo only) for td_test_pg_query and friends. */
struct td_test_pg *td_test_roles_pg(void);

#define TD_TEST_ROLES_MAX 4

struct td_test_roles {
    struct td_config            cfg;        /* filled by td_test_roles_config */
    const struct td_role       *roles[TD_TEST_ROLES_MAX];
    struct td_svc_plan          plan;
    int                         port;
    pthread_t                   thread;
    int                         started;    /* the thread was created */
    atomic_int                  returned;   /* td_svc_run returned */
    int                         rc;         /* what it returned */
    char                        err[512];
    int                         saved_stdout;
    FILE                       *out;        /* td_svc_run's stdout (the URL line) */
};

/* Core's defaults plus the settings of the roles (td_svc_add_settings): the shared cluster,
 * a free port, the test JWT secret (TD_TEST_JWT_SECRET), both /api rate limits off, error
 * logs only. needs: the plan's needs beyond the roles' own (TD_NEED_RELAY, say). Change
 * s->cfg or td_test_roles_door(s) before td_test_roles_run. */
void td_test_roles_config(struct td_test_roles *s, const struct td_role *const *roles, size_t n,
                          unsigned needs);
/* The door's settings block (NULL when no role has /api routes). */
struct td_door_conf *td_test_roles_door(struct td_test_roles *s);
/* Runs td_svc_run on a thread and waits until GET /health answers (asserts it does). */
void td_test_roles_run(struct td_test_roles *s);
/* td_test_roles_config then td_test_roles_run. */
void td_test_roles_start(struct td_test_roles *s, const struct td_role *const *roles, size_t n,
                         unsigned needs);
/* Sends SIGTERM (the drain starts); td_test_roles_stop then waits. */
void td_test_roles_sigterm(struct td_test_roles *s);
/* 1 once td_svc_run has returned. */
int  td_test_roles_returned(struct td_test_roles *s);
/* SIGTERM unless sent already, waits for td_svc_run, frees the config; asserts a clean
 * stop (0: every handle closed) and, with ASan, that nothing leaked. Safe to call twice
 * and after a failed start. */
void td_test_roles_stop(struct td_test_roles *s);

/* The value of one series ("name{labels}") on GET /metrics; -1 when absent. */
double td_test_roles_metric(struct td_test_roles *s, const char *series);

#endif

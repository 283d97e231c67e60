/* A role whose init fails half-way: the process says which role in one line, exits 1, and
 * releases everything it took (core calls fini for every role it called init on). The
 * test binary runs under ASan, so a leak or a handle left on the loop fails the run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;

static void setup(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"migrate", "--database-url", pg.conninfo, NULL};
    char *err = NULL;
    cr_assert_eq(td_test_run(argv, NULL, NULL, &err), 0, "%s", err);
    free(err);
}

static void teardown(void)
{
    td_test_pg_destroy(&pg);
}

TestSuite(start_failure, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `todod all` against the cluster with one fault injected; returns its stderr. */
static char *start_with_fault(const char *point, int *status)
{
    char fault[64], secret[128];
    snprintf(fault, sizeof fault, "TODOD_FAILPOINTS=%s", point);
    snprintf(secret, sizeof secret, "TODOD_JWT_SECRET=%s", TD_TEST_JWT_SECRET);
    const char *env[] = {fault, secret, NULL};
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--listen", "127.0.0.1:0",
                          "--log-format", "text", NULL};
    char *err = NULL;
    *status = td_test_run(argv, env, NULL, &err);
    return err;
}

static void expect_clean_failure(const char *point, const char *role)
{
    int status;
    char *err = start_with_fault(point, &status);
    cr_assert_eq(status, 1, "%s: exit %d: %s", point, status, err);
    char want[64];
    snprintf(want, sizeof want, "todod: role %s failed to start", role);
    cr_expect_not_null(strstr(err, want), "%s: stderr names the role: %s", point, err);
    cr_expect_null(strstr(err, "LeakSanitizer"), "%s leaked: %s", point, err);
    cr_expect_null(strstr(err, "left handles open"), "%s left handles: %s", point, err);
    cr_expect_null(strstr(err, "AddressSanitizer"), "%s: %s", point, err);
    free(err);
}

Test(start_failure, api_init_fails_half_way)
{
    expect_clean_failure("api.init", "api");
}

/* api started before audit: both are ended. */
Test(start_failure, audit_init_fails_half_way)
{
    expect_clean_failure("audit.init", "audit");
}

/* init succeeded, then core could not register the role's tables. */
Test(start_failure, registration_fails_after_init)
{
    expect_clean_failure("svc.register", "api");
}

Test(start_failure, without_a_fault_it_starts)
{
    struct td_test_proc p;
    const char *env[] = {"TODOD_JWT_SECRET=" TD_TEST_JWT_SECRET, NULL};
    const char *argv[] = {"all", "--database-url", pg.conninfo, NULL};
    td_test_spawn(&p, argv, env);
    cr_assert_eq(td_test_stop(&p, 15, 10000), 0);
}

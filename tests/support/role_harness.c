/* Roles run in the test process (see role_harness.h). */
#include "tests/support/role_harness.h"

#include <criterion/hooks.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/embed.h"
#include "core/migrate.h"
#include "tests/support/loop_harness.h"
#include "tests/support/net_harness.h"
#include "tests/support/proc_harness.h"

#define PG_ENV     "TODOD_TEST_ROLES_PG"
#define PG_ERR_ENV "TODOD_TEST_ROLES_PG_ERROR"

/* ---------- the cluster (runner process) ---------- */

static struct td_test_pg cluster;

void td_test_roles_cluster_up(void)
{
    char err[1024] = "";
    int rc = td_test_pg_try_start(&cluster, err, sizeof err);
    if (!rc) {
        struct td_log quiet = {.level = TD_LOG_ERROR, .format = TD_LOG_TEXT, .role = "test",
                               .fd = 2};
        int applied = 0;
        rc = td_migrate_apply(cluster.conninfo, td_migrations, td_migrations_count, &quiet,
                              &applied, err, sizeof err);
    }
    if (rc) {
        setenv(PG_ERR_ENV, err[0] ? err : strerror(-rc), 1);
        return;
    }
    setenv(PG_ENV, cluster.conninfo, 1);
}

void td_test_roles_cluster_down(void)
{
    int rc = td_test_pg_try_destroy(&cluster);
    if (rc)
        fprintf(stderr, "role harness: stopping the test cluster: %s\n", strerror(-rc));
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    td_test_roles_cluster_up();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    td_test_roles_cluster_down();
}

/* ---------- the cluster (test workers) ---------- */

struct td_test_pg *td_test_roles_pg(void)
{
    static struct td_test_pg shared;
    const char *why = getenv(PG_ERR_ENV), *conninfo = getenv(PG_ENV);
    cr_assert_null(why, "the test cluster did not start: %s", why);
    cr_assert_not_null(conninfo, "no test cluster (the PRE_ALL hook did not run)");
    snprintf(shared.conninfo, sizeof shared.conninfo, "%s", conninfo);
    return &shared;
}

/* ---------- the service ---------- */

void td_test_roles_config(struct td_test_roles *s, const struct td_role *const *roles, size_t n,
                          unsigned needs)
{
    cr_assert_leq(n, TD_TEST_ROLES_MAX);
    memset(s, 0, sizeof *s);
    s->saved_stdout = -1;
    for (size_t i = 0; i < n; i++)
        s->roles[i] = roles[i];
    s->plan = (struct td_svc_plan){.name = "test", .roles = s->roles, .nroles = n,
                                   .needs = TD_NEED_HTTP | needs};
    td_config_defaults(&s->cfg);
    cr_assert_eq(td_svc_add_settings(&s->cfg, s->roles, n), 0);
    s->cfg.database_url = strdup(td_test_roles_pg()->conninfo);
    s->cfg.listen_port = 0;   /* the kernel picks; the printed URL says which */
    s->cfg.log_level = TD_LOG_ERROR;
    s->cfg.log_format = TD_LOG_TEXT;
    struct td_door_conf *door = td_test_roles_door(s);
    if (door) {
        door->jwt_secret = strdup(TD_TEST_JWT_SECRET);
        door->rate_limit_user = 0;
        door->rate_limit_addr = 0;
    }
}

struct td_door_conf *td_test_roles_door(struct td_test_roles *s)
{
    return td_config_group(&s->cfg, &td_door_settings);
}

static void *svc_main(void *arg)
{
    struct td_test_roles *s = arg;
    s->rc = td_svc_run(&s->cfg, &s->plan, s->err, sizeof s->err);
    atomic_store(&s->returned, 1);
    return NULL;
}

/* The port from "todod listening on http://127.0.0.1:PORT", once printed; else 0. */
static int printed_port(struct td_test_roles *s)
{
    char line[200] = "";
    ssize_t n = pread(fileno(s->out), line, sizeof line - 1, 0);
    const char *colon = n > 0 ? strrchr(line, ':') : NULL;
    return colon && strchr(colon, '\n') ? atoi(colon + 1) : 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void td_test_roles_run(struct td_test_roles *s)
{
    /* A client that goes away must cost the server one write error, as in todod's main. */
    signal(SIGPIPE, SIG_IGN);
    /* td_svc_run prints its URL on stdout, which is criterion's TAP stream. */
    fflush(stdout);
    s->out = tmpfile();
    cr_assert_not_null(s->out);
    s->saved_stdout = dup(1);
    dup2(fileno(s->out), 1);
    atomic_store(&s->returned, 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, svc_main, s), 0);
    s->started = 1;
    double end = td_test_now_ms() + 20000;
    while (!s->port && !atomic_load(&s->returned) && td_test_now_ms() < end) {
        fflush(stdout);
        s->port = printed_port(s);
        if (!s->port)
            sleep_ms(5);
    }
    cr_assert(!atomic_load(&s->returned), "td_svc_run failed to start: %d %s", s->rc, s->err);
    cr_assert_gt(s->port, 0, "td_svc_run printed no URL within 20 s");
    struct td_test_http r = {0};
    int up = 0;
    while (!up && !atomic_load(&s->returned) && td_test_now_ms() < end) {
        up = td_test_http(s->port, "GET", "/health", NULL, NULL, &r) == 0 && r.status == 200;
        td_test_http_free(&r);
        if (!up)
            sleep_ms(10);
    }
    cr_assert(up, "GET /health never answered 200 (%d %s)", s->rc, s->err);
}

void td_test_roles_start(struct td_test_roles *s, const struct td_role *const *roles, size_t n,
                         unsigned needs)
{
    td_test_roles_config(s, roles, n, needs);
    td_test_roles_run(s);
}

static int sigterm_sent;

void td_test_roles_sigterm(struct td_test_roles *s)
{
    /* Only while td_svc_run handles it: otherwise SIGTERM would end the test's worker. */
    if (s->started && !atomic_load(&s->returned) && !sigterm_sent) {
        sigterm_sent = 1;
        kill(getpid(), SIGTERM);
    }
}

int td_test_roles_returned(struct td_test_roles *s)
{
    return atomic_load(&s->returned);
}

void td_test_roles_stop(struct td_test_roles *s)
{
    int started = s->started;
    if (started) {
        td_test_roles_sigterm(s);
        pthread_join(s->thread, NULL);
        s->started = 0;
        sigterm_sent = 0;
    }
    if (s->saved_stdout >= 0) {
        fflush(stdout);
        dup2(s->saved_stdout, 1);
        close(s->saved_stdout);
        s->saved_stdout = -1;
    }
    if (s->out)
        fclose(s->out);
    s->out = NULL;
    if (s->plan.roles)
        td_config_free(&s->cfg);
    s->plan.roles = NULL;
    if (!started)
        return;
    cr_assert_eq(s->rc, 0, "td_svc_run did not stop cleanly: %d %s", s->rc, s->err);
    td_test_assert_no_leaks();
}

double td_test_roles_metric(struct td_test_roles *s, const char *series)
{
    struct td_test_http r;
    cr_assert_eq(td_test_http(s->port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = r.body; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    td_test_http_free(&r);
    return v;
}

/* todod: one executable, the subcommand picks the role. The command table lives here
 * and this is the only file that exits (house rule 1). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/embed.h"
#include "core/log.h"
#include "core/migrate.h"
#include "core/pgembed.h"
#include "core/svc.h"

/* Roles register here once their module really works; `all` runs every one of them. */
extern const struct td_role td_role_api;
extern const struct td_role td_role_audit;
static const struct td_role *const all_roles[] = {&td_role_api, &td_role_audit};
static const size_t all_roles_count = sizeof all_roles / sizeof all_roles[0];
static const struct td_role *const api_roles[] = {&td_role_api};
static const struct td_role *const audit_roles[] = {&td_role_audit};

struct command {
    const char *name;
    const char *summary;
    int (*run)(const struct command *cmd, int argc, char **argv);
    const struct td_role *const *roles;   /* for role commands */
    size_t nroles;
    unsigned needs;                        /* beyond the roles' own (core/svc.h) */
};

static int run_roles(const struct command *cmd, int argc, char **argv);
static int run_migrate(const struct command *cmd, int argc, char **argv);
static int run_version(const struct command *cmd, int argc, char **argv);
static int run_help(const struct command *cmd, int argc, char **argv);

static const struct command commands[] = {
    {"all", "run every role in one process (private PostgreSQL when no --database-url)",
     run_roles, all_roles, 0, 0},
    {"api", "REST API: accounts, JWT auth, tasks; publishes the outbox", run_roles, api_roles, 1, 0},
    {"audit", "consume task-events into the hash-chained audit log; serve /api/audit",
     run_roles, audit_roles, 1, 0},
    {"relay", "publish the outbox to the bus only (api runs a relay too)", run_roles, NULL, 0,
     TD_NEED_RELAY},
    {"migrate", "apply the database schema and exit", run_migrate, NULL, 0, 0},
    {"routes", "print every HTTP route of `all` (METHOD PATTERN) and exit", run_roles, all_roles, 0, 0},
    {"version", "print the version", run_version, NULL, 0, 0},
    {"help", "show help for todod or one command", run_help, NULL, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0},
};

/* Library messages (libpq's) carry newlines and tabs; the CLI prints one line. */
static const char *one_line(char *msg)
{
    char *w = msg;
    for (char *r = msg; *r; r++) {
        char c = (*r == '\n' || *r == '\t' || *r == '\r') ? ' ' : *r;
        if (c != ' ' || (w > msg && w[-1] != ' '))
            *w++ = c;
    }
    while (w > msg && w[-1] == ' ')
        w--;
    *w = '\0';
    return msg;
}

static const struct command *find_command(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: todod <command> [options]\n\nCommands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nRun `todod <command> --help` for the options of a command.\n");
}

static void command_help(const struct command *c)
{
    printf("usage: todod %s [options]\n\n%s\n\n", c->name, c->summary);
    if (c->run == run_roles || c->run == run_migrate)
        td_config_print_help(stdout);
}

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* Loads configuration or prints one line and returns 2. */
static int load_config(struct td_config *cfg, int argc, char **argv)
{
    char err[512];
    td_config_defaults(cfg);
    if (td_config_load(cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "todod: %s\n", err);
        td_config_free(cfg);
        return 2;
    }
    return 0;
}

static int run_roles(const struct command *cmd, int argc, char **argv)
{
    struct td_config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    int routes = strcmp(cmd->name, "routes") == 0;
    int all = strcmp(cmd->name, "all") == 0 || routes;
    struct td_svc_plan plan = {
        .name = cmd->name,
        .roles = cmd->roles,
        .nroles = all ? all_roles_count : cmd->nroles,
        .needs = (all ? TD_NEED_DB : 0) | TD_NEED_HTTP | cmd->needs,
        .embedded_db = all,
        .dump_routes = routes,
    };
    if (routes && !cfg.jwt_secret)
        cfg.jwt_secret = strdup("routes-listing-needs-no-real-secret-0123456789");
    char err[512] = "";
    /* `all` must just work: with no secret configured it keeps one in its data dir. */
    if (all && !routes && !cfg.jwt_secret &&
        td_config_secret_from_data_dir(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "todod: %s\n", err);
        td_config_free(&cfg);
        return 1;
    }
    int rc = td_svc_run(&cfg, &plan, err, sizeof err);
    td_config_free(&cfg);
    if (rc == -EINTR)
        return 130;
    if (rc) {
        fprintf(stderr, "todod: %s\n", err[0] ? one_line(err) : strerror(-rc));
        return 1;
    }
    return 0;
}

static int run_migrate(const struct command *cmd, int argc, char **argv)
{
    (void)cmd;
    struct td_config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    struct td_log log = {.level = cfg.log_level, .format = cfg.log_format, .role = "migrate",
                         .fd = 2};
    char err[512] = "";
    struct td_pgembed *pg = NULL;
    const char *conninfo = cfg.database_url;
    int rc = 0, applied = 0;
    if (!conninfo) {
        struct td_pgembed_opts o = {.data_dir = cfg.data_dir, .log = &log};
        rc = td_pgembed_start(&o, &pg, err, sizeof err);
        conninfo = pg ? td_pgembed_conninfo(pg) : NULL;
    }
    if (!rc)
        rc = td_migrate_apply(conninfo, td_migrations, td_migrations_count, &log, &applied, err,
                              sizeof err);
    if (pg)
        td_pgembed_stop(pg);
    td_config_free(&cfg);
    if (rc) {
        fprintf(stderr, "todod: migrate: %s\n", err[0] ? one_line(err) : strerror(-rc));
        return 1;
    }
    printf("applied %d migration(s); schema is current (%zu known)\n", applied,
           td_migrations_count);
    return 0;
}

static int run_version(const struct command *cmd, int argc, char **argv)
{
    (void)cmd;
    (void)argv;
    if (argc > 0) {
        fprintf(stderr, "todod: version: takes no arguments\n");
        return 2;
    }
    printf("todod %s\n", TODOD_VERSION);
    return 0;
}

static int run_help(const struct command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc == 0) {
        usage(stdout);
        return 0;
    }
    const struct command *c = find_command(argv[0]);
    if (!c) {
        fprintf(stderr, "todod: help: unknown command '%s' (see `todod help`)\n", argv[0]);
        return 2;
    }
    command_help(c);
    return 0;
}

int main(int argc, char **argv)
{
    /* A peer that closes early must cost one write error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return run_version(NULL, 0, NULL);
    const struct command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "todod: unknown command '%s' (see `todod help`)\n", argv[1]);
        return 2;
    }
    if (c->run != run_help && wants_help(argc - 2, argv + 2)) {
        command_help(c);
        return 0;
    }
    return c->run(c, argc - 2, argv + 2);
}

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
#include "core/buf.h"
#include "core/svc.h"

extern const struct td_role td_role_api;
extern const struct td_role td_role_audit;
extern const struct td_role td_role_recur;
extern const struct td_role td_role_notify;
extern const struct td_role td_role_sync;

/* What a command needs, as git's builtins say RUN_SETUP: the runner reads these flags
 * and never the command's name. */
enum {
    CMD_ROLE     = 1u << 0,   /* runs its role and is part of `all` */
    CMD_ALL      = 1u << 1,   /* runs every CMD_ROLE row */
    CMD_PRIVATE  = 1u << 2,   /* no --database-url: a private cluster, a generated secret */
    CMD_RELAY    = 1u << 3,   /* publishes the outbox */
    CMD_SETTINGS = 1u << 4,   /* takes the settings (--help lists them) */
};

struct command {
    const char *name;
    const char *summary;
    int (*run)(const struct command *cmd, int argc, char **argv);
    const struct td_role *role;   /* CMD_ROLE */
    unsigned flags;
};

static int run_roles(const struct command *cmd, int argc, char **argv);
static int run_routes(const struct command *cmd, int argc, char **argv);
static int run_migrate(const struct command *cmd, int argc, char **argv);
static int run_version(const struct command *cmd, int argc, char **argv);
static int run_help(const struct command *cmd, int argc, char **argv);

/* A new role is one row here. */
static const struct command commands[] = {
    {"all", "run every role in one process (private PostgreSQL when no --database-url)",
     run_roles, NULL, CMD_ALL | CMD_PRIVATE | CMD_SETTINGS},
    {"api", "REST API: accounts, JWT auth, tasks; publishes the outbox", run_roles,
     &td_role_api, CMD_ROLE | CMD_SETTINGS},
    {"audit", "consume task-events into the hash-chained audit log; serve /api/audit",
     run_roles, &td_role_audit, CMD_ROLE | CMD_SETTINGS},
    {"recur", "consume task-events: a completed recurring task gets its next occurrence",
     run_roles, &td_role_recur, CMD_ROLE | CMD_SETTINGS},
    {"notify", "consume task-events into reminders; fire each at its instant (in_app notifications)",
     run_roles, &td_role_notify, CMD_ROLE | CMD_SETTINGS},
    {"sync", "serve /ws: each user's task updates and in_app notifications live over WebSocket",
     run_roles, &td_role_sync, CMD_ROLE | CMD_SETTINGS},
    {"relay", "publish the outbox to the bus only (api runs a relay too)", run_roles, NULL,
     CMD_RELAY | CMD_SETTINGS},
    {"migrate", "apply the database schema and exit", run_migrate, NULL, CMD_SETTINGS},
    {"routes", "print every HTTP route of `all` (METHOD PATTERN) and exit", run_routes, NULL,
     CMD_ALL},
    {"version", "print the version", run_version, NULL, 0},
    {"help", "show help for todod or one command; `help settings` prints the settings table",
     run_help, NULL, 0},
    {NULL, NULL, NULL, NULL, 0},
};

#define MAX_ROLES 16

/* The roles a command runs: its own, or every role row for CMD_ALL. */
static size_t command_roles(const struct command *cmd, const struct td_role **out)
{
    size_t n = 0;
    if (cmd->role)
        out[n++] = cmd->role;
    for (const struct command *c = commands; (cmd->flags & CMD_ALL) && c->name && n < MAX_ROLES; c++)
        if (c->flags & CMD_ROLE)
            out[n++] = c->role;
    return n;
}

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

/* Core's settings and those of the command's roles and of the parts they use. */
static int add_settings(const struct command *c, struct td_config *cfg)
{
    const struct td_role *roles[MAX_ROLES];
    td_config_defaults(cfg);
    return td_svc_add_settings(cfg, roles, command_roles(c, roles));
}

static void command_help(const struct command *c)
{
    printf("usage: todod %s [options]\n\n%s\n\n", c->name, c->summary);
    if (!(c->flags & CMD_SETTINGS))
        return;
    struct td_config cfg;
    if (add_settings(c, &cfg) == 0)
        td_config_print_help(&cfg, stdout);
    td_config_free(&cfg);
}

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* Loads configuration or prints one line and returns 2. */
static int load_config(const struct command *cmd, struct td_config *cfg, int argc, char **argv)
{
    char err[512];
    int rc = add_settings(cmd, cfg);
    if (rc == 0 && td_config_load(cfg, argc, argv, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "todod: %s\n", rc ? strerror(-rc) : err);
    td_config_free(cfg);
    return 2;
}

static int run_roles(const struct command *cmd, int argc, char **argv)
{
    struct td_config cfg;
    if (load_config(cmd, &cfg, argc, argv))
        return 2;
    const struct td_role *roles[MAX_ROLES];
    struct td_svc_plan plan = {
        .name = cmd->name,
        .roles = roles,
        .nroles = command_roles(cmd, roles),
        .needs = TD_NEED_HTTP | ((cmd->flags & CMD_PRIVATE) ? TD_NEED_DB : 0) |
                 ((cmd->flags & CMD_RELAY) ? TD_NEED_RELAY : 0),
        .embedded_db = (cmd->flags & CMD_PRIVATE) != 0,
    };
    char err[512] = "";
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

/* From the roles' tables alone: no database, no server, no secret. */
static int run_routes(const struct command *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc > 0) {
        fprintf(stderr, "todod: routes: takes no arguments\n");
        return 2;
    }
    const struct td_role *roles[MAX_ROLES];
    struct td_buf out = {0};
    int rc = td_svc_routes_dump(roles, command_roles(cmd, roles), &out);
    if (!rc)
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    td_buf_free(&out);
    if (rc)
        fprintf(stderr, "todod: routes: %s\n", strerror(-rc));
    return rc ? 1 : 0;
}

static int run_migrate(const struct command *cmd, int argc, char **argv)
{
    struct td_config cfg;
    if (load_config(cmd, &cfg, argc, argv))
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
    if (strcmp(argv[0], "settings") == 0) {   /* the README's table: every setting of `all` */
        struct td_config cfg;
        int rc = add_settings(find_command("all"), &cfg);
        if (!rc)
            td_config_print_markdown(&cfg, stdout);
        td_config_free(&cfg);
        return rc ? 1 : 0;
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

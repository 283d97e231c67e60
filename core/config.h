/* Configuration: flags win over TODOD_* environment variables, which win over defaults.
 * Settings are rows of typed tables: core's rows fill struct td_config, and each module
 * or role that has settings of its own adds a group whose rows fill a block it owns.
 * The same rows give the parser, the checks, --help and the README's table. */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H
#include <stddef.h>
#include <stdio.h>
#include "core/log.h"

enum td_bus_driver { TD_BUS_LOCAL, TD_BUS_KAFKA };

enum td_setting_type {
    TD_SET_STRING,     /* char *, owned; must not be empty */
    TD_SET_SECRET_FILE,/* char *, owned: the file's content without its trailing newline */
    TD_SET_INT,        /* int within [min, max] */
    TD_SET_BOOL,       /* int 0/1: 1|true|yes, 0|false|no; a bare flag means true */
    TD_SET_DURATION,   /* int milliseconds within [min, max]: "500ms", "10s", "2m", "1500" */
    TD_SET_SIZE,       /* size_t bytes within [min, max]: "16384", "16KiB", "1MiB" */
    TD_SET_RATE,       /* double within [min, max] */
    TD_SET_ENUM,       /* int: the index of the value in choices */
    TD_SET_CUSTOM,     /* parse() stores it */
};

/* One setting. offset says where the value goes: in struct td_config for core's rows,
 * in the group's own block otherwise. */
struct td_setting {
    const char          *flag;     /* "listen" for --listen */
    const char          *env;      /* "TODOD_LISTEN" */
    const char          *arg;      /* "HOST:PORT", or NULL for a boolean flag */
    enum td_setting_type type;
    size_t               offset;
    double               min, max;
    const char          *def;      /* default, written as a user would; NULL: unset */
    const char *const   *choices;  /* TD_SET_ENUM, NULL-terminated */
    const char          *help;
    const char          *expect;   /* what a bad value is told: "expected HOST:PORT" */
    int (*parse)(void *block, const char *value);   /* TD_SET_CUSTOM: 0 or -EINVAL */
};

/* The settings of one module or role. rows end with a row whose flag is NULL. */
struct td_settings_group {
    const char              *name;
    const struct td_setting *rows;
    size_t                   block_size;   /* 0: the rows fill struct td_config */
    /* After every value is read: cross-setting checks and fallbacks (argv tells where
     * a value came from). 0 or -EINVAL with one line in err. */
    int (*check)(void *block, int argc, char **argv, char *err, size_t errlen);
};

#define TD_CONFIG_MAX_GROUPS 16

struct td_config {
    char  listen_host[256];
    int   listen_port;
    char *database_url;       /* owned; NULL = embedded PostgreSQL (all) or error (roles) */
    char *data_dir;           /* owned; default "./.todod" */
    int   bus;                /* enum td_bus_driver */
    char *kafka_brokers;      /* owned; required when bus = kafka */
    int   kafka_partitions;   /* for topics created at start-up */
    int   kafka_replication;
    int   kafka_fetch_wait_ms;  /* consumers' fetch.wait.max.ms */
    int   consumer_max_attempts;  /* then the event goes to the dead-letter topic */
    int   log_level;          /* enum td_log_level */
    int   log_format;         /* enum td_log_format */
    int   migrate;            /* --migrate: apply migrations at start-up */
    int   db_pool_size;
    /* HTTP */
    size_t max_header_bytes;  /* request line + headers; over → 431 */
    int    max_headers;       /* header count; over → 431 */
    size_t max_body_bytes;    /* over → 413 */
    int    request_timeout_ms;  /* a request must arrive whole within this; else 408 */
    int    idle_timeout_ms;     /* keep-alive idle connection is closed after this */
    int    drain_timeout_ms;    /* SIGTERM: in-flight work gets this long */
    int    max_connections;
    char  *cors_origins;        /* owned; NULL = no CORS */
    int    cors_credentials;
    /* Groups beyond core's and their blocks (owned), in the order they were added. */
    const struct td_settings_group *groups[TD_CONFIG_MAX_GROUPS];
    void  *blocks[TD_CONFIG_MAX_GROUPS];
    int    ngroups;
};

/* Core's rows, ending with a row whose flag is NULL; and core's group. */
extern const struct td_setting td_settings[];
extern const struct td_settings_group td_core_settings;

/* Core's defaults; no other group yet. */
void td_config_defaults(struct td_config *cfg);
/* Adds a group (before td_config_load): allocates its block with the defaults of its
 * rows. Adding a group twice adds it once. */
int  td_config_add_group(struct td_config *cfg, const struct td_settings_group *g);
/* The block of a group that was added, or NULL. */
void *td_config_group(const struct td_config *cfg, const struct td_settings_group *g);
/* Reads env then argv (flags win) for core and every group added. argv holds only
 * options. On error returns -EINVAL and writes one human line (no newline) into err. */
int  td_config_load(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen);
void td_config_free(struct td_config *cfg);
/* The help text of core's rows and every group added. */
void td_config_print_help(const struct td_config *cfg, FILE *f);
/* The same rows as the README's Markdown table. */
void td_config_print_markdown(const struct td_config *cfg, FILE *f);

/* Helpers for groups' check hooks and for secrets. */
int  td_config_fail(char *err, size_t errlen, const char *where, const char *what,
                    const char *value);
/* 1 when --flag was given in argv. */
int  td_config_flag_given(int argc, char **argv, const char *flag);
/* Reads a secret file into *out (replacing it), without its trailing newline. */
int  td_config_read_secret(const char *path, char **out, char *why, size_t whylen);
/* Wipes and frees a secret. */
void td_config_free_secret(char **secret);

#endif

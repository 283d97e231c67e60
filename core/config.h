/* Configuration: flags win over TODOD_* environment variables, which win over defaults.
 * Every value is validated by td_config_load; errors name the setting. */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H
#include <stddef.h>
#include "core/log.h"

enum td_bus_driver { TD_BUS_LOCAL, TD_BUS_KAFKA };

struct td_config {
    char  listen_host[256];
    int   listen_port;
    char *database_url;       /* owned; NULL = embedded PostgreSQL (all) or error (roles) */
    char *data_dir;           /* owned; default "./.todod" */
    enum td_bus_driver bus;
    char *kafka_brokers;      /* owned; required when bus = kafka */
    int   kafka_partitions;   /* for topics created at start-up */
    int   kafka_replication;
    int   consumer_max_attempts;  /* then the event goes to the dead-letter topic */
    char *jwt_secret;         /* owned; from TODOD_JWT_SECRET(_FILE) or BETTER_AUTH_SECRET */
    char *jwt_issuer;         /* owned; NULL = not checked */
    char *jwt_audience;       /* owned; NULL = not checked */
    double rate_limit_user;   /* API requests per second per user; 0 = off */
    double rate_limit_addr;   /* API requests per second per client address; 0 = off */
    enum td_log_level  log_level;
    enum td_log_format log_format;
    int   migrate;            /* --migrate: apply migrations at start-up */
    int   db_pool_size;
    /* HTTP limits */
    size_t max_header_bytes;  /* request line + headers; over → 431 */
    int    max_headers;       /* header count; over → 431 */
    size_t max_body_bytes;    /* over → 413 */
    int    request_timeout_ms;  /* a request must arrive whole within this; else 408 */
    int    idle_timeout_ms;     /* keep-alive idle connection is closed after this */
    int    drain_timeout_ms;    /* SIGTERM: in-flight work gets this long */
    int    max_connections;
};

/* One setting's description, used for --help text and the parser. */
struct td_setting {
    const char *flag;     /* "listen" for --listen */
    const char *env;      /* "TODOD_LISTEN" or NULL */
    const char *arg;      /* "HOST:PORT", or NULL for a boolean flag */
    const char *help;
};
extern const struct td_setting td_settings[];

void td_config_defaults(struct td_config *cfg);
/* Reads env then argv (flags win). argv holds only options, no command name.
 * On error returns -EINVAL and writes one human line (no newline) into err. */
int  td_config_load(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen);
void td_config_free(struct td_config *cfg);
/* `todod all` without a secret: read <data_dir>/jwt-secret, creating it (0600, 32 random
 * bytes) on first run, so tokens survive restarts without any configuration. */
int  td_config_secret_from_data_dir(struct td_config *cfg, char *err, size_t errlen);
/* Prints the settings table as help text. */
void td_config_print_help(void *file);

#endif

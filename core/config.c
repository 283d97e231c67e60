/* Configuration (see config.h): one generic reader over typed rows. Core's rows are here;
 * other modules and roles bring their own groups. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "core/datetime.h"
#include "core/http_cors.h"

static int parse_listen(const char *s, struct td_config *cfg);

static int parse_listen_row(void *block, const char *v)
{
    return parse_listen(v, block);
}

static int parse_brokers(void *block, const char *v)
{
    struct td_config *cfg = block;
    if (!*v || strchr(v, ' '))
        return -EINVAL;
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    free(cfg->kafka_brokers);
    cfg->kafka_brokers = copy;
    return 0;
}

static int parse_log_level(void *block, const char *v)
{
    enum td_log_level l;
    if (td_log_level_parse(v, &l))
        return -EINVAL;
    ((struct td_config *)block)->log_level = (int)l;
    return 0;
}

static const char *const bus_names[] = {"local", "kafka", NULL};
static const char *const log_formats[] = {"json", "text", NULL};

#define CORE(field) offsetof(struct td_config, field)
#define MS_DAY (24.0 * 3600 * 1000)

const struct td_setting td_settings[] = {
    {"listen", "TODOD_LISTEN", "HOST:PORT", TD_SET_CUSTOM, 0, 0, 0, "127.0.0.1:8080", NULL,
     "HTTP address (port 0 picks one)", "expected HOST:PORT", parse_listen_row},
    {"database-url", "TODOD_DATABASE_URL", "URL", TD_SET_STRING, CORE(database_url), 0, 0, NULL,
     NULL, "PostgreSQL URL or conninfo (default: a private cluster in the data dir, `all` only)", NULL, NULL},
    {"data-dir", "TODOD_DATA_DIR", "DIR", TD_SET_STRING, CORE(data_dir), 0, 0, ".todod", NULL,
     "where the private PostgreSQL cluster and generated secrets live", NULL, NULL},
    {"bus", "TODOD_BUS", "local|kafka", TD_SET_ENUM, CORE(bus), 0, 0, "local", bus_names,
     "event bus driver", "expected local or kafka", NULL},
    {"kafka-brokers", "TODOD_KAFKA_BROKERS", "HOST:PORT,...", TD_SET_CUSTOM, 0, 0, 0, NULL, NULL,
     "Kafka bootstrap servers (bus=kafka)", "expected HOST:PORT[,HOST:PORT...]", parse_brokers},
    {"log-level", "TODOD_LOG_LEVEL", "debug|info|warn|error", TD_SET_CUSTOM, 0, 0, 0, "info", NULL,
     "least severe level logged", "expected debug, info, warn or error", parse_log_level},
    {"log-format", "TODOD_LOG_FORMAT", "json|text", TD_SET_ENUM, CORE(log_format), 0, 0, "json",
     log_formats, "log line format", "expected json or text", NULL},
    {"migrate", "TODOD_MIGRATE", NULL, TD_SET_BOOL, CORE(migrate), 0, 0, "false", NULL,
     "apply database migrations at start-up (always on for `all`)", NULL, NULL},
    {"db-pool-size", "TODOD_DB_POOL_SIZE", "N", TD_SET_INT, CORE(db_pool_size), 1, 256, "4", NULL,
     "PostgreSQL connections per process", NULL, NULL},
    {"max-header-bytes", "TODOD_MAX_HEADER_BYTES", "SIZE", TD_SET_SIZE, CORE(max_header_bytes),
     1024, 1099511627776.0, "16KiB", NULL, "request line and headers limit, 431 past it",
     "expected a size of at least 1KiB such as 16KiB", NULL},
    {"max-headers", "TODOD_MAX_HEADERS", "N", TD_SET_INT, CORE(max_headers), 1, 10000, "100", NULL,
     "header count limit, 431 past it", NULL, NULL},
    {"max-body-bytes", "TODOD_MAX_BODY_BYTES", "SIZE", TD_SET_SIZE, CORE(max_body_bytes), 1,
     1099511627776.0, "1MiB", NULL, "request body limit, 413 past it", "expected a size such as 1MiB", NULL},
    {"request-timeout", "TODOD_REQUEST_TIMEOUT", "DURATION", TD_SET_DURATION,
     CORE(request_timeout_ms), 1, MS_DAY, "10s", NULL,
     "a request must arrive whole within this, else 408", "expected a duration such as 10s or 500ms", NULL},
    {"idle-timeout", "TODOD_IDLE_TIMEOUT", "DURATION", TD_SET_DURATION, CORE(idle_timeout_ms), 1,
     MS_DAY, "60s", NULL, "idle keep-alive connections close after this", "expected a duration such as 60s", NULL},
    {"drain-timeout", "TODOD_DRAIN_TIMEOUT", "DURATION", TD_SET_DURATION, CORE(drain_timeout_ms), 1,
     MS_DAY, "10s", NULL, "SIGTERM: time allowed to finish in-flight work", "expected a duration such as 10s", NULL},
    {"max-connections", "TODOD_MAX_CONNECTIONS", "N", TD_SET_INT, CORE(max_connections), 1, 1000000,
     "10000", NULL, "open HTTP connections limit", NULL, NULL},
    {"cors-origins", "TODOD_CORS_ORIGINS", "ORIGIN,...", TD_SET_STRING, CORE(cors_origins), 0, 0,
     NULL, NULL, "origins whose pages may call the API from a browser, or * (default: none)", NULL, NULL},
    {"cors-credentials", "TODOD_CORS_CREDENTIALS", NULL, TD_SET_BOOL, CORE(cors_credentials), 0, 0,
     "false", NULL, "let those pages send credentials (refused with *)", NULL, NULL},
    {"kafka-partitions", "TODOD_KAFKA_PARTITIONS", "N", TD_SET_INT, CORE(kafka_partitions), 1, 10000,
     "6", NULL, "partitions of the topics todod creates when missing", NULL, NULL},
    {"kafka-replication", "TODOD_KAFKA_REPLICATION", "N", TD_SET_INT, CORE(kafka_replication), 1, 100,
     "1", NULL, "replication factor of the topics todod creates", NULL, NULL},
    {"kafka-fetch-wait", "TODOD_KAFKA_FETCH_WAIT", "DURATION", TD_SET_DURATION,
     CORE(kafka_fetch_wait_ms), 1, 10000, "50ms", NULL,
     "longest a consumer's fetch waits at an idle broker (a broker answers as soon as data "
     "comes; librdkafka's mock cluster waits it out, so there it bounds every event's latency)",
     "expected a duration from 1ms to 10s", NULL},
    {"consumer-max-attempts", "TODOD_CONSUMER_MAX_ATTEMPTS", "N", TD_SET_INT,
     CORE(consumer_max_attempts), 1, 1000, "5", NULL,
     "tries before an event goes to the dead-letter topic", NULL, NULL},
    {0},
};

static int core_check(void *block, int argc, char **argv, char *err, size_t errlen);

const struct td_settings_group td_core_settings = {
    .name = "core", .rows = td_settings, .block_size = 0, .check = core_check,
};

static int parse_long(const char *s, long min, long max, long *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "16384", "16KiB", "1MiB", "16k", "1m". */
static int parse_size(const char *s, size_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned long long scale = 1;
    if (*end == '\0' || strcasecmp(end, "b") == 0)
        scale = 1;
    else if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0 || strcasecmp(end, "kb") == 0)
        scale = 1024;
    else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0 || strcasecmp(end, "mb") == 0)
        scale = 1024 * 1024;
    else
        return -EINVAL;
    if (v == 0 || v > (1ULL << 40) / scale)
        return -EINVAL;
    *out = (size_t)(v * scale);
    return 0;
}

/* HOST:PORT, [V6]:PORT, or :PORT. "localhost" means 127.0.0.1. */
static int parse_listen(const char *s, struct td_config *cfg)
{
    const char *colon;
    char host[256];
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return -EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    long port;
    if (parse_long(colon + 1, 0, 65535, &port))
        return -EINVAL;
    if (!host[0] || strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "%s", host[0] ? "127.0.0.1" : "0.0.0.0");
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (uv_ip4_addr(host, 0, &a4) != 0 && uv_ip6_addr(host, 0, &a6) != 0)
        return -EINVAL;
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "%s", host);
    cfg->listen_port = (int)port;
    return 0;
}

int td_config_fail(char *err, size_t errlen, const char *where, const char *what,
                   const char *value)
{
    if (value)
        snprintf(err, errlen, "%s: %s, got \"%.200s\"", where, what, value);
    else
        snprintf(err, errlen, "%s: %s", where, what);
    return -EINVAL;
}

static int replace_str(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

void td_config_free_secret(char **secret)
{
    if (*secret) {
        /* Secrets do not outlive their use in freed heap memory. */
        volatile char *p = *secret;
        while (*p)
            *p++ = 0;
    }
    free(*secret);
    *secret = NULL;
}

int td_config_read_secret(const char *path, char **out, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';   /* files written by editors and echo end in a newline */
    td_config_free_secret(out);
    int rc = replace_str(out, buf);
    memset(buf, 0, sizeof buf);
    return rc;
}

/* The text a bad value is told when its row says nothing of its own. */
static void expectation(const struct td_setting *s, char *out, size_t len)
{
    if (s->expect)
        snprintf(out, len, "%s", s->expect);
    else if (s->type == TD_SET_INT)
        snprintf(out, len, "expected a whole number from %.0f to %.0f", s->min, s->max);
    else if (s->type == TD_SET_RATE)
        snprintf(out, len, "expected a number from %g to %g", s->min, s->max);
    else if (s->type == TD_SET_BOOL)
        snprintf(out, len, "expected true or false");
    else
        snprintf(out, len, "invalid value");
}

/* Stores value v of row s into block; "where" names the setting as the user wrote it. */
static int apply(const struct td_setting *s, void *block, const char *where, const char *v,
                 char *err, size_t errlen)
{
    char *slot = (char *)block + s->offset;
    char expect[160], why[300];
    long n;
    int ms;
    size_t size;
    expectation(s, expect, sizeof expect);
    switch (s->type) {
    case TD_SET_STRING:
        if (!*v)
            return td_config_fail(err, errlen, where, "must not be empty", NULL);
        return replace_str((char **)slot, v);
    case TD_SET_SECRET_FILE:
        if (td_config_read_secret(v, (char **)slot, why, sizeof why))
            return td_config_fail(err, errlen, where, why, NULL);
        return 0;
    case TD_SET_INT:
        if (parse_long(v, (long)s->min, (long)s->max, &n))
            return td_config_fail(err, errlen, where, expect, v);
        *(int *)slot = (int)n;
        return 0;
    case TD_SET_BOOL:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
            *(int *)slot = 1;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
            *(int *)slot = 0;
        else
            return td_config_fail(err, errlen, where, expect, v);
        return 0;
    case TD_SET_DURATION:
        if (td_datetime_parse_ms(v, &ms) || ms < s->min || ms > s->max)
            return td_config_fail(err, errlen, where, expect, v);
        *(int *)slot = ms;
        return 0;
    case TD_SET_SIZE:
        if (parse_size(v, &size) || (double)size < s->min || (double)size > s->max)
            return td_config_fail(err, errlen, where, expect, v);
        *(size_t *)slot = size;
        return 0;
    case TD_SET_RATE: {
        char *end;
        errno = 0;
        double r = strtod(v, &end);
        if (errno || end == v || *end || r < s->min || r > s->max)
            return td_config_fail(err, errlen, where, expect, v);
        *(double *)slot = r;
        return 0;
    }
    case TD_SET_ENUM:
        for (int i = 0; s->choices[i]; i++)
            if (strcmp(v, s->choices[i]) == 0) {
                *(int *)slot = i;
                return 0;
            }
        return td_config_fail(err, errlen, where, expect, v);
    case TD_SET_CUSTOM: {
        int rc = s->parse(block, v);
        return rc == -EINVAL ? td_config_fail(err, errlen, where, expect, v) : rc;
    }
    }
    return -EINVAL;
}

int td_config_flag_given(int argc, char **argv, const char *flag)
{
    size_t n = strlen(flag);
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, flag, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

/* Visits core's group and every added one with its block. */
#define EACH_GROUP(cfg, g, block, body)                                              \
    for (int gi_ = -1; gi_ < (cfg)->ngroups; gi_++) {                                \
        const struct td_settings_group *g = gi_ < 0 ? &td_core_settings : (cfg)->groups[gi_]; \
        void *block = gi_ < 0 ? (void *)(cfg) : (cfg)->blocks[gi_];                 \
        body                                                                         \
    }

static int apply_defaults(const struct td_settings_group *g, void *block)
{
    char err[200];
    for (const struct td_setting *s = g->rows; s->flag; s++)
        if (s->def && apply(s, block, s->flag, s->def, err, sizeof err) != 0)
            return -EINVAL;   /* a table bug: the tests load every default */
    return 0;
}

void td_config_defaults(struct td_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    apply_defaults(&td_core_settings, cfg);
}

int td_config_add_group(struct td_config *cfg, const struct td_settings_group *g)
{
    if (td_config_group(cfg, g) || g == &td_core_settings)
        return 0;
    if (cfg->ngroups == TD_CONFIG_MAX_GROUPS)
        return -ENOSPC;
    void *block = calloc(1, g->block_size ? g->block_size : 1);
    if (!block)
        return -ENOMEM;
    cfg->groups[cfg->ngroups] = g;
    cfg->blocks[cfg->ngroups++] = block;
    return apply_defaults(g, block);
}

void *td_config_group(const struct td_config *cfg, const struct td_settings_group *g)
{
    for (int i = 0; i < cfg->ngroups; i++)
        if (cfg->groups[i] == g)
            return cfg->blocks[i];
    return NULL;
}

static void free_block(const struct td_settings_group *g, void *block)
{
    for (const struct td_setting *s = g->rows; s->flag; s++) {
        char **slot = (char **)((char *)block + s->offset);
        if (s->type == TD_SET_SECRET_FILE)
            td_config_free_secret(slot);
        else if (s->type == TD_SET_STRING) {
            free(*slot);
            *slot = NULL;
        }
    }
}

void td_config_free(struct td_config *cfg)
{
    free_block(&td_core_settings, cfg);
    free(cfg->kafka_brokers);
    cfg->kafka_brokers = NULL;
    for (int i = 0; i < cfg->ngroups; i++) {
        free_block(cfg->groups[i], cfg->blocks[i]);
        free(cfg->blocks[i]);
    }
    cfg->ngroups = 0;
}

/* A setting given as a flag ignores its environment variable entirely, so a stale or
 * bad variable cannot stop a command line that overrides it. */
static int load_env(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    EACH_GROUP(cfg, g, block, {
        for (const struct td_setting *s = g->rows; s->flag; s++) {
            const char *v = getenv(s->env);
            int rc = v && !td_config_flag_given(argc, argv, s->flag)
                         ? apply(s, block, s->env, v, err, errlen) : 0;
            if (rc)
                return rc;
        }
    })
    return 0;
}

static int find_setting(struct td_config *cfg, const char *name, size_t len,
                        const struct td_setting **row, void **where)
{
    EACH_GROUP(cfg, g, block, {
        for (const struct td_setting *s = g->rows; s->flag; s++)
            if (strlen(s->flag) == len && strncmp(s->flag, name, len) == 0) {
                *row = s;
                *where = block;
                return 0;
            }
    })
    return -ENOENT;
}

static int load_flags(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return td_config_fail(err, errlen, a, "unexpected argument (options start with --)", NULL);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct td_setting *s;
        void *block;
        char where[80];
        snprintf(where, sizeof where, "--%.*s", (int)(len > 60 ? 60 : len), name);
        if (find_setting(cfg, name, len, &s, &block))
            return td_config_fail(err, errlen, where, "unknown option (see --help)", NULL);
        const char *value;
        if (!s->arg)
            value = eq ? eq + 1 : "true";
        else if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return td_config_fail(err, errlen, where, "needs a value", NULL);
        int rc = apply(s, block, where, value, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int td_config_load(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = load_env(cfg, argc, argv, err, errlen);
    if (!rc)
        rc = load_flags(cfg, argc, argv, err, errlen);
    EACH_GROUP(cfg, g, block, {
        if (!rc && g->check)
            rc = g->check(block, argc, argv, err, errlen);
    })
    return rc;
}

static int core_check(void *block, int argc, char **argv, char *err, size_t errlen)
{
    struct td_config *cfg = block;
    (void)argc;
    (void)argv;
    if (cfg->bus == TD_BUS_KAFKA && !cfg->kafka_brokers)
        return td_config_fail(err, errlen, "--kafka-brokers", "required when --bus is kafka", NULL);
    if (cfg->cors_origins) {   /* checked now, so a bad list stops the start with one line */
        struct td_cors *cors = NULL;
        char why[300];
        int rc = td_cors_new(cfg->cors_origins, cfg->cors_credentials, &cors, why, sizeof why);
        td_cors_free(cors);
        if (rc)
            return rc == -EINVAL ? td_config_fail(err, errlen, "--cors-origins", why, NULL) : rc;
    }
    return 0;
}

static void left_column(const struct td_setting *s, char *out, size_t len)
{
    snprintf(out, len, "--%s%s%s", s->flag, s->arg ? " " : "", s->arg ? s->arg : "");
}

void td_config_print_help(const struct td_config *cfg, FILE *f)
{
    fprintf(f, "Options (flags win over environment variables):\n");
    EACH_GROUP(cfg, g, block, {
        (void)block;
        for (const struct td_setting *s = g->rows; s->flag; s++) {
            char left[64];
            left_column(s, left, sizeof left);
            fprintf(f, "  %-36s %s\n  %-36s [%s%s%s]\n", left, s->help, "", s->env,
                    s->def ? ", default " : "", s->def ? s->def : "");
        }
    })
}

/* A Markdown cell: pipes would end it. */
static void cell(FILE *f, const char *text)
{
    for (const char *p = text; *p; p++)
        fputs(*p == '|' ? "\\|" : (char[2]){*p, 0}, f);
}

void td_config_print_markdown(const struct td_config *cfg, FILE *f)
{
    fprintf(f, "| flag | environment | default | what it sets |\n|---|---|---|---|\n");
    EACH_GROUP(cfg, g, block, {
        (void)block;
        for (const struct td_setting *s = g->rows; s->flag; s++) {
            char left[64];
            left_column(s, left, sizeof left);
            fputs("| `", f);
            cell(f, left);
            fprintf(f, "` | `%s` | %s%s%s | ", s->env, s->def ? "`" : "", s->def ? s->def : "",
                    s->def ? "`" : "");
            cell(f, s->help);
            fputs(" |\n", f);
        }
    })
}

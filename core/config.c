#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

enum setting_id {
    S_LISTEN, S_DATABASE_URL, S_DATA_DIR, S_BUS, S_KAFKA_BROKERS, S_JWT_SECRET_FILE,
    S_LOG_LEVEL, S_LOG_FORMAT, S_MIGRATE, S_DB_POOL_SIZE, S_MAX_HEADER_BYTES, S_MAX_HEADERS,
    S_MAX_BODY_BYTES, S_REQUEST_TIMEOUT, S_IDLE_TIMEOUT, S_DRAIN_TIMEOUT, S_MAX_CONNECTIONS,
    S_JWT_ISSUER, S_JWT_AUDIENCE, S_RATE_LIMIT_USER, S_RATE_LIMIT_ADDR,
    S_KAFKA_PARTITIONS, S_KAFKA_REPLICATION, S_CONSUMER_MAX_ATTEMPTS,
    S_COUNT
};

/* Indexed by enum setting_id. */
const struct td_setting td_settings[] = {
    {"listen", "TODOD_LISTEN", "HOST:PORT", "HTTP address (default 127.0.0.1:8080; port 0 picks one)"},
    {"database-url", "TODOD_DATABASE_URL", "URL", "PostgreSQL URL or conninfo (default: a private cluster in the data dir, `all` only)"},
    {"data-dir", "TODOD_DATA_DIR", "DIR", "where the private PostgreSQL cluster lives (default ./.todod)"},
    {"bus", "TODOD_BUS", "local|kafka", "event bus driver (default local)"},
    {"kafka-brokers", "TODOD_KAFKA_BROKERS", "HOST:PORT,...", "Kafka bootstrap servers (bus=kafka)"},
    {"jwt-secret-file", "TODOD_JWT_SECRET_FILE", "FILE", "HS256 secret, read from a file (or TODOD_JWT_SECRET / BETTER_AUTH_SECRET)"},
    {"log-level", "TODOD_LOG_LEVEL", "debug|info|warn|error", "least severe level logged (default info)"},
    {"log-format", "TODOD_LOG_FORMAT", "json|text", "log line format (default json)"},
    {"migrate", "TODOD_MIGRATE", NULL, "apply database migrations at start-up (always on for `all`)"},
    {"db-pool-size", "TODOD_DB_POOL_SIZE", "N", "PostgreSQL connections per process (default 4)"},
    {"max-header-bytes", "TODOD_MAX_HEADER_BYTES", "SIZE", "request line and headers limit, 431 past it (default 16KiB)"},
    {"max-headers", "TODOD_MAX_HEADERS", "N", "header count limit, 431 past it (default 100)"},
    {"max-body-bytes", "TODOD_MAX_BODY_BYTES", "SIZE", "request body limit, 413 past it (default 1MiB)"},
    {"request-timeout", "TODOD_REQUEST_TIMEOUT", "DURATION", "a request must arrive whole within this, else 408 (default 10s)"},
    {"idle-timeout", "TODOD_IDLE_TIMEOUT", "DURATION", "idle keep-alive connections close after this (default 60s)"},
    {"drain-timeout", "TODOD_DRAIN_TIMEOUT", "DURATION", "SIGTERM: time allowed to finish in-flight work (default 10s)"},
    {"max-connections", "TODOD_MAX_CONNECTIONS", "N", "open HTTP connections limit (default 10000)"},
    {"jwt-issuer", "TODOD_JWT_ISSUER", "ISS", "required \"iss\" of tokens, and the one we issue (default: not checked)"},
    {"jwt-audience", "TODOD_JWT_AUDIENCE", "AUD", "required \"aud\" of tokens, and the one we issue (default: not checked)"},
    {"rate-limit-user", "TODOD_RATE_LIMIT_USER", "N", "API requests per second per user, burst 2N; 0 turns it off (default 20)"},
    {"rate-limit-addr", "TODOD_RATE_LIMIT_ADDR", "N", "API requests per second per client address, burst 2N; 0 turns it off (default 100)"},
    {"kafka-partitions", "TODOD_KAFKA_PARTITIONS", "N", "partitions of the topics todod creates when missing (default 6)"},
    {"kafka-replication", "TODOD_KAFKA_REPLICATION", "N", "replication factor of the topics todod creates (default 1)"},
    {"consumer-max-attempts", "TODOD_CONSUMER_MAX_ATTEMPTS", "N", "tries before an event goes to the dead-letter topic (default 5)"},
    {NULL, NULL, NULL, NULL},
};

void td_config_defaults(struct td_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    cfg->bus = TD_BUS_LOCAL;
    cfg->log_level = TD_LOG_INFO;
    cfg->log_format = TD_LOG_JSON;
    cfg->db_pool_size = 4;
    cfg->kafka_partitions = 6;
    cfg->kafka_replication = 1;
    cfg->consumer_max_attempts = 5;
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_headers = 100;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->request_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->drain_timeout_ms = 10000;
    cfg->max_connections = 10000;
    cfg->rate_limit_user = 20;
    cfg->rate_limit_addr = 100;
}

void td_config_free(struct td_config *cfg)
{
    free(cfg->database_url);
    free(cfg->data_dir);
    free(cfg->kafka_brokers);
    free(cfg->jwt_issuer);
    free(cfg->jwt_audience);
    cfg->jwt_issuer = cfg->jwt_audience = NULL;
    if (cfg->jwt_secret) {
        /* Secrets do not outlive their use in freed heap memory. */
        volatile char *p = cfg->jwt_secret;
        while (*p)
            *p++ = 0;
    }
    free(cfg->jwt_secret);
    cfg->database_url = cfg->data_dir = cfg->kafka_brokers = cfg->jwt_secret = NULL;
}

/* "where" names the setting as the user wrote it: --flag or ENV_NAME. */
static int fail(char *err, size_t errlen, const char *where, const char *what, const char *value)
{
    if (value)
        snprintf(err, errlen, "%s: %s, got \"%.200s\"", where, what, value);
    else
        snprintf(err, errlen, "%s: %s", where, what);
    return -EINVAL;
}

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

/* "500ms", "10s", "2m", or bare milliseconds. */
static int parse_duration_ms(const char *s, int *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    double v = strtod(s, &end);
    if (errno)
        return -EINVAL;
    double scale = 1;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else
        return -EINVAL;
    double ms = v * scale;
    if (ms < 1 || ms > 24.0 * 3600 * 1000)
        return -EINVAL;
    *out = (int)ms;
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

static int replace_str(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Secrets come straight from the kernel's CSPRNG. */
static void td_random_secret_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    memset(raw, 0, sizeof raw);
}

static int read_secret_file(const char *path, char **out, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';   /* files written by editors and echo end in a newline */
    int rc = replace_str(out, buf);
    memset(buf, 0, sizeof buf);
    return rc;
}

static int apply(struct td_config *cfg, enum setting_id id, const char *where, const char *v,
                 char *err, size_t errlen)
{
    long n;
    char why[300];
    switch (id) {
    case S_LISTEN:
        return parse_listen(v, cfg) ? fail(err, errlen, where, "expected HOST:PORT", v) : 0;
    case S_DATABASE_URL:
        if (!*v)
            return fail(err, errlen, where, "must not be empty", NULL);
        return replace_str(&cfg->database_url, v);
    case S_DATA_DIR:
        if (!*v)
            return fail(err, errlen, where, "must not be empty", NULL);
        return replace_str(&cfg->data_dir, v);
    case S_BUS:
        if (strcmp(v, "local") == 0)
            cfg->bus = TD_BUS_LOCAL;
        else if (strcmp(v, "kafka") == 0)
            cfg->bus = TD_BUS_KAFKA;
        else
            return fail(err, errlen, where, "expected local or kafka", v);
        return 0;
    case S_KAFKA_BROKERS:
        if (!*v || strchr(v, ' '))
            return fail(err, errlen, where, "expected HOST:PORT[,HOST:PORT...]", v);
        return replace_str(&cfg->kafka_brokers, v);
    case S_JWT_SECRET_FILE:
        if (read_secret_file(v, &cfg->jwt_secret, why, sizeof why))
            return fail(err, errlen, where, why, NULL);
        return 0;
    case S_LOG_LEVEL:
        return td_log_level_parse(v, &cfg->log_level)
                   ? fail(err, errlen, where, "expected debug, info, warn or error", v) : 0;
    case S_LOG_FORMAT:
        return td_log_format_parse(v, &cfg->log_format)
                   ? fail(err, errlen, where, "expected json or text", v) : 0;
    case S_MIGRATE:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
            cfg->migrate = 1;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
            cfg->migrate = 0;
        else
            return fail(err, errlen, where, "expected true or false", v);
        return 0;
    case S_KAFKA_PARTITIONS:
        if (parse_long(v, 1, 10000, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 10000", v);
        cfg->kafka_partitions = (int)n;
        return 0;
    case S_KAFKA_REPLICATION:
        if (parse_long(v, 1, 100, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 100", v);
        cfg->kafka_replication = (int)n;
        return 0;
    case S_CONSUMER_MAX_ATTEMPTS:
        if (parse_long(v, 1, 1000, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 1000", v);
        cfg->consumer_max_attempts = (int)n;
        return 0;
    case S_DB_POOL_SIZE:
        if (parse_long(v, 1, 256, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 256", v);
        cfg->db_pool_size = (int)n;
        return 0;
    case S_MAX_HEADER_BYTES:
        if (parse_size(v, &cfg->max_header_bytes) || cfg->max_header_bytes < 1024)
            return fail(err, errlen, where, "expected a size of at least 1KiB such as 16KiB", v);
        return 0;
    case S_MAX_HEADERS:
        if (parse_long(v, 1, 10000, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 10000", v);
        cfg->max_headers = (int)n;
        return 0;
    case S_MAX_BODY_BYTES:
        return parse_size(v, &cfg->max_body_bytes)
                   ? fail(err, errlen, where, "expected a size such as 1MiB", v) : 0;
    case S_REQUEST_TIMEOUT:
        return parse_duration_ms(v, &cfg->request_timeout_ms)
                   ? fail(err, errlen, where, "expected a duration such as 10s or 500ms", v) : 0;
    case S_IDLE_TIMEOUT:
        return parse_duration_ms(v, &cfg->idle_timeout_ms)
                   ? fail(err, errlen, where, "expected a duration such as 60s", v) : 0;
    case S_DRAIN_TIMEOUT:
        return parse_duration_ms(v, &cfg->drain_timeout_ms)
                   ? fail(err, errlen, where, "expected a duration such as 10s", v) : 0;
    case S_MAX_CONNECTIONS:
        if (parse_long(v, 1, 1000000, &n))
            return fail(err, errlen, where, "expected a whole number from 1 to 1000000", v);
        cfg->max_connections = (int)n;
        return 0;
    case S_JWT_ISSUER:
        if (!*v)
            return fail(err, errlen, where, "must not be empty", NULL);
        return replace_str(&cfg->jwt_issuer, v);
    case S_JWT_AUDIENCE:
        if (!*v)
            return fail(err, errlen, where, "must not be empty", NULL);
        return replace_str(&cfg->jwt_audience, v);
    case S_RATE_LIMIT_USER:
    case S_RATE_LIMIT_ADDR: {
        char *end;
        errno = 0;
        double r = strtod(v, &end);
        if (errno || end == v || *end || r < 0 || r > 1e6)
            return fail(err, errlen, where, "expected requests per second from 0 to 1000000", v);
        *(id == S_RATE_LIMIT_USER ? &cfg->rate_limit_user : &cfg->rate_limit_addr) = r;
        return 0;
    }
    case S_COUNT:
        break;
    }
    return -EINVAL;
}

/* A setting given as a flag ignores its environment variable entirely, so a stale or
 * bad variable cannot stop a command line that overrides it. */
static int flag_given(int argc, char **argv, int id)
{
    size_t n = strlen(td_settings[id].flag);
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, td_settings[id].flag, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

static int load_env(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int id = 0; id < S_COUNT; id++) {
        const char *v = getenv(td_settings[id].env);
        if (v && !flag_given(argc, argv, id)) {
            int rc = apply(cfg, (enum setting_id)id, td_settings[id].env, v, err, errlen);
            if (rc)
                return rc;
        }
    }
    /* The secret itself may come from the environment; a _FILE setting (env or flag) wins
     * because it is what Kubernetes and systemd credentials provide. */
    if (!cfg->jwt_secret) {
        const char *v = getenv("TODOD_JWT_SECRET");
        if (!v)
            v = getenv("BETTER_AUTH_SECRET");
        if (v && replace_str(&cfg->jwt_secret, v))
            return -ENOMEM;
    }
    return 0;
}

static int find_setting(const char *name, size_t len)
{
    for (int id = 0; id < S_COUNT; id++)
        if (strlen(td_settings[id].flag) == len && strncmp(td_settings[id].flag, name, len) == 0)
            return id;
    return -1;
}

static int load_flags(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return fail(err, errlen, a, "unexpected argument (options start with --)", NULL);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int id = find_setting(name, len);
        char where[80];
        snprintf(where, sizeof where, "--%.*s", (int)(len > 60 ? 60 : len), name);
        if (id < 0)
            return fail(err, errlen, where, "unknown option (see --help)", NULL);
        const char *value;
        if (!td_settings[id].arg) {
            value = eq ? eq + 1 : "true";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return fail(err, errlen, where, "needs a value", NULL);
        }
        int rc = apply(cfg, (enum setting_id)id, where, value, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* Where the JWT secret came from, in the order load_env and load_flags apply them. */
static const char *secret_source(int argc, char **argv)
{
    if (flag_given(argc, argv, S_JWT_SECRET_FILE))
        return "--jwt-secret-file";
    if (getenv("TODOD_JWT_SECRET_FILE"))
        return "TODOD_JWT_SECRET_FILE";
    return getenv("TODOD_JWT_SECRET") ? "TODOD_JWT_SECRET" : "BETTER_AUTH_SECRET";
}

int td_config_load(struct td_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = load_env(cfg, argc, argv, err, errlen);
    if (!rc)
        rc = load_flags(cfg, argc, argv, err, errlen);
    if (rc)
        return rc;
    if (cfg->bus == TD_BUS_KAFKA && !cfg->kafka_brokers)
        return fail(err, errlen, "--kafka-brokers", "required when --bus is kafka", NULL);
    if (cfg->jwt_secret && strlen(cfg->jwt_secret) < 32)
        return fail(err, errlen, secret_source(argc, argv),
                    "must be at least 32 bytes (HS256 keys shorter than the hash are weak)", NULL);
    if (!cfg->data_dir && replace_str(&cfg->data_dir, ".todod"))
        return -ENOMEM;
    return 0;
}

int td_config_secret_from_data_dir(struct td_config *cfg, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt-secret", cfg->data_dir);
    if (mkdir(cfg->data_dir, 0755) != 0 && errno != EEXIST)
        return fail(err, errlen, "--data-dir", strerror(errno), cfg->data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        char secret[65];
        td_random_secret_hex(secret, 32);
        ssize_t n = write(fd, secret, 64);
        close(fd);
        memset(secret, 0, sizeof secret);
        if (n != 64)
            return fail(err, errlen, path, "cannot write the generated JWT secret", NULL);
    } else if (errno != EEXIST) {
        return fail(err, errlen, path, strerror(errno), NULL);
    }
    char why[300];
    if (read_secret_file(path, &cfg->jwt_secret, why, sizeof why))
        return fail(err, errlen, path, why, NULL);
    if (strlen(cfg->jwt_secret) < 32)
        return fail(err, errlen, path, "holds a secret shorter than 32 bytes", NULL);
    return 0;
}

void td_config_print_help(void *file)
{
    FILE *f = file;
    fprintf(f, "Options (flags win over environment variables):\n");
    for (const struct td_setting *s = td_settings; s->flag; s++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s->flag, s->arg ? " " : "", s->arg ? s->arg : "");
        fprintf(f, "  %-36s %s\n  %-36s [%s]\n", left, s->help, "", s->env);
    }
}

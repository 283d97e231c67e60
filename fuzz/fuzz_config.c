/* td_config_load on an argv split from the input. Pieces are separated by NUL or newline
 * (at most 16). A piece of the form TODOD_*=... or BETTER_AUTH_SECRET=... is set in the
 * environment instead (the environment is cleared before and after each input), so the
 * env/flag precedence rules are fuzzed too. Inputs that would make the secret-file
 * setting open a path with a '/' are skipped: /dev/stdin or a FIFO would block. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/door.h"

#define MAX_ARGS 16

static int is_env(const char *s)
{
    return (strncmp(s, "TODOD_", 6) == 0 || strncmp(s, "BETTER_AUTH_SECRET=", 19) == 0) &&
           strchr(s, '=') != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int cleared;
    if (!cleared) {
        clearenv();
        cleared = 1;
    }
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if ((memmem(buf, size, "secret-file", 11) || memmem(buf, size, "SECRET_FILE", 11)) &&
        memchr(buf, '/', size)) {
        free(buf);
        return 0;
    }
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char *p = buf, *end = buf + size;
    while (p <= end && argc < MAX_ARGS) {
        char *q = p;
        while (q < end && *q != '\0' && *q != '\n')
            q++;
        *q = '\0';
        if (is_env(p)) {
            char *eq = strchr(p, '=');
            *eq = '\0';
            setenv(p, eq + 1, 1);
            *eq = '=';
        } else {
            argv[argc++] = p;
        }
        p = q + 1;
    }
    argv[argc] = NULL;

    struct td_config cfg;
    char err[256];
    err[0] = '\0';
    td_config_defaults(&cfg);
    td_config_add_group(&cfg, &td_door_settings);
    const struct td_door_conf *door = td_config_group(&cfg, &td_door_settings);
    int rc = td_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc != 0 && (!err[0] || strlen(err) >= sizeof err || strchr(err, '\n'))) {
        fprintf(stderr, "error %d with a bad message \"%s\"\n", rc, err);
        abort();
    }
    if (rc == 0 && (cfg.listen_port < 0 || cfg.listen_port > 65535 || !cfg.data_dir ||
                    (door->jwt_secret && strlen(door->jwt_secret) < 32) ||
                    (cfg.bus == TD_BUS_KAFKA && !cfg.kafka_brokers) ||
                    cfg.max_header_bytes < 1024 || cfg.max_headers < 1 || cfg.db_pool_size < 1 ||
                    cfg.request_timeout_ms < 1 || cfg.idle_timeout_ms < 1)) {
        fprintf(stderr, "accepted an out-of-range configuration\n");
        abort();
    }
    td_config_free(&cfg);
    clearenv();
    free(buf);
    return 0;
}

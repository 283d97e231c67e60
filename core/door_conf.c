/* The /api door's settings: JWT secret, issuer, audience and rate limits (door.h). Apart
 * from the door itself so that reading settings needs no database or server code. */
#include "core/door.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOOR(field) offsetof(struct td_door_conf, field)

static const struct td_setting door_rows[] = {
    {"jwt-secret-file", "TODOD_JWT_SECRET_FILE", "FILE", TD_SET_SECRET_FILE, DOOR(jwt_secret),
     0, 0, NULL, NULL, "HS256 secret, read from a file (or TODOD_JWT_SECRET / BETTER_AUTH_SECRET)",
     NULL, NULL},
    {"jwt-issuer", "TODOD_JWT_ISSUER", "ISS", TD_SET_STRING, DOOR(jwt_issuer), 0, 0, NULL, NULL,
     "required \"iss\" of tokens, and the one we issue (default: not checked)", NULL, NULL},
    {"jwt-audience", "TODOD_JWT_AUDIENCE", "AUD", TD_SET_STRING, DOOR(jwt_audience), 0, 0, NULL,
     NULL, "required \"aud\" of tokens, and the one we issue (default: not checked)", NULL, NULL},
    {"rate-limit-user", "TODOD_RATE_LIMIT_USER", "N", TD_SET_RATE, DOOR(rate_limit_user), 0, 1e6,
     "20", NULL, "API requests per second per user, burst 2N; 0 turns it off",
     "expected requests per second from 0 to 1000000", NULL},
    {"rate-limit-addr", "TODOD_RATE_LIMIT_ADDR", "N", TD_SET_RATE, DOOR(rate_limit_addr), 0, 1e6,
     "100", NULL, "API requests per second per client address, burst 2N; 0 turns it off",
     "expected requests per second from 0 to 1000000", NULL},
    {0},
};

/* Where the secret came from, in the order it is read. */
static const char *secret_source(int argc, char **argv)
{
    if (td_config_flag_given(argc, argv, "jwt-secret-file"))
        return "--jwt-secret-file";
    if (getenv("TODOD_JWT_SECRET_FILE"))
        return "TODOD_JWT_SECRET_FILE";
    return getenv("TODOD_JWT_SECRET") ? "TODOD_JWT_SECRET" : "BETTER_AUTH_SECRET";
}

/* The secret itself may come from the environment; a _FILE setting (env or flag) wins
 * because it is what Kubernetes and systemd credentials provide. */
static int door_check(void *block, int argc, char **argv, char *err, size_t errlen)
{
    struct td_door_conf *c = block;
    if (!c->jwt_secret) {
        const char *v = getenv("TODOD_JWT_SECRET");
        if (!v)
            v = getenv("BETTER_AUTH_SECRET");
        if (v && !(c->jwt_secret = strdup(v)))
            return -ENOMEM;
    }
    if (c->jwt_secret && strlen(c->jwt_secret) < 32)
        return td_config_fail(err, errlen, secret_source(argc, argv),
                              "must be at least 32 bytes (HS256 keys shorter than the hash are weak)",
                              NULL);
    return 0;
}

const struct td_settings_group td_door_settings = {
    .name = "door", .rows = door_rows, .block_size = sizeof(struct td_door_conf),
    .check = door_check,
};

/* Secrets come straight from the kernel's CSPRNG. */
static void random_hex(char *out, size_t nbytes)
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

int td_door_secret_from_data_dir(struct td_door_conf *conf, const char *data_dir, char *err,
                                 size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt-secret", data_dir);
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST)
        return td_config_fail(err, errlen, "--data-dir", strerror(errno), data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        char secret[65];
        random_hex(secret, 32);
        ssize_t n = write(fd, secret, 64);
        close(fd);
        memset(secret, 0, sizeof secret);
        if (n != 64)
            return td_config_fail(err, errlen, path, "cannot write the generated JWT secret", NULL);
    } else if (errno != EEXIST) {
        return td_config_fail(err, errlen, path, strerror(errno), NULL);
    }
    char why[300];
    if (td_config_read_secret(path, &conf->jwt_secret, why, sizeof why))
        return td_config_fail(err, errlen, path, why, NULL);
    if (strlen(conf->jwt_secret) < 32)
        return td_config_fail(err, errlen, path, "holds a secret shorter than 32 bytes", NULL);
    return 0;
}


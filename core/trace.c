#include "core/trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <pthread.h>
#include <stdint.h>

/* Ids (request, trace, span, task) need to be unique, not secret: xoshiro256** seeded
 * from the kernel costs nanoseconds where a system call or OpenSSL's DRBG cost a
 * microsecond per id. A child after fork() reseeds so it never repeats its parent. */
static _Thread_local uint64_t rng[4];
static _Thread_local int rng_seeded;
static int atfork_registered;

static void rng_forget(void)
{
    rng_seeded = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        size_t got = 0;
        while (got < sizeof rng) {
            ssize_t n = getrandom((char *)rng + got, sizeof rng - got, 0);
            if (n > 0)
                got += (size_t)n;
        }
        rng_seeded = 1;
        if (!atfork_registered) {
            atfork_registered = 1;
            pthread_atfork(NULL, NULL, rng_forget);
        }
    }
    uint64_t result = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return result;
}

void td_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i += 8) {
        uint64_t r = rng_next();
        for (size_t j = i; j < nbytes && j < i + 8; j++, r >>= 8) {
            out[2 * j] = hex[(r >> 4) & 15];
            out[2 * j + 1] = hex[r & 15];
        }
    }
    out[2 * nbytes] = '\0';
}

static int all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static void new_span(char span[17])
{
    do
        td_random_hex(span, 8);
    while (all_zero(span, 16));
}

int td_trace_from_header(const char *v, size_t len, struct td_trace *out)
{
    /* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 */
    if (len < 55 || !lower_hex(v, 2) || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -EINVAL;
    if (memcmp(v, "ff", 2) == 0)
        return -EINVAL;                          /* ff is forbidden */
    if (memcmp(v, "00", 2) == 0 && len != 55)
        return -EINVAL;                          /* version 00 has nothing after flags */
    if (len > 55 && v[55] != '-')
        return -EINVAL;                          /* future versions may append "-..." */
    if (!lower_hex(v + 3, 32) || all_zero(v + 3, 32) || !lower_hex(v + 36, 16) ||
        all_zero(v + 36, 16) || !lower_hex(v + 53, 2))
        return -EINVAL;
    memcpy(out->trace_id, v + 3, 32);
    out->trace_id[32] = '\0';
    memcpy(out->parent_id, v + 36, 16);
    out->parent_id[16] = '\0';
    /* v is not NUL-terminated (only len bytes are ours): no sscanf, which runs strlen.
     * Only the sampled bit of the last hex digit is kept. */
    char last = v[54];
    unsigned low = (unsigned)(last <= '9' ? last - '0' : last - 'a' + 10);
    out->flags = (unsigned char)(low & 0x01);
    new_span(out->span_id);
    return 0;
}

void td_trace_new(struct td_trace *out)
{
    do
        td_random_hex(out->trace_id, 16);
    while (all_zero(out->trace_id, 32));
    new_span(out->span_id);
    out->parent_id[0] = '\0';
    out->flags = 0x01;
}

void td_trace_format(const struct td_trace *t, char out[56])
{
    snprintf(out, 56, "00-%s-%s-%02x", t->trace_id, t->span_id, t->flags);
}

void td_uuid_v4(char out[37])
{
    char hex[33];
    td_random_hex(hex, 16);
    hex[12] = '4';                                   /* version 4 */
    hex[16] = "89ab"[(hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10) & 3];  /* variant */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

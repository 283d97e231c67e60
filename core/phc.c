/* core/phc.c: argon2id PHC strings. Base64 here is the standard alphabet without
 * padding (not auth's base64url), and a decoded field must have had exactly one
 * spelling: no leading zeros in numbers, zero unused bits in base64, as in libargon2. */
#include "core/phc.h"
#include "core/base64.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static char *b64_put(char *o, const uint8_t *in, size_t n)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *o++ = b64_alphabet[(acc >> bits) & 63];
        }
    }
    if (bits)
        *o++ = b64_alphabet[(acc << (6 - bits)) & 63];
    return o;
}

int td_phc_encode(const struct td_phc *p, char *out, size_t cap)
{
    if (!p || !out || !p->saltlen || !p->hashlen || p->saltlen > TD_PHC_FIELD_MAX ||
        p->hashlen > TD_PHC_FIELD_MAX)
        return -EINVAL;
    int n = snprintf(out, cap, "$argon2id$v=%u$m=%u,t=%u,p=%u$", (unsigned)p->version,
                     (unsigned)p->m_cost, (unsigned)p->t_cost, (unsigned)p->lanes);
    if (n < 0 || (size_t)n + b64_len(p->saltlen) + 1 + b64_len(p->hashlen) + 1 > cap)
        return -ENOSPC;
    char *o = b64_put(out + n, p->salt, p->saltlen);
    *o++ = '$';
    o = b64_put(o, p->hash, p->hashlen);
    *o = '\0';
    return 0;
}

/* A decimal that fits 32 bits, spelled without leading zeros. */
static const char *get_u32(const char *s, uint32_t *v)
{
    const char *start = s;
    uint64_t acc = 0;
    while (*s >= '0' && *s <= '9') {
        acc = acc * 10 + (uint64_t)(*s++ - '0');
        if (acc > UINT32_MAX)
            return NULL;
    }
    if (s == start || (*start == '0' && s != start + 1))
        return NULL;
    *v = (uint32_t)acc;
    return s;
}

static const char *expect(const char *s, const char *lit)
{
    size_t n = strlen(lit);
    return s && strncmp(s, lit, n) == 0 ? s + n : NULL;
}

/* Base64 up to the first character outside the alphabet. */
static const char *get_b64(const char *s, uint8_t *out, size_t *len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    int v;
    for (; (v = td_base64_value((unsigned char)*s, 0)) >= 0; s++) {
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == TD_PHC_FIELD_MAX)
                return NULL;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* 6 bits left: a length of 1 mod 4, which no byte string has. */
    if (bits > 4 || (acc & ((1u << bits) - 1)))
        return NULL;
    *len = n;
    return s;
}

int td_phc_decode(const char *s, struct td_phc *p)
{
    if (!s || !p)
        return -EINVAL;
    memset(p, 0, sizeof *p);
    s = expect(s, "$argon2id");
    if (!s)
        return -EINVAL;
    p->version = 0x10; /* argon2 1.0 strings had no version field */
    if (expect(s, "$v=") && !(s = get_u32(s + 3, &p->version)))
        return -EINVAL;
    if (!(s = expect(s, "$m=")) || !(s = get_u32(s, &p->m_cost)) ||
        !(s = expect(s, ",t=")) || !(s = get_u32(s, &p->t_cost)) ||
        !(s = expect(s, ",p=")) || !(s = get_u32(s, &p->lanes)) ||
        !(s = expect(s, "$")) || !(s = get_b64(s, p->salt, &p->saltlen)) ||
        !(s = expect(s, "$")) || !(s = get_b64(s, p->hash, &p->hashlen)) || *s)
        return -EINVAL;
    return 0;
}

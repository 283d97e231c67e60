#include "core/trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void td_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            break;  /* cannot happen on Linux ≥ 3.17 after boot; ids stay unique enough */
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
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
    unsigned flags = 0;
    sscanf(v + 53, "%2x", &flags);
    out->flags = (unsigned char)(flags & 0x01);
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

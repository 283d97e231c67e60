/* Base64: the value of one character, shared by the JWT reader (base64url, RFC 4648 5)
 * and the PHC strings of password hashes (the standard alphabet, RFC 4648 4). */
#ifndef TD_BASE64_H
#define TD_BASE64_H
#include <stddef.h>

/* 0..63, or -1 when c is not in the alphabet (url: '-' and '_' instead of '+' and '/'). */
static inline int td_base64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    return c == (url ? '_' : '/') ? 63 : -1;
}

/* Encodes n bytes into out (room for 4 * ((n + 2) / 3) + 1 bytes), with '=' padding in
 * the standard alphabet and none in the url one; returns the length written. */
static inline size_t td_base64_encode(const unsigned char *in, size_t n, char *out, int url)
{
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = abc[(v >> 6) & 63];
        else if (!url)
            out[o++] = '=';
        if (i + 2 < n)
            out[o++] = abc[v & 63];
        else if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

#endif

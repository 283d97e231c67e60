#include "core/jsonw.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (2..4), or 0: overlong forms, surrogates,
 * code points past U+10FFFF and truncated sequences are not well-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    unsigned char lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        k = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (k > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

int td_jsonw_str(struct td_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len == (size_t)-1)
        len = strlen(s);
    /* Worst case every byte becomes \u00XX: reserve once, write without checks. */
    int rc = td_buf_reserve(b, len * 6 + 2);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':  *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            } else if (c >= 0x80) {
                /* JSON text is UTF-8: a byte that does not start a well-formed sequence
                 * (a client's raw path, say) becomes U+FFFD, not invalid output. */
                size_t k = utf8_seq((const unsigned char *)s + i, len - i);
                if (k) {
                    memcpy(o, s + i, k);
                    o += k;
                    i += k - 1;
                } else {
                    memcpy(o, "\\ufffd", 6);
                    o += 6;
                }
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int td_jsonw_key(struct td_buf *b, const char *key)
{
    int rc = td_jsonw_str(b, key, (size_t)-1);
    return rc ? rc : td_buf_append(b, ":", 1);
}

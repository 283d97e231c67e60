/* core/utf8.c: strict UTF-8 decoding, white space, and code-point lengths. */
#include "core/utf8.h"

#include <errno.h>
#include <string.h>

int td_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!s || !cp || len == 0)
        return -EINVAL;
    unsigned char c = s[0];
    int n;
    uint32_t min, v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    /* 0xC0, 0xC1 and 0xF5.. can only start overlong or out-of-range sequences. */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, min = 0x80, v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, min = 0x10000, v = c & 0x07;
    } else {
        return -EILSEQ;
    }
    if ((size_t)n > len)
        return -EILSEQ;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -EILSEQ;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -EILSEQ;
    *cp = v;
    return n;
}

int td_utf8_is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int td_utf8_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

int td_utf8_scan(const char *s, size_t len, int trim, struct td_utf8_span *out)
{
    if ((!s && len) || !out)
        return -EINVAL;
    /* Code points: in total, before the span, and up to the span's end. */
    size_t chars = 0, lead = 0, upto = 0;
    /* Tab, newline and friends are both white space and controls: one after the last
     * kept character only counts once a later character pulls it into the span. */
    int started = 0, control_pending = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = td_utf8_decode(s + i, len - i, &cp);
        if (k < 0 || cp == 0)
            return -EILSEQ;
        chars++;
        if (!trim || !td_utf8_is_space(cp)) {
            if (!started)
                started = 1, out->start = i, lead = chars - 1;
            out->end = i + (size_t)k;
            upto = chars;
            out->has_control |= control_pending | td_utf8_is_control(cp);
            control_pending = 0;
        } else if (started) {
            control_pending |= td_utf8_is_control(cp);
        }
        i += (size_t)k;
    }
    out->chars = started ? upto - lead : 0;
    return 0;
}

int td_utf8_copy(char *dst, size_t n, const char *src)
{
    if (!dst || n == 0 || !src)
        return -EINVAL;
    size_t len = strlen(src), i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        int k = td_utf8_decode(src + i, len - i, &cp);
        size_t w = k > 0 ? (size_t)k : 1;
        if (o + w >= n)
            break;
        if (k > 0)
            memcpy(dst + o, src + i, w);
        else
            dst[o] = '?'; /* the invalid byte is replaced, not copied */
        o += w;
        i += w;
    }
    dst[o] = '\0';
    return i < len ? -E2BIG : 0;
}

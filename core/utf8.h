/* UTF-8 text as PostgreSQL stores it: strict decoding (no overlong forms, surrogates or
 * code points above U+10FFFF), no NUL, lengths counted in code points (what char_length
 * counts), and trimming by the Unicode White_Space property. */
#ifndef TD_UTF8_H
#define TD_UTF8_H
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s (len bytes available, len > 0) into *cp. Returns its length
 * in bytes (1 to 4), or -EILSEQ for an invalid, truncated, overlong or surrogate
 * sequence. */
int td_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* 1 when cp has the Unicode White_Space property (U+3000 and NBSP included), else 0. */
int td_utf8_is_space(uint32_t cp);

/* 1 for the C0 and C1 control characters and DEL, else 0. */
int td_utf8_is_control(uint32_t cp);

/* The part of a text kept after an optional trim. */
struct td_utf8_span {
    size_t start, end;   /* byte offsets: [start, end) */
    size_t chars;        /* code points in [start, end) */
    int    has_control;  /* a control character lies in [start, end) */
};

/* Checks s (len bytes) and measures it. With trim, leading and trailing white space is
 * left out of the span; an all-space text gives an empty span (chars 0). Returns 0, or
 * -EILSEQ for invalid UTF-8 or a NUL (PostgreSQL text cannot hold one), or -EINVAL. */
int td_utf8_scan(const char *s, size_t len, int trim, struct td_utf8_span *out);

/* Copies the NUL-terminated src into dst (n bytes, NUL included) without ever cutting a
 * character in two; each invalid byte becomes '?'. Returns 0, or -E2BIG when src did not
 * fit (dst then holds the whole characters that did), or -EINVAL. */
int td_utf8_copy(char *dst, size_t n, const char *src);

#endif

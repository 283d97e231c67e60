#include "core/jsonw.h"

#include <string.h>

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

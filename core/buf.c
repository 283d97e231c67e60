#include "core/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int td_buf_reserve(struct td_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data)
        return -ENOMEM;
    b->data = data;
    b->cap = cap;
    return 0;
}

int td_buf_append(struct td_buf *b, const void *data, size_t len)
{
    int rc = td_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int td_buf_puts(struct td_buf *b, const char *s)
{
    return td_buf_append(b, s, strlen(s));
}

int td_buf_vprintf(struct td_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, copy);
    va_end(copy);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= room) {
        int rc = td_buf_reserve(b, (size_t)n);
        if (rc)
            return rc;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

int td_buf_printf(struct td_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = td_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void td_buf_reset(struct td_buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
}

void td_buf_free(struct td_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *td_buf_steal(struct td_buf *b, size_t *len)
{
    char *data = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

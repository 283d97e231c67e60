/* Growable byte buffer. The buffer owns data; td_buf_free releases it. */
#ifndef TD_BUF_H
#define TD_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct td_buf {
    char  *data;   /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
};

int  td_buf_reserve(struct td_buf *b, size_t extra);
int  td_buf_append(struct td_buf *b, const void *data, size_t len);
int  td_buf_puts(struct td_buf *b, const char *s);
int  td_buf_printf(struct td_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  td_buf_vprintf(struct td_buf *b, const char *fmt, va_list ap);
void td_buf_reset(struct td_buf *b);   /* len = 0, keeps memory */
void td_buf_free(struct td_buf *b);
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *td_buf_steal(struct td_buf *b, size_t *len);

#endif

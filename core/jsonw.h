/* Writing JSON straight into a td_buf (no intermediate tree on hot paths). */
#ifndef TD_JSONW_H
#define TD_JSONW_H
#include "core/buf.h"

/* Appends s (len bytes, or strlen when len is (size_t)-1) as a quoted JSON string. Bytes
 * that are not well-formed UTF-8 are written as U+FFFD, so the output is always valid JSON. */
int td_jsonw_str(struct td_buf *b, const char *s, size_t len);
/* Appends "key": with the key quoted; the caller writes the value next. */
int td_jsonw_key(struct td_buf *b, const char *key);

#endif

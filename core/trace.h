/* W3C Trace Context (traceparent) and request ids. */
#ifndef TD_TRACE_H
#define TD_TRACE_H
#include <stddef.h>

struct td_trace {
    char trace_id[33];   /* 32 lower-case hex + NUL */
    char span_id[17];    /* 16 lower-case hex + NUL: this hop's span */
    char parent_id[17];  /* the caller's span, "" when we started the trace */
    unsigned char flags; /* 0x01 = sampled */
};

/* Parses a traceparent header value (version 00 rules; future versions read leniently
 * as the spec asks). Returns 0 or -EINVAL. On success out->span_id is a NEW span whose
 * parent is the header's span. */
int  td_trace_from_header(const char *value, size_t len, struct td_trace *out);
/* Starts a new trace with random ids (sampled). */
void td_trace_new(struct td_trace *out);
/* Writes "00-<trace>-<span>-<flags>" (55 chars + NUL) into out[56]. */
void td_trace_format(const struct td_trace *t, char out[56]);
/* Random lower-case hex of n bytes into out (2n chars + NUL). */
void td_random_hex(char *out, size_t nbytes);
/* A random RFC 9562 version 4 UUID, 36 chars + NUL. */
void td_uuid_v4(char out[37]);

#endif

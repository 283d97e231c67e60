/* td_trace_from_header on arbitrary bytes. The input is copied into a buffer of exactly
 * its length (no NUL after it), so any read past len is an ASan report. An accepted
 * header must give back its trace id, its span as the parent and a fresh span, and the
 * formatted result must parse again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);
    if (!v)
        return 0;
    if (size)
        memcpy(v, data, size);
    struct td_trace t;
    memset(&t, 0xAA, sizeof t);
    if (td_trace_from_header(v, size, &t) == 0) {
        if (size < 55 || strlen(t.trace_id) != 32 || !lower_hex(t.trace_id, 32) ||
            memcmp(t.trace_id, v + 3, 32) != 0 || strlen(t.parent_id) != 16 ||
            memcmp(t.parent_id, v + 36, 16) != 0 || strlen(t.span_id) != 16 ||
            !lower_hex(t.span_id, 16) || t.flags > 1) {
            fprintf(stderr, "accepted header gave a bad trace\n");
            abort();
        }
        char out[56];
        td_trace_format(&t, out);
        struct td_trace again;
        if (strlen(out) != 55 || td_trace_from_header(out, 55, &again) != 0 ||
            strcmp(again.trace_id, t.trace_id) != 0 || strcmp(again.parent_id, t.span_id) != 0 ||
            again.flags != t.flags) {
            fprintf(stderr, "formatted trace \"%s\" does not parse back\n", out);
            abort();
        }
    }
    free(v);
    return 0;
}

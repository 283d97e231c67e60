/* Files compiled into the binary by tools/embed.c (SQL migrations, web assets). */
#ifndef TD_EMBED_H
#define TD_EMBED_H
#include <stddef.h>

struct td_embedded_file {
    const char *name;   /* base name, e.g. "0001_outbox_inbox.sql" */
    const char *data;   /* NUL-terminated for convenience; len excludes the NUL */
    size_t      len;
};

extern const struct td_embedded_file td_migrations[];
extern const size_t td_migrations_count;

#endif

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
/* The web app (web/), served at / by the api role. Names are base names: web/ is flat.
 * SYMBOL_hashes[i] is the FNV-1a 64 of file i's bytes (the assets' ETag). */
extern const struct td_embedded_file td_web_files[];
extern const size_t td_web_files_count;
extern const unsigned long long td_web_files_hashes[];

#endif

/* Schema migrations: the SQL files in proto/sql, compiled into the binary (core/embed.h),
 * applied in name order, each inside its own transaction together with its row in
 * schema_migrations. A session-level advisory lock serialises concurrent starters.
 * Runs synchronously: it is called before the loop starts, or by `todod migrate`. */
#ifndef TD_MIGRATE_H
#define TD_MIGRATE_H
#include <stddef.h>
#include "core/embed.h"
#include "core/log.h"

/* Applies every migration in files[0..count) not yet recorded. A recorded migration
 * whose checksum differs from the embedded file is an error (shipped files never
 * change). *applied gets how many were applied now. err gets one human line. */
int td_migrate_apply(const char *conninfo, const struct td_embedded_file *files, size_t count,
                     const struct td_log *log, int *applied, char *err, size_t errlen);

#endif

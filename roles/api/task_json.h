/* Tasks written as JSON straight from result columns (PostgreSQL only returns values:
 * building JSON there cost ~40 us a row). */
#ifndef TD_ROLE_API_TASK_JSON_H
#define TD_ROLE_API_TASK_JSON_H
#include "core/buf.h"
#include "core/db.h"

/* The select list every task query uses, over alias t; TASK_NCOLS columns. */
#define TASK_COLS(t) \
    t ".id, " t ".user_id, " t ".title, " t ".description, " t ".status, " t ".priority, " \
    "to_json(" t ".tags)::text, " t ".due_at AT TIME ZONE 'UTC', " t ".all_day, " \
    t ".time_zone, " t ".recurrence, " t ".reminders::text, " \
    t ".created_at AT TIME ZONE 'UTC', " t ".updated_at AT TIME ZONE 'UTC', " \
    t ".completed_at AT TIME ZONE 'UTC', " t ".version, " t ".recurrence_anchor, " \
    "to_json(" t ".recurrence_exdates)::text"
#define TASK_NCOLS 18
#define TASK_COL_VERSION 15

/* Appends the task in columns [col, col + TASK_NCOLS) of row as a JSON object. */
int api_task_json(struct td_buf *out, const struct td_db_res *res, int row, int col);

#endif

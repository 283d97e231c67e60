#define _GNU_SOURCE   /* memmem */
/* Which zone a date-only or local due date belongs to, looked up only when a body needs
 * it. */
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/task.h"
#include "roles/api/api.h"

/* 1 when the body sets due_at/due_date to a bare date or to a local date-time without
 * offset (an HTML datetime-local value) and sets no time_zone. */
static int needs_zone(struct api_call *call)
{
    json_t *j = call->body;
    if (call->req) {
        size_t len;
        const char *raw = td_http_body(call->req, &len);
        /* Most bodies have no such due: settle it without looking further. */
        if (!memmem(raw, len, "\"due_", 5))
            return 0;
    }
    if (!json_is_object(j) || json_object_get(j, "time_zone"))
        return 0;
    const char *names[] = {"due_at", "due_date"};
    int local = 0;
    for (int i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(j, names[i]));
        long long t;
        enum td_datetime_form form;
        local |= v && td_datetime_parse_input(v, &t, &form) == 0 && form != TD_DATETIME_INSTANT;
    }
    return local;
}

static void on_zone(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status) {
        api_db_error(call, status, res);
        api_end(call);
        return;
    }
    call->with_zone(call, td_db_res_rows(res) ? td_db_res_value(res, 0, 0) : "UTC");
}

void api_resolve_zone(struct api_call *call, int mode,
                      void (*cont)(struct api_call *call, const char *zone))
{
    call->mode = mode;
    call->with_zone = cont;
    if (!needs_zone(call)) {
        cont(call, NULL);
        return;
    }
    if (mode == TD_TASK_PATCH) {
        const char *params[] = {call->task_id, call->user_id};
        api_exec(call, "task_zone", 2, params, on_zone);
    } else if (td_task_is_uuid(call->user_id)) {
        const char *params[] = {call->user_id};
        api_exec(call, "user_zone", 1, params, on_zone);
    } else {
        cont(call, "UTC");   /* an external IdP's user: we keep no zone for them */
    }
}

const struct td_stmt_def api_zone_stmts[] = {
    {"task_zone", "SELECT time_zone FROM tasks WHERE id = $1::uuid AND user_id = $2", 2},
    {"user_zone", "SELECT time_zone FROM users WHERE id = $1::uuid", 1},
    {0},
};

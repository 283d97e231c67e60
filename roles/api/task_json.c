#include "roles/api/task_json.h"

#include <string.h>

#include "core/jsonw.h"
#include "core/task.h"

static const char *const priorities[] = {"none", "low", "medium", "high", "urgent"};

/* "2026-11-23 12:40:52.123456" (a UTC timestamp) → "2026-11-23T12:40:52Z". */
static void put_time(struct td_buf *b, const char *v)
{
    if (!v) {
        td_buf_puts(b, "null");
        return;
    }
    if (strlen(v) >= 19 && v[10] == ' ') {
        char s[23];
        memcpy(s + 1, v, 19);
        s[0] = '"';
        s[11] = 'T';
        s[20] = 'Z';
        s[21] = '"';
        td_buf_append(b, s, 22);
        return;
    }
    td_jsonw_str(b, v, (size_t)-1);   /* infinity and other oddities pass as text */
}

static void put_str_or_null(struct td_buf *b, const char *v)
{
    if (v)
        td_jsonw_str(b, v, (size_t)-1);
    else
        td_buf_puts(b, "null");
}

int api_task_json(struct td_buf *b, const struct td_db_res *res, int row, int c)
{
#define V(i) td_db_res_value(res, row, c + (i))
    const char *status = V(4);
    int prio = V(5) ? V(5)[0] - '0' : 0;
    td_buf_puts(b, "{\"id\":\"");
    td_buf_puts(b, V(0));
    td_buf_puts(b, "\",\"user_id\":");
    td_jsonw_str(b, V(1), (size_t)-1);
    td_buf_puts(b, ",\"title\":");
    td_jsonw_str(b, V(2), (size_t)-1);
    td_buf_puts(b, ",\"description\":");
    td_jsonw_str(b, V(3), (size_t)-1);
    /* Plain appends: printf's formatting was a tenth of a list request's CPU. */
    td_buf_puts(b, ",\"status\":\"");
    td_buf_puts(b, status);
    td_buf_puts(b, strcmp(status, "completed") == 0 ? "\",\"completed\":true" : "\",\"completed\":false");
    td_buf_puts(b, ",\"priority\":\"");
    td_buf_puts(b, priorities[prio >= 0 && prio <= 4 ? prio : 0]);
    td_buf_puts(b, "\",\"tags\":");
    td_buf_puts(b, V(6));
    /* due_date and recurrence_pattern: the seeds' names, beside todod's own. */
    td_buf_puts(b, ",\"due_at\":");
    put_time(b, V(7));
    td_buf_puts(b, ",\"due_date\":");
    put_time(b, V(7));
    td_buf_puts(b, V(8)[0] == 't' ? ",\"all_day\":true,\"time_zone\":" : ",\"all_day\":false,\"time_zone\":");
    td_jsonw_str(b, V(9), (size_t)-1);
    td_buf_puts(b, ",\"recurrence\":");
    put_str_or_null(b, V(10));
    /* The word when the rule is a plain daily/weekly/monthly/yearly one, else the rule. */
    const char *word = td_task_recurrence_word(V(10));
    td_buf_puts(b, ",\"recurrence_pattern\":");
    if (word) {
        td_buf_puts(b, "\"");
        td_buf_puts(b, word);
        td_buf_puts(b, "\"");
    } else {
        put_str_or_null(b, V(10));
    }
    td_buf_puts(b, ",\"recurrence_anchor\":");
    td_jsonw_str(b, V(16), (size_t)-1);
    td_buf_puts(b, ",\"recurrence_exdates\":");
    td_buf_puts(b, V(17) ? V(17) : "[]");
    td_buf_puts(b, ",\"reminders\":");
    td_buf_puts(b, V(11));
    td_buf_puts(b, ",\"created_at\":");
    put_time(b, V(12));
    td_buf_puts(b, ",\"updated_at\":");
    put_time(b, V(13));
    td_buf_puts(b, ",\"completed_at\":");
    put_time(b, V(14));
    td_buf_puts(b, ",\"version\":");
    td_buf_puts(b, V(15));
    return td_buf_puts(b, "}");
#undef V
}

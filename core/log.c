#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/jsonw.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int td_log_level_parse(const char *s, enum td_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum td_log_level)i;
            return 0;
        }
    if (strcmp(s, "warning") == 0) {
        *out = TD_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

int td_log_format_parse(const char *s, enum td_log_format *out)
{
    if (strcmp(s, "json") == 0)
        *out = TD_LOG_JSON;
    else if (strcmp(s, "text") == 0)
        *out = TD_LOG_TEXT;
    else
        return -EINVAL;
    return 0;
}

static void format_time(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void add_json_field(struct td_buf *b, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    td_buf_append(b, ",", 1);
    td_jsonw_key(b, key);
    td_jsonw_str(b, value, (size_t)-1);
}

void td_log_vemit(const struct td_log *log, enum td_log_level level, const struct td_log_ctx *ctx,
                  const char *extra_json, const char *fmt, va_list ap)
{
    if (log && level < log->level)
        return;
    char stamp[32];
    format_time(stamp);
    struct td_buf msg = {0};
    td_buf_vprintf(&msg, fmt, ap);

    struct td_buf line = {0};
    const char *role = log && log->role ? log->role : "todod";
    if (!log || log->format == TD_LOG_JSON) {
        td_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\"", stamp, level_names[level]);
        add_json_field(&line, "role", role);
        td_buf_append(&line, ",", 1);
        td_jsonw_key(&line, "msg");
        td_jsonw_str(&line, msg.data ? msg.data : "", msg.len);
        if (ctx) {
            add_json_field(&line, "request_id", ctx->request_id);
            add_json_field(&line, "trace_id", ctx->trace_id);
            add_json_field(&line, "span_id", ctx->span_id);
        }
        if (extra_json && *extra_json)
            td_buf_printf(&line, ",%s", extra_json);
        td_buf_puts(&line, "}\n");
    } else {
        for (size_t i = 0; i < msg.len; i++)   /* one event, one line: CR/LF become spaces */
            if (msg.data[i] == '\n' || msg.data[i] == '\r')
                msg.data[i] = ' ';
        td_buf_printf(&line, "%s %-5s %s: %s", stamp, level_names[level], role,
                      msg.data ? msg.data : "");
        if (ctx && ctx->request_id)
            td_buf_printf(&line, " request_id=%s", ctx->request_id);
        if (ctx && ctx->trace_id)
            td_buf_printf(&line, " trace_id=%s", ctx->trace_id);
        if (extra_json && *extra_json)
            td_buf_printf(&line, " %s", extra_json);
        td_buf_puts(&line, "\n");
    }
    /* One write() per line keeps lines whole when several processes share stderr.
     * stderr is a pipe or terminal read by a collector; a short synchronous write is the
     * accepted trade-off (a log queue would lose the last lines on a crash). */
    if (line.data) {
        ssize_t off = 0;
        while ((size_t)off < line.len) {
            ssize_t n = write(log ? log->fd : 2, line.data + off, line.len - (size_t)off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += n;
        }
    }
    td_buf_free(&line);
    td_buf_free(&msg);
}

void td_log_emit(const struct td_log *log, enum td_log_level level, const struct td_log_ctx *ctx,
                 const char *extra_json, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_log_vemit(log, level, ctx, extra_json, fmt, ap);
    va_end(ap);
}

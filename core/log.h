/* Structured logs: one JSON object (or text line) per event on stderr. */
#ifndef TD_LOG_H
#define TD_LOG_H
#include <stdarg.h>

enum td_log_level { TD_LOG_DEBUG, TD_LOG_INFO, TD_LOG_WARN, TD_LOG_ERROR };
enum td_log_format { TD_LOG_JSON, TD_LOG_TEXT };

struct td_log {
    enum td_log_level  level;
    enum td_log_format format;
    const char        *role;   /* not owned: static string */
    int                fd;     /* 2 unless a test redirects it */
};

/* What ties a line to a request and a trace; any field may be NULL. */
struct td_log_ctx {
    const char *request_id;
    const char *trace_id;
    const char *span_id;
};

int  td_log_level_parse(const char *s, enum td_log_level *out);
int  td_log_format_parse(const char *s, enum td_log_format *out);
/* extra_json: NULL or pre-encoded members without braces, e.g. "\"status\":200". */
void td_log_emit(const struct td_log *log, enum td_log_level level, const struct td_log_ctx *ctx,
                 const char *extra_json, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void td_log_vemit(const struct td_log *log, enum td_log_level level, const struct td_log_ctx *ctx,
                  const char *extra_json, const char *fmt, va_list ap);

#define td_log_debug(log, ...) td_log_emit((log), TD_LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define td_log_info(log, ...)  td_log_emit((log), TD_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define td_log_warn(log, ...)  td_log_emit((log), TD_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define td_log_error(log, ...) td_log_emit((log), TD_LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif

/* core/log.c: one JSON object (or one text line) per event, written with one write(). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* A log whose fd is the write end of a pipe; read_lines drains the read end. */
struct capture {
    struct td_log log;
    int           rfd;
};

static void capture_open(struct capture *c, enum td_log_level level, enum td_log_format fmt)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    c->log = (struct td_log){.level = level, .format = fmt, .role = "tester", .fd = p[1]};
    c->rfd = p[0];
}

/* Everything written so far (malloc'd, NUL-terminated). */
static char *capture_read(struct capture *c)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(c->rfd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static void capture_close(struct capture *c)
{
    close(c->log.fd);
    close(c->rfd);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Parses text as exactly one JSON object terminated by one newline. */
static json_t *parse_one_line(const char *text)
{
    size_t len = strlen(text);
    cr_assert_gt(len, 0, "nothing was logged");
    cr_assert_eq(text[len - 1], '\n', "line does not end in a newline: %s", text);
    cr_assert_eq(count_lines(text), 1, "expected one line, got: %s", text);
    json_error_t e;
    json_t *o = json_loadb(text, len - 1, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, text);
    cr_assert(json_is_object(o));
    return o;
}

static const char *str_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

Test(log, json_line_has_required_fields)
{
    struct capture c;
    capture_open(&c, TD_LOG_DEBUG, TD_LOG_JSON);
    td_log_info(&c.log, "hello %s %d", "world", 42);
    char *out = capture_read(&c);
    json_t *o = parse_one_line(out);
    cr_assert_str_eq(str_field(o, "level"), "info");
    cr_assert_str_eq(str_field(o, "role"), "tester");
    cr_assert_str_eq(str_field(o, "msg"), "hello world 42");
    const char *t = str_field(o, "time");
    cr_assert_not_null(t);
    /* RFC 3339 UTC with milliseconds: 2024-01-02T03:04:05.678Z */
    cr_assert_eq(strlen(t), 24, "time %s", t);
    cr_assert(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
              t[19] == '.' && t[23] == 'Z', "time %s", t);
    cr_assert_null(json_object_get(o, "request_id"), "no ctx: no request_id");
    cr_assert_null(json_object_get(o, "trace_id"));
    json_decref(o);
    free(out);
    capture_close(&c);
}

Test(log, every_level_name)
{
    struct capture c;
    capture_open(&c, TD_LOG_DEBUG, TD_LOG_JSON);
    const char *names[] = {"debug", "info", "warn", "error"};
    for (int lv = TD_LOG_DEBUG; lv <= TD_LOG_ERROR; lv++) {
        td_log_emit(&c.log, (enum td_log_level)lv, NULL, NULL, "m%d", lv);
        char *out = capture_read(&c);
        json_t *o = parse_one_line(out);
        cr_assert_str_eq(str_field(o, "level"), names[lv]);
        json_decref(o);
        free(out);
    }
    capture_close(&c);
}

Test(log, context_fields_when_given)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_JSON);
    struct td_log_ctx ctx = {.request_id = "req-1", .trace_id = "0af7651916cd43dd8448eb211c80319c",
                             .span_id = "b7ad6b7169203331"};
    td_log_emit(&c.log, TD_LOG_WARN, &ctx, NULL, "with ctx");
    char *out = capture_read(&c);
    json_t *o = parse_one_line(out);
    cr_assert_str_eq(str_field(o, "request_id"), "req-1");
    cr_assert_str_eq(str_field(o, "trace_id"), "0af7651916cd43dd8448eb211c80319c");
    cr_assert_str_eq(str_field(o, "span_id"), "b7ad6b7169203331");
    json_decref(o);
    free(out);

    /* Only the fields that are set appear. */
    struct td_log_ctx partial = {.request_id = "only-me"};
    td_log_emit(&c.log, TD_LOG_WARN, &partial, NULL, "partial");
    out = capture_read(&c);
    o = parse_one_line(out);
    cr_assert_str_eq(str_field(o, "request_id"), "only-me");
    cr_assert_null(json_object_get(o, "trace_id"));
    cr_assert_null(json_object_get(o, "span_id"));
    json_decref(o);
    free(out);
    capture_close(&c);
}

Test(log, extra_json_members_are_merged)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_JSON);
    td_log_emit(&c.log, TD_LOG_INFO, NULL, "\"status\":200,\"path\":\"/x\"", "GET /x");
    char *out = capture_read(&c);
    json_t *o = parse_one_line(out);
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
    cr_assert_str_eq(str_field(o, "path"), "/x");
    cr_assert_str_eq(str_field(o, "msg"), "GET /x");
    json_decref(o);
    free(out);
    capture_close(&c);
}

Test(log, quotes_newlines_and_control_chars_stay_on_one_line)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_JSON);
    const char *nasty = "he said \"hi\"\nthen\r\nleft\t\\ \x01 caf\xc3\xa9";
    td_log_info(&c.log, "%s", nasty);
    struct td_log_ctx ctx = {.request_id = "a\"b\nc"};
    td_log_emit(&c.log, TD_LOG_INFO, &ctx, NULL, "x");
    char *out = capture_read(&c);
    cr_assert_eq(count_lines(out), 2, "got: %s", out);
    char *nl = strchr(out, '\n');
    json_error_t e;
    json_t *o = json_loadb(out, (size_t)(nl - out), 0, &e);
    cr_assert_not_null(o, "%s", e.text);
    cr_assert_str_eq(str_field(o, "msg"), nasty);
    json_decref(o);
    o = json_loads(nl + 1, 0, &e);
    cr_assert_not_null(o, "%s", e.text);
    cr_assert_str_eq(str_field(o, "request_id"), "a\"b\nc");
    json_decref(o);
    free(out);
    capture_close(&c);
}

Test(log, long_message_is_one_whole_line)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_JSON);
    char *big = malloc(20001);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    td_log_info(&c.log, "%s", big);
    char *out = capture_read(&c);
    json_t *o = parse_one_line(out);
    cr_assert_eq(strlen(str_field(o, "msg")), 20000);
    json_decref(o);
    free(out);
    free(big);
    capture_close(&c);
}

Test(log, level_filtering)
{
    struct capture c;
    capture_open(&c, TD_LOG_WARN, TD_LOG_JSON);
    td_log_debug(&c.log, "d");
    td_log_info(&c.log, "i");
    td_log_warn(&c.log, "w");
    td_log_error(&c.log, "e");
    char *out = capture_read(&c);
    cr_assert_eq(count_lines(out), 2, "got: %s", out);
    cr_assert_null(strstr(out, "\"msg\":\"d\""));
    cr_assert_null(strstr(out, "\"msg\":\"i\""));
    cr_assert_not_null(strstr(out, "\"msg\":\"w\""));
    cr_assert_not_null(strstr(out, "\"msg\":\"e\""));
    free(out);

    c.log.level = TD_LOG_ERROR;
    td_log_warn(&c.log, "w2");
    out = capture_read(&c);
    cr_assert_str_eq(out, "");
    free(out);

    c.log.level = TD_LOG_DEBUG;
    td_log_debug(&c.log, "d2");
    out = capture_read(&c);
    cr_assert_eq(count_lines(out), 1);
    free(out);
    capture_close(&c);
}

Test(log, text_format)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_TEXT);
    struct td_log_ctx ctx = {.request_id = "r-9", .trace_id = "abc"};
    td_log_emit(&c.log, TD_LOG_ERROR, &ctx, "\"k\":1", "boom %d", 7);
    char *out = capture_read(&c);
    cr_assert_eq(count_lines(out), 1, "got: %s", out);
    cr_assert_neq(out[0], '{', "text format is not JSON: %s", out);
    cr_assert_not_null(strstr(out, "error"), "%s", out);
    cr_assert_not_null(strstr(out, "tester: boom 7"), "%s", out);
    cr_assert_not_null(strstr(out, "request_id=r-9"), "%s", out);
    cr_assert_not_null(strstr(out, "trace_id=abc"), "%s", out);
    cr_assert_not_null(strstr(out, "\"k\":1"), "%s", out);
    cr_assert_eq(out[4], '-', "starts with the time: %s", out);
    free(out);

    td_log_debug(&c.log, "filtered in text too");
    out = capture_read(&c);
    cr_assert_str_eq(out, "");
    free(out);
    capture_close(&c);
}

Test(log, text_format_keeps_one_line_per_event)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_TEXT);
    td_log_info(&c.log, "first\nsecond\r\nthird");
    char *out = capture_read(&c);
    cr_assert_eq(count_lines(out), 1, "a newline in the message split the line: %s", out);
    cr_assert_null(strchr(out, '\r'), "%s", out);
    cr_assert_not_null(strstr(out, "first"));
    cr_assert_not_null(strstr(out, "third"));
    free(out);
    capture_close(&c);
}

Test(log, role_defaults_to_todod)
{
    struct capture c;
    capture_open(&c, TD_LOG_INFO, TD_LOG_JSON);
    c.log.role = NULL;
    td_log_info(&c.log, "no role");
    char *out = capture_read(&c);
    json_t *o = parse_one_line(out);
    cr_assert_str_eq(str_field(o, "role"), "todod");
    json_decref(o);
    free(out);
    capture_close(&c);
}

Test(log, null_log_writes_json_to_stderr)
{
    /* td_log_emit(NULL, ...) is allowed (early start-up): it goes to fd 2 as JSON. */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int saved = dup(2);
    dup2(p[1], 2);
    td_log_error(NULL, "to stderr");
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    struct capture c = {.rfd = p[0]};
    char *out = capture_read(&c);
    close(p[0]);
    json_t *o = parse_one_line(out);
    cr_assert_str_eq(str_field(o, "msg"), "to stderr");
    cr_assert_str_eq(str_field(o, "level"), "error");
    json_decref(o);
    free(out);
}

Test(log, level_parse)
{
    enum td_log_level lv = TD_LOG_INFO;
    cr_assert_eq(td_log_level_parse("debug", &lv), 0);
    cr_assert_eq(lv, TD_LOG_DEBUG);
    cr_assert_eq(td_log_level_parse("error", &lv), 0);
    cr_assert_eq(lv, TD_LOG_ERROR);
    cr_assert_eq(td_log_level_parse("warning", &lv), 0);
    cr_assert_eq(lv, TD_LOG_WARN);
    cr_assert_eq(td_log_level_parse("info", &lv), 0);
    cr_assert_eq(lv, TD_LOG_INFO);
    cr_assert_eq(td_log_level_parse("verbose", &lv), -EINVAL);
    cr_assert_eq(td_log_level_parse("", &lv), -EINVAL);
    cr_assert_eq(lv, TD_LOG_INFO, "unchanged on error");
}

Test(log, format_parse)
{
    enum td_log_format f = TD_LOG_TEXT;
    cr_assert_eq(td_log_format_parse("json", &f), 0);
    cr_assert_eq(f, TD_LOG_JSON);
    cr_assert_eq(td_log_format_parse("text", &f), 0);
    cr_assert_eq(f, TD_LOG_TEXT);
    cr_assert_eq(td_log_format_parse("xml", &f), -EINVAL);
    cr_assert_eq(f, TD_LOG_TEXT);
}

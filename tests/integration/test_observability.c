/* /health, /ready, /metrics, request ids, traceparent and JSON access logs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--log-level", "debug", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0, "todod did not stop cleanly");
    td_test_pg_destroy(&pg);
}

TestSuite(observability, .init = start, .fini = stop, .timeout = 60);

Test(observability, health_and_ready_answer_json)
{
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert(j, "not JSON: %s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    cr_expect_str_eq(json_string_value(json_object_get(j, "role")), "all");
    json_decref(j);
    td_test_http_free(&r);

    cr_assert_eq(td_test_http(todod.port, "GET", "/ready", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert(j);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "checks"), "database")), "ok");
    json_decref(j);
    td_test_http_free(&r);
}

/* Value of the sample whose name+labels is exactly series, or -1. */
static double sample(const char *body, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = body; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return atof(line + n + 1);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

static char *scrape(void)
{
    struct td_test_http r;
    cr_assert_eq(td_test_http(todod.port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_expect_eq(r.status, 200);
    char *type = td_test_header(r.headers, "Content-Type");
    cr_expect(type && strstr(type, "text/plain; version=0.0.4"), "%s", type);
    free(type);
    char *body = r.body;
    r.body = NULL;
    td_test_http_free(&r);
    return body;
}

Test(observability, metrics_count_requests_by_route_and_status)
{
    const char *ok = "td_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}";
    const char *miss = "td_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}";
    const char *hist = "td_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"}";
    char *before = scrape();
    double ok0 = sample(before, ok), hist0 = sample(before, hist), miss0 = sample(before, miss);
    cr_assert(ok0 >= 1, "the start-up probe should be counted already");
    struct td_test_http r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, NULL, &r), 0);
        td_test_http_free(&r);
    }
    cr_assert_eq(td_test_http(todod.port, "GET", "/no/such/path", NULL, NULL, &r), 0);
    td_test_http_free(&r);
    char *after = scrape();
    cr_expect_eq(sample(after, ok) - ok0, 3);
    cr_expect_eq(sample(after, hist) - hist0, 3);
    cr_expect_eq(sample(after, miss) - (miss0 < 0 ? 0 : miss0), 1);
    const char *want[] = {
        "td_http_open_connections ", "process_resident_memory_bytes ",
        "process_cpu_seconds_total ", "td_db_connections_up ",
        "# TYPE td_http_request_duration_seconds histogram",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_expect(strstr(after, want[i]) != NULL, "metrics lack %s", want[i]);
    free(before);
    free(after);
}

Test(observability, request_id_echoed_or_generated)
{
    struct td_test_http r;
    const char *hdrs[] = {"X-Request-ID: abc-123", NULL};
    cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, hdrs, &r), 0);
    char *id = td_test_header(r.headers, "X-Request-ID");
    cr_expect_str_eq(id ? id : "", "abc-123");
    free(id);
    td_test_http_free(&r);

    const char *bad[] = {"X-Request-ID: has spaces {and} braces", NULL};
    cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, bad, &r), 0);
    id = td_test_header(r.headers, "X-Request-ID");
    cr_assert(id);
    cr_expect_eq(strlen(id), 32, "generated id: %s", id);
    free(id);
    td_test_http_free(&r);
}

/* Finds the access log line for a request id; returns it parsed or NULL. */
static json_t *find_log_line(const char *request_id)
{
    for (int tries = 0; tries < 50; tries++) {
        char *logs = td_test_logs(&todod);
        char *save = NULL;
        for (char *line = strtok_r(logs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_t *j = json_loads(line, 0, NULL);
            cr_assert(j, "log line is not JSON: %s", line);
            const char *rid = json_string_value(json_object_get(j, "request_id"));
            if (rid && strcmp(rid, request_id) == 0 && json_object_get(j, "status")) {
                free(logs);
                return j;
            }
            json_decref(j);
        }
        free(logs);
        usleep(20000);
    }
    return NULL;
}

Test(observability, logs_are_json_and_carry_the_callers_trace)
{
    struct td_test_http r;
    const char *hdrs[] = {"X-Request-ID: trace-check-1",
                          "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          NULL};
    cr_assert_eq(td_test_http(todod.port, "GET", "/nothing-here", NULL, hdrs, &r), 0);
    td_test_http_free(&r);
    json_t *line = find_log_line("trace-check-1");
    cr_assert(line, "no access log line for the request");
    cr_expect_str_eq(json_string_value(json_object_get(line, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    const char *span = json_string_value(json_object_get(line, "span_id"));
    cr_expect(span && strlen(span) == 16 && strcmp(span, "00f067aa0ba902b7") != 0,
              "span should be a new child span: %s", span);
    cr_expect_eq(json_integer_value(json_object_get(line, "status")), 404);
    cr_expect_str_eq(json_string_value(json_object_get(line, "level")), "info");
    cr_expect_str_eq(json_string_value(json_object_get(line, "role")), "all");
    cr_expect(json_object_get(line, "time") && json_object_get(line, "msg"));
    json_decref(line);
}

Test(observability, probes_are_logged_at_debug_only)
{
    struct td_test_http r;
    const char *hdrs[] = {"X-Request-ID: probe-check", NULL};
    cr_assert_eq(td_test_http(todod.port, "GET", "/health", NULL, hdrs, &r), 0);
    td_test_http_free(&r);
    json_t *line = find_log_line("probe-check");
    cr_assert(line);
    cr_expect_str_eq(json_string_value(json_object_get(line, "level")), "debug");
    json_decref(line);
}

/* core/metrics.c: the registry and its Prometheus text format 0.0.4 rendering. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

/* ---- a small checker for the exposition format ---- */

static int name_char(char c, int first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* Parses one label set "{a="x",b="y"}" starting at p (after the name); returns the end. */
static const char *check_labels(const char *p, const char *line)
{
    if (*p != '{')
        return p;
    p++;
    while (*p != '}') {
        cr_assert(name_char(*p, 1), "bad label name in: %s", line);
        while (name_char(*p, 0))
            p++;
        cr_assert_eq(*p, '=', "expected = in: %s", line);
        p++;
        cr_assert_eq(*p, '"', "expected \" in: %s", line);
        p++;
        while (*p != '"') {
            cr_assert_neq(*p, '\0', "unterminated label value in: %s", line);
            cr_assert_neq(*p, '\n', "raw newline in label value: %s", line);
            if (*p == '\\') {
                p++;
                cr_assert(*p == '\\' || *p == '"' || *p == 'n', "bad escape in: %s", line);
            }
            p++;
        }
        p++;
        if (*p == ',')
            p++;
        else
            cr_assert_eq(*p, '}', "expected , or } in: %s", line);
    }
    return p + 1;
}

/* Validates the whole text: every sample belongs to a family with HELP and TYPE lines
 * that came first, values are numbers. */
static void check_exposition(const char *text)
{
    char typed[256][128];
    int histogram[256];
    int ntyped = 0;
    char *copy = strdup(text);
    cr_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n', "must end with a newline");
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], kind[32];
            cr_assert_eq(sscanf(line + 7, "%127s %31s", name, kind), 2, "%s", line);
            cr_assert(strcmp(kind, "counter") == 0 || strcmp(kind, "gauge") == 0 ||
                      strcmp(kind, "histogram") == 0, "kind in %s", line);
            for (int i = 0; i < ntyped; i++)
                cr_assert_str_neq(typed[i], name, "TYPE twice for %s", name);
            cr_assert_lt(ntyped, 256);
            histogram[ntyped] = strcmp(kind, "histogram") == 0;
            snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
            continue;
        }
        cr_assert_neq(line[0], '#', "unknown comment: %s", line);
        const char *p = line;
        cr_assert(name_char(*p, 1), "bad sample: %s", line);
        while (name_char(*p, 0))
            p++;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(p - line), line);
        int found = 0;
        for (int i = 0; i < ntyped && !found; i++) {
            size_t tl = strlen(typed[i]);
            if (strcmp(name, typed[i]) == 0)
                found = !histogram[i];
            else if (histogram[i] && strncmp(name, typed[i], tl) == 0)
                found = strcmp(name + tl, "_bucket") == 0 || strcmp(name + tl, "_sum") == 0 ||
                        strcmp(name + tl, "_count") == 0;
        }
        cr_assert(found, "sample without a TYPE line first: %s", line);
        p = check_labels(p, line);
        cr_assert_eq(*p, ' ', "expected a space before the value: %s", line);
        p++;
        char *end;
        if (strcmp(p, "+Inf") != 0 && strcmp(p, "-Inf") != 0 && strcmp(p, "NaN") != 0) {
            strtod(p, &end);
            cr_assert(end != p && *end == '\0', "bad value in: %s", line);
        }
    }
    free(copy);
}

/* The value of the sample line that starts with exactly `series ` (name plus labels). */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    cr_assert_fail("no sample %s in:\n%s", series, text);
    return NAN;
}

static int has_line(const char *text, const char *want)
{
    size_t n = strlen(want);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, want, n) == 0 && (line[n] == '\n' || line[n] == '\0'))
            return 1;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

static char *render(struct td_metrics *m)
{
    struct td_buf out = {0};
    cr_assert_eq(td_metrics_render(m, &out), 0);
    check_exposition(out.data);
    return td_buf_steal(&out, NULL);
}

/* ---- tests ---- */

Test(metrics, counter_renders_help_type_and_value)
{
    struct td_metrics *m;
    cr_assert_eq(td_metrics_new(&m), 0);
    cr_assert_eq(td_metrics_describe(m, "td_things_total", TD_METRIC_COUNTER, "Things done.",
                                     NULL, 0), 0);
    struct td_metric_series *s = td_metrics_series(m, "td_things_total", "");
    cr_assert_not_null(s);
    td_metric_add(s, 1);
    td_metric_add(s, 2);
    cr_assert_eq(td_metric_value(s), 3);
    char *text = render(m);
    cr_assert(has_line(text, "# HELP td_things_total Things done."), "%s", text);
    cr_assert(has_line(text, "# TYPE td_things_total counter"), "%s", text);
    cr_assert_eq(sample(text, "td_things_total"), 3);
    free(text);
    td_metrics_free(m);
}

Test(metrics, labelled_series_are_separate)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_req_total", TD_METRIC_COUNTER, "Requests.", NULL, 0);
    struct td_metric_series *a = td_metrics_series(m, "td_req_total", "route=\"/a\",status=\"200\"");
    struct td_metric_series *b = td_metrics_series(m, "td_req_total", "route=\"/b\",status=\"200\"");
    cr_assert_neq(a, b);
    td_metric_add(a, 5);
    td_metric_add(b, 7);
    char *text = render(m);
    cr_assert_eq(sample(text, "td_req_total{route=\"/a\",status=\"200\"}"), 5);
    cr_assert_eq(sample(text, "td_req_total{route=\"/b\",status=\"200\"}"), 7);
    /* HELP/TYPE once per family even with two series. */
    cr_assert_eq(strstr(strstr(text, "# TYPE td_req_total") + 1, "# TYPE td_req_total"), NULL);
    free(text);
    td_metrics_free(m);
}

Test(metrics, same_labels_same_series_pointer)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_x_total", TD_METRIC_COUNTER, "X.", NULL, 0);
    td_metrics_describe(m, "td_y_total", TD_METRIC_COUNTER, "Y.", NULL, 0);
    struct td_metric_series *a = td_metrics_series(m, "td_x_total", "k=\"v\"");
    char labels[16];
    snprintf(labels, sizeof labels, "k=\"%c\"", 'v');   /* equal text, other storage */
    cr_assert_eq(td_metrics_series(m, "td_x_total", labels), a);
    cr_assert_neq(td_metrics_series(m, "td_x_total", "k=\"w\""), a);
    cr_assert_neq(td_metrics_series(m, "td_y_total", "k=\"v\""), a, "other family");
    cr_assert_eq(td_metrics_series(m, "td_x_total", NULL), td_metrics_series(m, "td_x_total", ""),
                 "NULL labels mean none");
    td_metrics_free(m);
}

Test(metrics, many_series_found_again)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_many_total", TD_METRIC_COUNTER, "Many.", NULL, 0);
    struct td_metric_series *ss[3000];
    char labels[32];
    for (int i = 0; i < 3000; i++) {   /* more series than hash slots: chains */
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        ss[i] = td_metrics_series(m, "td_many_total", labels);
        cr_assert_not_null(ss[i]);
        td_metric_add(ss[i], i);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        cr_assert_eq(td_metrics_series(m, "td_many_total", labels), ss[i]);
        cr_assert_eq(td_metric_value(ss[i]), i);
    }
    td_metrics_free(m);
}

Test(metrics, undeclared_family_returns_null)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    cr_assert_null(td_metrics_series(m, "td_nope_total", ""));
    td_metric_add(NULL, 1);       /* harmless on NULL */
    td_metric_set(NULL, 1);
    td_metric_observe(NULL, 1);
    cr_assert_eq(td_metric_value(NULL), 0);
    td_metrics_free(m);
}

Test(metrics, describe_is_idempotent_but_kind_must_match)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    cr_assert_eq(td_metrics_describe(m, "td_a", TD_METRIC_GAUGE, "A.", NULL, 0), 0);
    struct td_metric_series *s = td_metrics_series(m, "td_a", "");
    td_metric_set(s, 4);
    cr_assert_eq(td_metrics_describe(m, "td_a", TD_METRIC_GAUGE, "A again.", NULL, 0), 0);
    cr_assert_eq(td_metrics_series(m, "td_a", ""), s, "redescribing keeps the series");
    cr_assert_eq(td_metrics_describe(m, "td_a", TD_METRIC_COUNTER, "A.", NULL, 0), -EEXIST);
    char *text = render(m);
    cr_assert(has_line(text, "# TYPE td_a gauge"));
    cr_assert_eq(sample(text, "td_a"), 4);
    free(text);
    td_metrics_free(m);
}

Test(metrics, gauge_set_and_add)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_g", TD_METRIC_GAUGE, "G.", NULL, 0);
    struct td_metric_series *g = td_metrics_series(m, "td_g", "pool=\"main\"");
    td_metric_set(g, 10);
    td_metric_add(g, -3);
    cr_assert_eq(td_metric_value(g), 7);
    char *text = render(m);
    cr_assert(has_line(text, "# TYPE td_g gauge"));
    cr_assert_eq(sample(text, "td_g{pool=\"main\"}"), 7);
    free(text);
    td_metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    const double b[] = {0.1, 0.5, 1};
    td_metrics_describe(m, "td_lat_seconds", TD_METRIC_HISTOGRAM, "Latency.", b, 3);
    struct td_metric_series *h = td_metrics_series(m, "td_lat_seconds", "route=\"/x\"");
    const double obs[] = {0.05, 0.1, 0.2, 0.7, 0.9, 3.0};
    double sum = 0;
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
        td_metric_observe(h, obs[i]);
        sum += obs[i];
    }
    cr_assert_eq(td_metric_value(h), 6, "histogram value is its count");
    char *text = render(m);
    cr_assert(has_line(text, "# TYPE td_lat_seconds histogram"), "%s", text);
    cr_assert_eq(sample(text, "td_lat_seconds_bucket{route=\"/x\",le=\"0.1\"}"), 2, "le is inclusive");
    cr_assert_eq(sample(text, "td_lat_seconds_bucket{route=\"/x\",le=\"0.5\"}"), 3);
    cr_assert_eq(sample(text, "td_lat_seconds_bucket{route=\"/x\",le=\"1\"}"), 5);
    cr_assert_eq(sample(text, "td_lat_seconds_bucket{route=\"/x\",le=\"+Inf\"}"), 6);
    cr_assert_eq(sample(text, "td_lat_seconds_count{route=\"/x\"}"), 6);
    cr_assert_float_eq(sample(text, "td_lat_seconds_sum{route=\"/x\"}"), sum, 1e-9);
    free(text);
    td_metrics_free(m);
}

Test(metrics, histogram_without_labels_and_default_buckets)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_d_seconds", TD_METRIC_HISTOGRAM, "Default buckets.", NULL, 0);
    struct td_metric_series *h = td_metrics_series(m, "td_d_seconds", "");
    td_metric_observe(h, 0.003);
    td_metric_observe(h, 100);
    char *text = render(m);
    cr_assert_eq(sample(text, "td_d_seconds_bucket{le=\"+Inf\"}"), 2, "%s", text);
    cr_assert_eq(sample(text, "td_d_seconds_count"), 2);
    cr_assert_float_eq(sample(text, "td_d_seconds_sum"), 100.003, 1e-9);
    cr_assert_eq(sample(text, "td_d_seconds_bucket{le=\"0.005\"}"), 1);
    cr_assert_eq(sample(text, "td_d_seconds_bucket{le=\"0.0025\"}"), 0);
    cr_assert_eq(sample(text, "td_d_seconds_bucket{le=\"10\"}"), 1);
    /* every bucket line is monotonic */
    double prev = -1;
    for (const char *p = strstr(text, "td_d_seconds_bucket"); p; p = strstr(p + 1, "td_d_seconds_bucket")) {
        double v = strtod(strchr(p, ' ') + 1, NULL);
        cr_assert_geq(v, prev);
        prev = v;
    }
    free(text);
    td_metrics_free(m);
}

Test(metrics, label_escaping)
{
    struct td_buf b = {0};
    cr_assert_eq(td_metrics_label_escape(&b, "a\\b\"c\nd"), 0);
    cr_assert_str_eq(b.data, "a\\\\b\\\"c\\nd");
    td_buf_reset(&b);
    td_metrics_label_escape(&b, "plain/path_{id}");
    cr_assert_str_eq(b.data, "plain/path_{id}");
    td_buf_free(&b);

    /* Escaped values render as a valid label set. */
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_esc_total", TD_METRIC_COUNTER, "Escapes.", NULL, 0);
    struct td_buf labels = {0};
    td_buf_puts(&labels, "path=\"");
    td_metrics_label_escape(&labels, "/we\"ird\\\npath");
    td_buf_puts(&labels, "\"");
    td_metric_add(td_metrics_series(m, "td_esc_total", labels.data), 1);
    char *text = render(m);   /* check_exposition rejects raw newlines and bad escapes */
    cr_assert_not_null(strstr(text, "td_esc_total{path=\"/we\\\"ird\\\\\\npath\"} 1\n"), "%s", text);
    free(text);
    td_buf_free(&labels);
    td_metrics_free(m);
}

static double read_counter(void *arg)
{
    int *calls = arg;
    return ++*calls * 10;
}

Test(metrics, gauge_fn_read_at_render_time)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    int calls = 0;
    cr_assert_eq(td_metrics_gauge_fn(m, "td_lag_seconds", "Lag.", read_counter, &calls), 0);
    cr_assert_eq(calls, 0, "not read before a scrape");
    char *text = render(m);
    cr_assert(has_line(text, "# TYPE td_lag_seconds gauge"));
    cr_assert_eq(sample(text, "td_lag_seconds"), 10);
    free(text);
    text = render(m);
    cr_assert_eq(sample(text, "td_lag_seconds"), 20, "read again on every scrape");
    cr_assert_eq(calls, 2);
    free(text);
    td_metrics_free(m);
}

Test(metrics, process_metrics_present)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    char *text = render(m);   /* an empty registry still has them */
    cr_assert(has_line(text, "# TYPE process_resident_memory_bytes gauge"), "%s", text);
    cr_assert_gt(sample(text, "process_resident_memory_bytes"), 0);
    cr_assert_gt(sample(text, "process_virtual_memory_bytes"), 0);
    cr_assert(has_line(text, "# TYPE process_cpu_seconds_total counter"));
    cr_assert_geq(sample(text, "process_cpu_seconds_total"), 0);
    cr_assert_geq(sample(text, "process_open_fds"), 3);
    cr_assert_neq(sample(text, "process_max_fds"), 0);
    cr_assert_gt(sample(text, "process_start_time_seconds"), 1.5e9);
    free(text);
    td_metrics_free(m);
}

Test(metrics, families_render_in_declaration_order)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    td_metrics_describe(m, "td_b_total", TD_METRIC_COUNTER, "B.", NULL, 0);
    td_metrics_describe(m, "td_a_total", TD_METRIC_COUNTER, "A.", NULL, 0);
    td_metric_add(td_metrics_series(m, "td_b_total", ""), 1);
    td_metric_add(td_metrics_series(m, "td_a_total", ""), 1);
    char *text = render(m);
    char *b = strstr(text, "# TYPE td_b_total");
    char *a = strstr(text, "# TYPE td_a_total");
    cr_assert(a && b && b < a);
    cr_assert_lt(strstr(text, "td_b_total 1"), a, "samples follow their own TYPE line");
    free(text);
    td_metrics_free(m);
}

Test(metrics, render_appends_to_existing_buffer)
{
    struct td_metrics *m;
    td_metrics_new(&m);
    struct td_buf out = {0};
    td_buf_puts(&out, "# HELP pre Pre.\n# TYPE pre gauge\npre 1\n");
    cr_assert_eq(td_metrics_render(m, &out), 0);
    cr_assert_eq(strncmp(out.data, "# HELP pre Pre.\n", 16), 0);
    check_exposition(out.data);
    td_buf_free(&out);
    td_metrics_free(m);
}

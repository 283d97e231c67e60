#include "core/metrics.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proc.h"

#define SERIES_HASH_SIZE 1024   /* chained; a process has a few hundred series at most */

static const double latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct td_metric_family {
    char                    *name;
    char                    *help;
    enum td_metric_kind      kind;
    double                  *buckets;
    size_t                   nbuckets;
    td_metric_read_fn        read_fn;   /* gauges read at scrape time */
    void                    *read_arg;
    struct td_metric_series *series;    /* in creation order (tail-appended) */
    struct td_metric_series *series_tail;
    struct td_metric_family *next;
};

struct td_metric_series {
    struct td_metric_family *family;
    char                    *labels;
    double                   value;      /* counter/gauge value, histogram sum */
    uint64_t                 count;      /* histogram observations */
    uint64_t                *bucket_counts;  /* per bucket, not cumulative */
    struct td_metric_series *next_in_family;
    struct td_metric_series *next_in_hash;
};

struct td_metrics {
    struct td_metric_family *families;
    struct td_metric_family *families_tail;
    struct td_metric_series *hash[SERIES_HASH_SIZE];
};

int td_metrics_new(struct td_metrics **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

void td_metrics_free(struct td_metrics *m)
{
    if (!m)
        return;
    struct td_metric_family *f = m->families;
    while (f) {
        struct td_metric_family *next = f->next;
        struct td_metric_series *s = f->series;
        while (s) {
            struct td_metric_series *sn = s->next_in_family;
            free(s->labels);
            free(s->bucket_counts);
            free(s);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f->buckets);
        free(f);
        f = next;
    }
    free(m);
}

static struct td_metric_family *find_family(struct td_metrics *m, const char *name)
{
    for (struct td_metric_family *f = m->families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static struct td_metric_family *add_family(struct td_metrics *m, const char *name,
                                           enum td_metric_kind kind, const char *help)
{
    struct td_metric_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help);
    f->kind = kind;
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    if (m->families_tail)
        m->families_tail->next = f;
    else
        m->families = f;
    m->families_tail = f;
    return f;
}

int td_metrics_describe(struct td_metrics *m, const char *name, enum td_metric_kind kind,
                        const char *help, const double *buckets, size_t nbuckets)
{
    struct td_metric_family *f = find_family(m, name);
    if (f)
        return f->kind == kind ? 0 : -EEXIST;
    f = add_family(m, name, kind, help);
    if (!f)
        return -ENOMEM;
    if (kind == TD_METRIC_HISTOGRAM) {
        if (!buckets) {
            buckets = latency_buckets;
            nbuckets = sizeof latency_buckets / sizeof latency_buckets[0];
        }
        f->buckets = malloc(nbuckets * sizeof *buckets);
        if (!f->buckets)
            return -ENOMEM;
        memcpy(f->buckets, buckets, nbuckets * sizeof *buckets);
        f->nbuckets = nbuckets;
    }
    return 0;
}

int td_metrics_gauge_fn(struct td_metrics *m, const char *name, const char *help,
                        td_metric_read_fn fn, void *arg)
{
    struct td_metric_family *f = find_family(m, name);
    if (!f)
        f = add_family(m, name, TD_METRIC_GAUGE, help);
    if (!f)
        return -ENOMEM;
    f->read_fn = fn;
    f->read_arg = arg;
    return 0;
}

static unsigned hash_key(const char *name, const char *labels)
{
    uint32_t h = 2166136261u;   /* FNV-1a over name, a separator, labels */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '{') * 16777619u;
    for (const char *p = labels; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % SERIES_HASH_SIZE;
}

struct td_metric_series *td_metrics_series(struct td_metrics *m, const char *name,
                                           const char *labels)
{
    if (!labels)
        labels = "";
    unsigned slot = hash_key(name, labels);
    for (struct td_metric_series *s = m->hash[slot]; s; s = s->next_in_hash)
        if (strcmp(s->labels, labels) == 0 && strcmp(s->family->name, name) == 0)
            return s;
    struct td_metric_family *f = find_family(m, name);
    if (!f)
        return NULL;
    struct td_metric_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->family = f;
    s->labels = strdup(labels);
    if (f->kind == TD_METRIC_HISTOGRAM)
        s->bucket_counts = calloc(f->nbuckets, sizeof *s->bucket_counts);
    if (!s->labels || (f->kind == TD_METRIC_HISTOGRAM && !s->bucket_counts)) {
        free(s->labels);
        free(s->bucket_counts);
        free(s);
        return NULL;
    }
    if (f->series_tail)
        f->series_tail->next_in_family = s;
    else
        f->series = s;
    f->series_tail = s;
    s->next_in_hash = m->hash[slot];
    m->hash[slot] = s;
    return s;
}

void td_metric_add(struct td_metric_series *s, double v)
{
    if (s)
        s->value += v;
}

void td_metric_set(struct td_metric_series *s, double v)
{
    if (s)
        s->value = v;
}

void td_metric_observe(struct td_metric_series *s, double v)
{
    if (!s || !s->bucket_counts)
        return;
    const struct td_metric_family *f = s->family;
    for (size_t i = 0; i < f->nbuckets; i++)
        if (v <= f->buckets[i]) {
            s->bucket_counts[i]++;
            break;
        }
    s->count++;
    s->value += v;
}

double td_metric_value(const struct td_metric_series *s)
{
    if (!s)
        return 0;
    return s->family->kind == TD_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

int td_metrics_label_escape(struct td_buf *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        int rc;
        if (*p == '\\')
            rc = td_buf_append(out, "\\\\", 2);
        else if (*p == '"')
            rc = td_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            rc = td_buf_append(out, "\\n", 2);
        else
            rc = td_buf_append(out, p, 1);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *kind_name(enum td_metric_kind k)
{
    return k == TD_METRIC_COUNTER ? "counter" : k == TD_METRIC_GAUGE ? "gauge" : "histogram";
}

/* Labels for a bucket line: the series' labels plus le="...". */
static void render_histogram(struct td_buf *out, const struct td_metric_series *s)
{
    const struct td_metric_family *f = s->family;
    const char *sep = s->labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < f->nbuckets; i++) {
        cumulative += s->bucket_counts[i];
        td_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, s->labels, sep,
                      f->buckets[i], (unsigned long long)cumulative);
    }
    td_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep,
                  (unsigned long long)s->count);
    const char *open = s->labels[0] ? "{" : "", *close = s->labels[0] ? "}" : "";
    td_buf_printf(out, "%s_sum%s%s%s %.9g\n", f->name, open, s->labels, close, s->value);
    td_buf_printf(out, "%s_count%s%s%s %llu\n", f->name, open, s->labels, close,
                  (unsigned long long)s->count);
}

static void render_process(struct td_buf *out)
{
    struct td_proc_stats ps;
    if (td_proc_stats(&ps) != 0)
        return;
    td_buf_printf(out,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %zu\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %zu\n"
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %d\n"
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %d\n"
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
        ps.rss_bytes, ps.vsize_bytes, ps.cpu_user_seconds + ps.cpu_system_seconds,
        ps.open_fds, ps.max_fds, ps.start_time_seconds);
}

int td_metrics_render(struct td_metrics *m, struct td_buf *out)
{
    for (const struct td_metric_family *f = m->families; f; f = f->next) {
        td_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                      kind_name(f->kind));
        if (f->read_fn) {
            td_buf_printf(out, "%s %.17g\n", f->name, f->read_fn(f->read_arg));
            continue;
        }
        for (const struct td_metric_series *s = f->series; s; s = s->next_in_family) {
            if (f->kind == TD_METRIC_HISTOGRAM)
                render_histogram(out, s);
            else if (s->labels[0])
                td_buf_printf(out, "%s{%s} %.17g\n", f->name, s->labels, s->value);
            else
                td_buf_printf(out, "%s %.17g\n", f->name, s->value);
        }
    }
    render_process(out);
    return out->data ? 0 : -ENOMEM;
}

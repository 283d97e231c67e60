/* Prometheus metrics: counters, gauges, histograms with labels, rendered as text
 * format 0.0.4. One registry per process; series are found or created by name+labels. */
#ifndef TD_METRICS_H
#define TD_METRICS_H
#include <stddef.h>
#include "core/buf.h"

struct td_metrics;
struct td_metric_series;   /* one (name, labels) series; owned by the registry */

enum td_metric_kind { TD_METRIC_COUNTER, TD_METRIC_GAUGE, TD_METRIC_HISTOGRAM };

int  td_metrics_new(struct td_metrics **out);
void td_metrics_free(struct td_metrics *m);

/* Declares a metric family (idempotent). buckets: ascending upper bounds for histograms
 * (NULL = latency defaults in seconds). */
int td_metrics_describe(struct td_metrics *m, const char *name, enum td_metric_kind kind,
                        const char *help, const double *buckets, size_t nbuckets);
/* labels: pre-rendered label pairs without braces, e.g. "route=\"/health\",status=\"200\"",
 * or "" for none. Returns NULL only when out of memory or the family is undeclared. */
struct td_metric_series *td_metrics_series(struct td_metrics *m, const char *name,
                                           const char *labels);
void td_metric_add(struct td_metric_series *s, double v);      /* counter, gauge */
void td_metric_set(struct td_metric_series *s, double v);      /* gauge */
void td_metric_observe(struct td_metric_series *s, double v);  /* histogram */
double td_metric_value(const struct td_metric_series *s);      /* counter/gauge; hist: count */

/* A gauge whose value is read at scrape time (lag, pool size, ...). */
typedef double (*td_metric_read_fn)(void *arg);
int td_metrics_gauge_fn(struct td_metrics *m, const char *name, const char *help,
                        td_metric_read_fn fn, void *arg);

/* Appends the whole registry plus process metrics (RSS, CPU, fds, start time). */
int td_metrics_render(struct td_metrics *m, struct td_buf *out);
/* Escapes a label value (\, ", newline) into out. */
int td_metrics_label_escape(struct td_buf *out, const char *value);

#endif

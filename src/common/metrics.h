/* metrics.h -- process-wide counters, gauges and histograms, rendered as Prometheus text.
 *
 * Metrics are updated on hot paths (every proposal, every fsync), so updates are single
 * relaxed atomic operations with no lock and no allocation. Registration happens at
 * startup, under a mutex, and hands back a pointer the caller keeps; a metric lives until
 * bs_metrics_reset_registry() (tests) or process exit. Rendering (the status port's
 * /metrics) walks the registry under the same mutex and reads the atomics, so it is
 * consistent per value though not across values, as Prometheus expects.
 *
 * Thread affinity: every function may be called from any thread. */
#ifndef BASALT_COMMON_METRICS_H
#define BASALT_COMMON_METRICS_H

#include <stdint.h>

#include "common/buf.h"

typedef struct bs_counter bs_counter;
typedef struct bs_gauge bs_gauge;
typedef struct bs_histogram bs_histogram;

#define BS_HISTOGRAM_MAX_BUCKETS 32

/* Registers a counter (monotonic) named name with help text; labels is "" or a Prometheus
 * label set without braces, e.g. "cf=\"default\"". name/help/labels are copied. Registering
 * the same name and labels twice returns the first metric. Never returns NULL. */
bs_counter *bs_counter_register(const char *name, const char *help, const char *labels);
void bs_counter_add(bs_counter *c, uint64_t n);
static inline void bs_counter_inc(bs_counter *c)
{
    bs_counter_add(c, 1);
}
uint64_t bs_counter_get(const bs_counter *c);

/* A gauge holds a signed value that may go up and down. Same rules as counters. */
bs_gauge *bs_gauge_register(const char *name, const char *help, const char *labels);
void bs_gauge_set(bs_gauge *g, int64_t v);
void bs_gauge_add(bs_gauge *g, int64_t delta);
int64_t bs_gauge_get(const bs_gauge *g);

/* A histogram of observations (e.g. seconds) with n_bounds ascending upper bounds
 * (n_bounds <= BS_HISTOGRAM_MAX_BUCKETS; +Inf is implicit). bounds is copied. */
bs_histogram *bs_histogram_register(const char *name, const char *help, const char *labels,
                                    const double *bounds, int n_bounds);
/* Exponential bounds start, start*factor, ... (n of them) into out[n]. */
void bs_histogram_exp_bounds(double start, double factor, int n, double *out);
void bs_histogram_observe(bs_histogram *h, double v);
uint64_t bs_histogram_count(const bs_histogram *h);
/* The smallest bucket bound below which at least q (0..1) of observations fall: an
 * estimate for reports and benchmarks; +INFINITY when it lies in the last bucket, 0 when
 * empty. */
double bs_histogram_quantile(const bs_histogram *h, double q);

/* Appends every registered metric in Prometheus text exposition format (# HELP, # TYPE,
 * samples; histograms as _bucket{le=...}, _sum, _count) to out. */
void bs_metrics_render(bs_buf *out);

/* Forgets every metric (frees them). Only for tests: pointers handed out become invalid. */
void bs_metrics_reset_registry(void);

#endif

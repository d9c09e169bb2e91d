/* metrics.c -- the metric registry and its Prometheus rendering.
 *
 * One linked list of metrics in registration order behind a mutex; values are C11 atomics
 * updated with relaxed ordering (a metric is a statistic, never a synchronisation point).
 * A histogram's sum is kept in fixed point (micro-units) so it can be an atomic integer. */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_kind;

typedef struct metric {
    metric_kind kind;
    char *name, *help, *labels;
    struct metric *next;
} metric;

struct bs_counter {
    metric m; /* first member */
    _Atomic uint64_t v;
};

struct bs_gauge {
    metric m;
    _Atomic int64_t v;
};

struct bs_histogram {
    metric m;
    int n_bounds;
    double bounds[BS_HISTOGRAM_MAX_BUCKETS];
    _Atomic uint64_t buckets[BS_HISTOGRAM_MAX_BUCKETS + 1]; /* last one is +Inf */
    _Atomic uint64_t count;
    _Atomic int64_t sum_micros;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static metric *registry_head, *registry_tail;

static metric *find(metric_kind kind, const char *name, const char *labels)
{
    for (metric *m = registry_head; m; m = m->next)
        if (m->kind == kind && strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
            return m;
    return NULL;
}

static void link_metric(metric *m, metric_kind kind, const char *name, const char *help,
                        const char *labels)
{
    m->kind = kind;
    m->name = bs_strdup(name);
    m->help = bs_strdup(help);
    m->labels = bs_strdup(labels ? labels : "");
    m->next = NULL;
    if (registry_tail)
        registry_tail->next = m;
    else
        registry_head = m;
    registry_tail = m;
}

bs_counter *bs_counter_register(const char *name, const char *help, const char *labels)
{
    pthread_mutex_lock(&registry_mu);
    metric *m = find(M_COUNTER, name, labels ? labels : "");
    if (!m) {
        bs_counter *c = bs_calloc(1, sizeof(*c));
        link_metric(&c->m, M_COUNTER, name, help, labels);
        m = &c->m;
    }
    pthread_mutex_unlock(&registry_mu);
    return (bs_counter *)m;
}

void bs_counter_add(bs_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t bs_counter_get(const bs_counter *c)
{
    return atomic_load_explicit(&((bs_counter *)c)->v, memory_order_relaxed);
}

bs_gauge *bs_gauge_register(const char *name, const char *help, const char *labels)
{
    pthread_mutex_lock(&registry_mu);
    metric *m = find(M_GAUGE, name, labels ? labels : "");
    if (!m) {
        bs_gauge *g = bs_calloc(1, sizeof(*g));
        link_metric(&g->m, M_GAUGE, name, help, labels);
        m = &g->m;
    }
    pthread_mutex_unlock(&registry_mu);
    return (bs_gauge *)m;
}

void bs_gauge_set(bs_gauge *g, int64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void bs_gauge_add(bs_gauge *g, int64_t delta)
{
    atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

int64_t bs_gauge_get(const bs_gauge *g)
{
    return atomic_load_explicit(&((bs_gauge *)g)->v, memory_order_relaxed);
}

bs_histogram *bs_histogram_register(const char *name, const char *help, const char *labels,
                                    const double *bounds, int n_bounds)
{
    BS_ASSERT(n_bounds >= 0 && n_bounds <= BS_HISTOGRAM_MAX_BUCKETS);
    for (int i = 1; i < n_bounds; i++)
        BS_ASSERT(bounds[i] > bounds[i - 1]);
    pthread_mutex_lock(&registry_mu);
    metric *m = find(M_HISTOGRAM, name, labels ? labels : "");
    if (!m) {
        bs_histogram *h = bs_calloc(1, sizeof(*h));
        h->n_bounds = n_bounds;
        memcpy(h->bounds, bounds, (size_t)n_bounds * sizeof(double));
        link_metric(&h->m, M_HISTOGRAM, name, help, labels);
        m = &h->m;
    }
    pthread_mutex_unlock(&registry_mu);
    return (bs_histogram *)m;
}

void bs_histogram_exp_bounds(double start, double factor, int n, double *out)
{
    double v = start;
    for (int i = 0; i < n; i++, v *= factor)
        out[i] = v;
}

void bs_histogram_observe(bs_histogram *h, double v)
{
    int i = 0;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micros, (int64_t)llround(v * 1e6), memory_order_relaxed);
}

uint64_t bs_histogram_count(const bs_histogram *h)
{
    return atomic_load_explicit(&((bs_histogram *)h)->count, memory_order_relaxed);
}

double bs_histogram_quantile(const bs_histogram *h, double q)
{
    bs_histogram *hh = (bs_histogram *)h;
    uint64_t total = 0, counts[BS_HISTOGRAM_MAX_BUCKETS + 1];
    for (int i = 0; i <= h->n_bounds; i++) {
        counts[i] = atomic_load_explicit(&hh->buckets[i], memory_order_relaxed);
        total += counts[i];
    }
    if (total == 0)
        return 0;
    double want = q * (double)total;
    uint64_t seen = 0;
    for (int i = 0; i < h->n_bounds; i++) {
        seen += counts[i];
        if ((double)seen >= want)
            return h->bounds[i];
    }
    return INFINITY;
}

static void appendf(bs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(bs_buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        bs_buf_append(out, tmp, (size_t)n);
        return;
    }
    bs_buf_reserve(out, (size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf((char *)out->ptr + out->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out->len += (size_t)n;
}

/* "{labels}" or "{labels,extra}" or "" */
static void label_set(bs_buf *out, const char *labels, const char *extra)
{
    bool a = labels[0] != '\0', b = extra && extra[0];
    if (!a && !b)
        return;
    appendf(out, "{%s%s%s}", labels, a && b ? "," : "", b ? extra : "");
}

static void render_one(bs_buf *out, const metric *m, bool header)
{
    static const char *type[] = {"counter", "gauge", "histogram"};
    if (header) {
        appendf(out, "# HELP %s %s\n", m->name, m->help);
        appendf(out, "# TYPE %s %s\n", m->name, type[m->kind]);
    }
    switch (m->kind) {
    case M_COUNTER:
        appendf(out, "%s", m->name);
        label_set(out, m->labels, NULL);
        appendf(out, " %llu\n", (unsigned long long)bs_counter_get((const bs_counter *)m));
        break;
    case M_GAUGE:
        appendf(out, "%s", m->name);
        label_set(out, m->labels, NULL);
        appendf(out, " %lld\n", (long long)bs_gauge_get((const bs_gauge *)m));
        break;
    case M_HISTOGRAM: {
        bs_histogram *h = (bs_histogram *)m;
        uint64_t cum = 0;
        char le[64];
        for (int i = 0; i <= h->n_bounds; i++) {
            cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
            if (i < h->n_bounds)
                snprintf(le, sizeof(le), "le=\"%.6g\"", h->bounds[i]);
            else
                snprintf(le, sizeof(le), "le=\"+Inf\"");
            appendf(out, "%s_bucket", m->name);
            label_set(out, m->labels, le);
            appendf(out, " %llu\n", (unsigned long long)cum);
        }
        appendf(out, "%s_sum", m->name);
        label_set(out, m->labels, NULL);
        appendf(out, " %.6f\n",
                (double)atomic_load_explicit(&h->sum_micros, memory_order_relaxed) / 1e6);
        appendf(out, "%s_count", m->name);
        label_set(out, m->labels, NULL);
        appendf(out, " %llu\n", (unsigned long long)cum);
        break;
    }
    }
}

void bs_metrics_render(bs_buf *out)
{
    pthread_mutex_lock(&registry_mu);
    /* One HELP/TYPE header per metric name, even when labelled series of it were
     * registered apart: print each name's series together. */
    for (metric *m = registry_head; m; m = m->next) {
        bool seen_before = false;
        for (metric *p = registry_head; p != m; p = p->next)
            if (strcmp(p->name, m->name) == 0)
                seen_before = true;
        if (seen_before)
            continue;
        render_one(out, m, true);
        for (metric *s = m->next; s; s = s->next)
            if (strcmp(s->name, m->name) == 0)
                render_one(out, s, false);
    }
    pthread_mutex_unlock(&registry_mu);
}

void bs_metrics_reset_registry(void)
{
    pthread_mutex_lock(&registry_mu);
    metric *m = registry_head;
    while (m) {
        metric *next = m->next;
        bs_free(m->name);
        bs_free(m->help);
        bs_free(m->labels);
        bs_free(m);
        m = next;
    }
    registry_head = registry_tail = NULL;
    pthread_mutex_unlock(&registry_mu);
}

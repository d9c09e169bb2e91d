/* cache.c -- the client's region cache: which Region holds a key, without asking PD each
 * time (client-go's RegionCache, cut down to one store).
 *
 * Entries are Regions as PD or a store described them (id, bounds, epoch), sorted by start
 * key and never overlapping, so a lookup is a binary search. The cache is a hint: every
 * request is checked by the store against the Region's current epoch and bounds, and a
 * region error drops or replaces the entry (request.c). */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"

void client_cache_init(client_cache *rc)
{
    memset(rc, 0, sizeof(*rc));
    pthread_mutex_init(&rc->mu, NULL);
}

void client_cache_deinit(client_cache *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        pd_region_deinit(&rc->v[i]);
    bs_free(rc->v);
    pthread_mutex_destroy(&rc->mu);
    memset(rc, 0, sizeof(*rc));
}

static bool end_above(const cluster_region *r, bs_slice key) /* key < end (end empty: +inf) */
{
    return r->end_key.len == 0 || bs_slice_cmp(key, bs_buf_slice(&r->end_key)) < 0;
}

/* Index of the last entry whose start is <= key (strict: < key), or n when none. */
static size_t last_starting_at_or_below(const client_cache *rc, bs_slice key, bool strict)
{
    size_t lo = 0, hi = rc->n; /* answer in [lo-1, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bs_slice_cmp(bs_buf_slice(&rc->v[mid].start_key), key);
        if (c < 0 || (!strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? rc->n : lo - 1;
}

bool client_cache_find(client_cache *rc, bs_slice key, bool before, cluster_region *out)
{
    bool hit = false;
    pthread_mutex_lock(&rc->mu);
    size_t i = last_starting_at_or_below(rc, key, before);
    if (i < rc->n) {
        const cluster_region *r = &rc->v[i];
        /* before: start < key <= end; otherwise start <= key < end. */
        hit = before ? (r->end_key.len == 0 || bs_slice_cmp(key, bs_buf_slice(&r->end_key)) <= 0)
                     : end_above(r, key);
        if (hit)
            pd_region_copy(out, r);
    }
    pthread_mutex_unlock(&rc->mu);
    return hit;
}

static bool overlaps(const cluster_region *a, const cluster_region *b)
{
    return end_above(a, bs_buf_slice(&b->start_key)) && end_above(b, bs_buf_slice(&a->start_key));
}

void client_cache_put(client_cache *rc, const cluster_region *r)
{
    BS_ASSERT(r->end_key.len == 0 || bs_slice_cmp(bs_buf_slice(&r->start_key),
                                                  bs_buf_slice(&r->end_key)) < 0);
    pthread_mutex_lock(&rc->mu);
    for (size_t i = 0; i < rc->n; i++)
        if (overlaps(&rc->v[i], r) && rc->v[i].epoch.version > r->epoch.version) {
            pthread_mutex_unlock(&rc->mu);
            return; /* stale: the cached view came from a later split */
        }
    size_t w = 0, at = rc->n;
    for (size_t i = 0; i < rc->n; i++) {
        if (overlaps(&rc->v[i], r)) {
            pd_region_deinit(&rc->v[i]);
            continue;
        }
        if (at == rc->n && bs_slice_cmp(bs_buf_slice(&rc->v[i].start_key),
                                        bs_buf_slice(&r->start_key)) > 0)
            at = w;
        rc->v[w++] = rc->v[i];
    }
    rc->n = w;
    if (at > rc->n)
        at = rc->n;
    if (rc->n == rc->cap) {
        rc->cap = rc->cap ? 2 * rc->cap : 16;
        rc->v = bs_realloc(rc->v, rc->cap * sizeof(cluster_region));
    }
    memmove(&rc->v[at + 1], &rc->v[at], (rc->n - at) * sizeof(cluster_region));
    pd_region_init(&rc->v[at]);
    pd_region_copy(&rc->v[at], r);
    rc->n++;
    for (size_t i = 1; i < rc->n; i++) /* Invariant: sorted, disjoint */
        BS_DASSERT(!overlaps(&rc->v[i - 1], &rc->v[i]) &&
                   bs_slice_cmp(bs_buf_slice(&rc->v[i - 1].start_key),
                                bs_buf_slice(&rc->v[i].start_key)) < 0);
    pthread_mutex_unlock(&rc->mu);
}

void client_cache_drop(client_cache *rc, uint64_t region_id)
{
    pthread_mutex_lock(&rc->mu);
    for (size_t i = 0; i < rc->n; i++) {
        if (rc->v[i].id != region_id)
            continue;
        pd_region_deinit(&rc->v[i]);
        memmove(&rc->v[i], &rc->v[i + 1], (rc->n - i - 1) * sizeof(cluster_region));
        rc->n--;
        break;
    }
    pthread_mutex_unlock(&rc->mu);
}

size_t client_cache_size(client_cache *rc)
{
    pthread_mutex_lock(&rc->mu);
    size_t n = rc->n;
    pthread_mutex_unlock(&rc->mu);
    return n;
}

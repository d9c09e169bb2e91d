/* region_tree.c -- PD's routing table: non-overlapping regions ordered by start key, and
 * the same regions ordered by id.
 *
 * Both indices are sorted arrays of pointers to one set of entries: lookups are a binary
 * search (O(log n)); an insert or removal moves pointers (O(n) memmove), which stays cheap
 * at the region counts one PD serves and keeps the code obviously right. Because ranges
 * never overlap, the regions that overlap any key range are one contiguous run of the key
 * index, and "the region containing key" is the last region starting at or before key, if
 * it reaches past key. Mirrors pkg/core/region_tree.go in PD (a B-tree there). */
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"

static bs_slice start_of(const pd_region_info *ri)
{
    return bs_buf_slice(&ri->region.start_key);
}

static bs_slice end_of(const pd_region_info *ri)
{
    return bs_buf_slice(&ri->region.end_key);
}

void pd_rt_init(pd_region_tree *t)
{
    memset(t, 0, sizeof(*t));
}

void pd_rt_deinit(pd_region_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        pd_region_info_deinit(t->by_key[i]);
        bs_free(t->by_key[i]);
    }
    bs_free(t->by_key);
    bs_free(t->by_id);
    pd_rt_init(t);
}

/* Number of regions whose start key is <= key (or < key when strict). */
static size_t count_starting_before(const pd_region_tree *t, bs_slice key, bool strict)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bs_slice_cmp(start_of(t->by_key[mid]), key);
        if (c < 0 || (c == 0 && !strict))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index in by_key of the region containing key, or SIZE_MAX. */
static size_t find_index(const pd_region_tree *t, bs_slice key)
{
    size_t i = count_starting_before(t, key, false);
    if (i == 0)
        return SIZE_MAX;
    if (!pd_region_contains(&t->by_key[i - 1]->region, key))
        return SIZE_MAX;
    return i - 1;
}

pd_region_info *pd_rt_search(const pd_region_tree *t, bs_slice key)
{
    size_t i = find_index(t, key);
    return i == SIZE_MAX ? NULL : t->by_key[i];
}

pd_region_info *pd_rt_search_prev(const pd_region_tree *t, bs_slice key)
{
    size_t i = find_index(t, key);
    if (i == SIZE_MAX || i == 0)
        return NULL;
    pd_region_info *prev = t->by_key[i - 1];
    if (!bs_slice_eq(end_of(prev), start_of(t->by_key[i])))
        return NULL;
    return prev;
}

/* Index in by_id of id, or of where it would go; *found says which. */
static size_t id_index(const pd_region_tree *t, uint64_t id, bool *found)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->by_id[mid]->region.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < t->n && t->by_id[lo]->region.id == id;
    return lo;
}

pd_region_info *pd_rt_get(const pd_region_tree *t, uint64_t id)
{
    bool found;
    size_t i = id_index(t, id, &found);
    return found ? t->by_id[i] : NULL;
}

size_t pd_rt_scan_start(const pd_region_tree *t, bs_slice start)
{
    size_t i = find_index(t, start);
    return i != SIZE_MAX ? i : count_starting_before(t, start, false);
}

void pd_rt_overlaps(const pd_region_tree *t, bs_slice start, bs_slice end, size_t *lo, size_t *hi)
{
    *lo = pd_rt_scan_start(t, start);
    *hi = end.len == 0 ? t->n : count_starting_before(t, end, true);
    if (*hi < *lo)
        *hi = *lo; /* start >= end: nothing overlaps */
}

static void grow(pd_region_tree *t)
{
    if (t->n < t->cap)
        return;
    t->cap = t->cap ? t->cap * 2 : 64;
    t->by_key = bs_realloc(t->by_key, t->cap * sizeof(*t->by_key));
    t->by_id = bs_realloc(t->by_id, t->cap * sizeof(*t->by_id));
}

void pd_rt_insert(pd_region_tree *t, pd_region_info *ri)
{
    bool found;
    size_t ii = id_index(t, ri->region.id, &found);
    BS_ASSERT(!found);
    size_t ki = count_starting_before(t, start_of(ri), false);
    /* No overlap with the neighbours (the caller removed every overlapping region). */
    BS_ASSERT(ki == 0 || pd_end_key_cmp(end_of(t->by_key[ki - 1]), start_of(ri)) <= 0);
    BS_ASSERT(ki == t->n || (ri->region.end_key.len != 0 &&
                             bs_slice_cmp(end_of(ri), start_of(t->by_key[ki])) <= 0));
    grow(t);
    memmove(&t->by_key[ki + 1], &t->by_key[ki], (t->n - ki) * sizeof(*t->by_key));
    t->by_key[ki] = ri;
    memmove(&t->by_id[ii + 1], &t->by_id[ii], (t->n - ii) * sizeof(*t->by_id));
    t->by_id[ii] = ri;
    t->n++;
}

pd_region_info *pd_rt_remove(pd_region_tree *t, pd_region_info *ri)
{
    bool found;
    size_t ii = id_index(t, ri->region.id, &found);
    BS_ASSERT(found && t->by_id[ii] == ri);
    size_t ki = find_index(t, start_of(ri));
    BS_ASSERT(ki != SIZE_MAX && t->by_key[ki] == ri);
    memmove(&t->by_key[ki], &t->by_key[ki + 1], (t->n - ki - 1) * sizeof(*t->by_key));
    memmove(&t->by_id[ii], &t->by_id[ii + 1], (t->n - ii - 1) * sizeof(*t->by_id));
    t->n--;
    return ri;
}

bool pd_rt_check(const pd_region_tree *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        const pd_region_info *a = t->by_key[i], *b = t->by_key[i + 1];
        if (a->region.end_key.len == 0 || bs_slice_cmp(end_of(a), start_of(b)) > 0)
            return false;
        if (t->by_id[i]->region.id >= t->by_id[i + 1]->region.id)
            return false;
    }
    for (size_t i = 0; i < t->n; i++)
        if (pd_rt_get(t, t->by_key[i]->region.id) != t->by_key[i])
            return false;
    return true;
}

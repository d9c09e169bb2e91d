/* types.c -- lifecycle of PD's owned value types: regions, region infos, lists, query and
 * split results.
 *
 * Each type owns what it points to, so a result handed to the caller can outlive every lock
 * and every later change of PD's tables. Deep copies are the rule; they are cheap next to
 * the network round trip that asks for them. */
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"

static void *dup_array(const void *src, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = bs_malloc(n * size);
    memcpy(p, src, n * size);
    return p;
}

void pd_region_init(pd_region *r)
{
    memset(r, 0, sizeof(*r));
    bs_buf_init(&r->start_key);
    bs_buf_init(&r->end_key);
}

void pd_region_deinit(pd_region *r)
{
    if (!r)
        return;
    bs_buf_free(&r->start_key);
    bs_buf_free(&r->end_key);
    bs_free(r->peers);
    pd_region_init(r);
}

void pd_region_set(pd_region *r, uint64_t id, bs_slice start_key, bs_slice end_key,
                   pd_region_epoch epoch, const pd_peer *peers, size_t n)
{
    r->id = id;
    bs_buf_set(&r->start_key, start_key.ptr, start_key.len);
    bs_buf_set(&r->end_key, end_key.ptr, end_key.len);
    r->epoch = epoch;
    pd_peer *copy = dup_array(peers, n, sizeof(*peers)); /* before the free: peers may alias */
    bs_free(r->peers);
    r->peers = copy;
    r->n_peers = n;
}

void pd_region_copy(pd_region *dst, const pd_region *src)
{
    BS_ASSERT(dst != src);
    pd_region_set(dst, src->id, bs_buf_slice(&src->start_key), bs_buf_slice(&src->end_key),
                  src->epoch, src->peers, src->n_peers);
}

void pd_region_info_init(pd_region_info *ri)
{
    memset(ri, 0, sizeof(*ri));
    pd_region_init(&ri->region);
}

void pd_region_info_deinit(pd_region_info *ri)
{
    if (!ri)
        return;
    pd_region_deinit(&ri->region);
    bs_free(ri->down_peers);
    bs_free(ri->pending_peers);
    pd_region_info_init(ri);
}

void pd_region_info_copy(pd_region_info *dst, const pd_region_info *src)
{
    BS_ASSERT(dst != src);
    pd_region r = dst->region;
    bs_free(dst->down_peers);
    bs_free(dst->pending_peers);
    *dst = *src;
    dst->region = r;
    pd_region_copy(&dst->region, &src->region);
    dst->down_peers = dup_array(src->down_peers, src->n_down_peers, sizeof(pd_peer_stats));
    dst->pending_peers = dup_array(src->pending_peers, src->n_pending_peers, sizeof(pd_peer));
}

void pd_region_list_init(pd_region_list *l)
{
    l->v = NULL;
    l->n = 0;
}

void pd_region_list_deinit(pd_region_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        pd_region_info_deinit(&l->v[i]);
    bs_free(l->v);
    pd_region_list_init(l);
}

void pd_query_result_init(pd_query_result *q)
{
    q->key_ids = NULL;
    q->prev_key_ids = NULL;
    pd_region_list_init(&q->regions);
}

void pd_query_result_deinit(pd_query_result *q)
{
    if (!q)
        return;
    bs_free(q->key_ids);
    bs_free(q->prev_key_ids);
    pd_region_list_deinit(&q->regions);
    pd_query_result_init(q);
}

void pd_split_ids_init(pd_split_ids *s)
{
    memset(s, 0, sizeof(*s));
}

void pd_split_ids_deinit(pd_split_ids *s)
{
    if (!s)
        return;
    bs_free(s->region_ids);
    bs_free(s->peer_ids);
    pd_split_ids_init(s);
}

int pd_end_key_cmp(bs_slice a, bs_slice b)
{
    if (a.len == 0 || b.len == 0)
        return (a.len == 0) - (b.len == 0); /* +∞ is the largest; two +∞ are equal */
    return bs_slice_cmp(a, b);
}

bool pd_region_contains(const pd_region *r, bs_slice key)
{
    if (bs_slice_cmp(key, bs_buf_slice(&r->start_key)) < 0)
        return false;
    return r->end_key.len == 0 || bs_slice_cmp(key, bs_buf_slice(&r->end_key)) < 0;
}

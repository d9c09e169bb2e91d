/* keyset.c -- the multiset of key hashes a connection's running commands hold.
 *
 * conn.c asks, for every pipelined command, whether one of its keys is still held by an
 * earlier command of the same connection; that must cost O(1), and entries come and go
 * with every request, so this is an open-addressing hash table with linear probing and
 * backward-shift deletion (no tombstones to accumulate). Hashes are stored, not keys: a
 * collision only makes a command wait for an unrelated one, never run too early. */
#include "common/assert.h"
#include "resp/conn_int.h"

uint64_t resp_key_hash(uint32_t db, bs_slice key)
{
    /* FNV-1a over (db, key), then a final avalanche so the low bits index well. */
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < 4; i++) {
        h ^= (db >> (8 * i)) & 0xff;
        h *= 1099511628211ULL;
    }
    for (size_t i = 0; i < key.len; i++) {
        h ^= key.ptr[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* The slot holding h, or the empty slot where it would go. Requires cap > 0. */
static size_t slot(const resp_keyset *s, uint64_t h)
{
    size_t mask = s->cap - 1, i = (size_t)h & mask;
    while (s->h[i] != 0 && s->h[i] != h)
        i = (i + 1) & mask;
    return i;
}

uint32_t resp_keyset_count(const resp_keyset *s, uint64_t h)
{
    if (s->used == 0)
        return 0;
    size_t i = slot(s, h);
    return s->h[i] == h ? s->n[i] : 0;
}

bool resp_keyset_has(const resp_keyset *s, uint64_t h)
{
    return resp_keyset_count(s, h) > 0;
}

void resp_keyset_add(resp_keyset *s, uint64_t h)
{
    BS_ASSERT(h != 0);
    if ((s->used + 1) * 2 > s->cap) {
        uint64_t *oh = s->h;
        uint32_t *on = s->n;
        size_t ocap = s->cap;
        s->cap = ocap ? ocap * 2 : 64;
        s->h = bs_calloc(s->cap, sizeof *s->h);
        s->n = bs_calloc(s->cap, sizeof *s->n);
        for (size_t i = 0; i < ocap; i++)
            if (oh[i]) {
                size_t j = slot(s, oh[i]);
                s->h[j] = oh[i];
                s->n[j] = on[i];
            }
        bs_free(oh);
        bs_free(on);
    }
    size_t i = slot(s, h);
    if (s->h[i] == 0) {
        s->h[i] = h;
        s->used++;
    }
    s->n[i]++;
}

void resp_keyset_del(resp_keyset *s, uint64_t h)
{
    BS_ASSERT(s->used > 0);
    size_t mask = s->cap - 1, i = slot(s, h);
    BS_ASSERT(s->h[i] == h && s->n[i] > 0);
    if (--s->n[i] > 0)
        return;
    s->h[i] = 0;
    s->used--;
    /* Backward shift: pull later entries of the probe run into the hole unless their home
     * slot lies cyclically in (hole, j], where they already are reachable. */
    for (size_t j = (i + 1) & mask; s->h[j] != 0; j = (j + 1) & mask) {
        size_t home = (size_t)s->h[j] & mask;
        bool reachable = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (reachable)
            continue;
        s->h[i] = s->h[j];
        s->n[i] = s->n[j];
        s->h[j] = 0;
        s->n[j] = 0;
        i = j;
    }
}

void resp_keyset_free(resp_keyset *s)
{
    bs_free(s->h);
    bs_free(s->n);
    s->h = NULL;
    s->n = NULL;
    s->cap = s->used = 0;
}

/* pd_int.h -- declarations shared by the files of src/pd/, never seen by other modules.
 *
 * The pd handle, its sub-states (TSO, id allocator, stores, region tree, GC), the keys PD
 * uses in its meta store, and the record codecs. Locking: `mu` guards everything except
 * `tso`, which has its own lock; no code path holds both. Functions named *_locked expect
 * pd->mu held. */
#ifndef BASALT_PD_PD_INT_H
#define BASALT_PD_PD_INT_H

#include <pthread.h>

#include "pd/pd.h"

/* ---- meta store keys ------------------------------------------------------------------ */
/* Fixed keys hold one u64 big-endian value unless noted. */
#define PD_KEY_CLUSTER_ID "cluster/id"
#define PD_KEY_CLUSTER_META "cluster/meta" /* record; present <=> bootstrapped */
#define PD_KEY_TSO_WINDOW "tso/window"     /* physical ms bound of issued timestamps */
#define PD_KEY_ID_END "id/end"             /* ids <= this may have been handed out */
#define PD_KEY_GC_SAFE_POINT "gc/safe_point"
#define PD_PREFIX_STORE "store/"    /* + u64be(store id) -> store record */
#define PD_PREFIX_REGION "region/"  /* + u64be(region id) -> region record */
#define PD_PREFIX_SERVICE "gc/svc/" /* + service id bytes -> service safe point record */

/* ---- sub-states ------------------------------------------------------------------------ */

typedef struct pd_tso {
    pthread_mutex_t mu;
    pthread_cond_t saved; /* signalled when a window save finishes */
    int64_t physical;     /* physical part of the newest issued ts, or the floor after a
                           * restart. Invariant: physical < window_end (after pd_open) */
    uint32_t logical;     /* logical part of the newest issued ts; 0 = none at physical.
                           * Invariant: logical < PD_TSO_MAX_LOGICAL */
    int64_t window_end;   /* persisted bound: nothing at or above it is ever issued */
    bool saving;          /* a window save is in flight (outside mu); one at a time */
    uint64_t last_ts;     /* newest issued ts. Invariant: strictly increases */
} pd_tso;

typedef struct pd_ids {
    uint64_t last; /* last id handed out (0: none yet). Invariant: last <= end */
    uint64_t end;  /* persisted bound */
} pd_ids;

/* Regions indexed twice over the same entries: by start key (non-overlapping, so also by
 * end key) and by id. Entries are owned by the tree. */
typedef struct pd_region_tree {
    pd_region_info **by_key; /* Invariant: by_key[i].end <= by_key[i+1].start, end != +∞ */
    pd_region_info **by_id;  /* Invariant: ids strictly increasing */
    size_t n, cap;
} pd_region_tree;

typedef struct pd_service_sp {
    bs_buf id;
    uint64_t safe_point;
    int64_t expire_at_ms; /* INT64_MAX: never */
} pd_service_sp;

typedef struct pd_gc {
    uint64_t safe_point; /* Invariant: never decreases */
    pd_service_sp *svc;  /* sorted by id */
    size_t n_svc, cap_svc;
} pd_gc;

struct pd_core {
    pd_options opts;     /* immutable after open */
    pd_meta_store *ms;   /* borrowed */
    uint64_t cluster_id; /* immutable after open; non-zero */
    pd_tso tso;

    pthread_mutex_t mu;
    bool bootstrapped;
    uint32_t max_replicas;
    pd_ids ids;
    pd_store *stores; /* sorted by id */
    size_t n_stores, cap_stores;
    pd_region_tree regions;
    pd_gc gc;
};

/* ---- clock ---------------------------------------------------------------------------- */
int64_t pd_now_ms(const pd_core *pd);

/* ---- errors ---------------------------------------------------------------------------- */
/* Prefixes context to err's message (when err is not NULL) and returns rc, so the code
 * survives a NULL err (bs_err_wrapf cannot know it then). */
int pd_wrapf(int rc, bs_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- meta store helpers (meta.c) ------------------------------------------------------- */
int pd_meta_get(pd_meta_store *ms, bs_slice key, bs_buf *value, bs_err *err);
int pd_meta_put(pd_meta_store *ms, bs_slice key, bs_slice value, bool sync, bs_err *err);
int pd_meta_del(pd_meta_store *ms, bs_slice key, bool sync, bs_err *err);
int pd_meta_write(pd_meta_store *ms, const pd_meta_op *ops, size_t n, bool sync, bs_err *err);
int pd_meta_scan(pd_meta_store *ms, bs_slice prefix, pd_meta_scan_fn fn, void *arg, bs_err *err);
/* A u64 big-endian value: BS_OK (*v set), BS_NOTFOUND, BS_ECORRUPT (wrong length), error. */
int pd_meta_get_u64(pd_meta_store *ms, const char *key, uint64_t *v, bs_err *err);
int pd_meta_put_u64(pd_meta_store *ms, const char *key, uint64_t v, bool sync, bs_err *err);
/* prefix ++ u64be(id) into *out (replaced). */
void pd_meta_id_key(bs_buf *out, const char *prefix, uint64_t id);

/* ---- records (record.c) ---------------------------------------------------------------- */
void pd_region_encode(const pd_region *r, bs_buf *out);
int pd_region_decode(bs_slice in, pd_region *r, bs_err *err);
void pd_store_encode(const pd_store *s, bs_buf *out);
int pd_store_decode(bs_slice in, pd_store *s, bs_err *err);
/* Region well-formedness for input from the network: BS_OK or BS_EINVAL with a message. */
int pd_region_validate(const pd_region *r, bs_err *err);

/* ---- sub-state lifecycles -------------------------------------------------------------- */
int pd_tso_open(pd_core *pd, bs_err *err);
int pd_ids_load(pd_core *pd, bs_err *err);
int pd_alloc_id_locked(pd_core *pd, uint64_t count, uint64_t *last_id, bs_err *err);
int pd_stores_load(pd_core *pd, bs_err *err);
void pd_stores_free(pd_core *pd);
/* The store with id, or NULL. */
pd_store *pd_store_find_locked(pd_core *pd, uint64_t id);
/* Insert or replace in memory (sorted by id). */
void pd_store_upsert_locked(pd_core *pd, const pd_store *s);
int pd_regions_load(pd_core *pd, bs_err *err);
int pd_gc_load(pd_core *pd, bs_err *err);
void pd_gc_free(pd_core *pd);

/* Installs ri (borrowed, copied) as a heartbeat would: staleness check, overlap removal,
 * persistence of meta changes (with sync as given) before memory changes. Precondition: ri
 * passed pd_region_validate. Returns BS_OK, BS_EINVAL with *stale = true for a stale
 * epoch, or the store's error (nothing changed). */
int pd_region_put_locked(pd_core *pd, const pd_region_info *ri, bool sync, bool *stale,
                         bs_err *err);

/* ---- region tree (region_tree.c) -------------------------------------------------------- */
void pd_rt_init(pd_region_tree *t);
void pd_rt_deinit(pd_region_tree *t); /* frees every entry */
/* The region whose range contains key, or NULL. */
pd_region_info *pd_rt_search(const pd_region_tree *t, bs_slice key);
/* The region immediately before the one containing key, if adjacent; or NULL. */
pd_region_info *pd_rt_search_prev(const pd_region_tree *t, bs_slice key);
pd_region_info *pd_rt_get(const pd_region_tree *t, uint64_t id);
/* by_key indices [*lo, *hi) of the regions overlapping [start, end) (end empty = +∞). */
void pd_rt_overlaps(const pd_region_tree *t, bs_slice start, bs_slice end, size_t *lo, size_t *hi);
/* Index of the first region to visit when scanning from start: the one containing start,
 * else the first starting after it. */
size_t pd_rt_scan_start(const pd_region_tree *t, bs_slice start);
/* Inserts ri (takes ownership). Precondition: no overlap and a new id. */
void pd_rt_insert(pd_region_tree *t, pd_region_info *ri);
/* Removes ri from both indices and returns it (caller owns it now). */
pd_region_info *pd_rt_remove(pd_region_tree *t, pd_region_info *ri);
/* Debug check of every invariant; true when they all hold. */
bool pd_rt_check(const pd_region_tree *t);

/* Region end comparison where an empty end means +∞. */
int pd_end_key_cmp(bs_slice a, bs_slice b);
/* Whether key lies in [start, end). */
bool pd_region_contains(const pd_region *r, bs_slice key);

#endif

/* cluster.c -- opening PD, the cluster id, bootstrap, and error-type names.
 *
 * pd_open assembles PD from its meta store in a fixed order: cluster id (created once),
 * TSO window (pushed ahead of anything issued before), id bound, bootstrap record, stores,
 * regions, GC state. Bootstrap writes the first store, the first region and the cluster
 * record in one synced batch, so a crash leaves a cluster either bootstrapped with both or
 * not bootstrapped at all; presence of the cluster record is the bootstrapped flag, as
 * PD's /pd/{cluster_id}/raft key is. */
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/codec.h"
#include "pd/pd_int.h"

#define CLUSTER_RECORD_V1 1

int64_t pd_now_ms(const pd_core *pd)
{
    int64_t now = pd->opts.clock ? pd->opts.clock(pd->opts.clock_arg) : bs_clock_wall_ms();
    return now < 0 ? 0 : now;
}

void pd_options_init(pd_options *o)
{
    memset(o, 0, sizeof(*o));
    o->tso_save_interval_ms = 3000;
    o->id_step = 1000;
    o->gc_life_time_ms = 10 * 60 * 1000;
    o->max_replicas = 3;
}

pd_error_type pd_error_type_of(int rc)
{
    switch (rc) {
    case BS_OK:
        return PD_ERR_OK;
    case BS_ESTATE:
        return PD_ERR_NOT_BOOTSTRAPPED;
    case BS_EEXIST:
        return PD_ERR_ALREADY_BOOTSTRAPPED;
    default:
        return PD_ERR_UNKNOWN;
    }
}

const char *pd_error_type_name(pd_error_type t)
{
    static const char *const names[] = {
        "OK",
        "UNKNOWN",
        "NOT_BOOTSTRAPPED",
        "STORE_TOMBSTONE",
        "ALREADY_BOOTSTRAPPED",
        "INCOMPATIBLE_VERSION",
        "REGION_NOT_FOUND",
        "GLOBAL_CONFIG_NOT_FOUND",
        "DUPLICATED_ENTRY",
        "ENTRY_NOT_FOUND",
        "INVALID_VALUE",
        "DATA_COMPACTED",
        "REGIONS_NOT_CONTAIN_ALL_KEY_RANGE",
    };
    if ((unsigned)t < sizeof(names) / sizeof(names[0]))
        return names[t];
    return "UNKNOWN";
}

static uint32_t random_u32(const pd_core *pd)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        /* No entropy yet (early boot): the clock and the handle's address still make two
         * clusters started in the same second unlikely to collide. */
        r = (uint32_t)bs_clock_mono_ns() ^ (uint32_t)(uintptr_t)pd;
    }
    return r;
}

static int load_cluster_id(pd_core *pd, bs_err *err)
{
    uint64_t id = 0;
    int rc = pd_meta_get_u64(pd->ms, PD_KEY_CLUSTER_ID, &id, err);
    if (rc == BS_OK) {
        if (id == 0)
            return bs_err_setf(err, BS_ECORRUPT, "persisted cluster id is 0");
        pd->cluster_id = id;
        return BS_OK;
    }
    if (rc != BS_NOTFOUND)
        return pd_wrapf(rc, err, "load cluster id");
    /* PROTOCOL.md §3.2: (unix_seconds << 32) + rand_u32, never 0. */
    do {
        id = ((uint64_t)(pd_now_ms(pd) / 1000) << 32) + random_u32(pd);
    } while (id == 0);
    rc = pd_meta_put_u64(pd->ms, PD_KEY_CLUSTER_ID, id, true, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "save cluster id");
    pd->cluster_id = id;
    return BS_OK;
}

static int load_cluster_meta(pd_core *pd, bs_err *err)
{
    bs_buf b = BS_BUF_INIT;
    int rc = pd_meta_get(pd->ms, bs_slice_from_str(PD_KEY_CLUSTER_META), &b, err);
    if (rc == BS_NOTFOUND) {
        pd->bootstrapped = false;
        pd->max_replicas = pd->opts.max_replicas;
        return BS_OK;
    }
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "load cluster record");
    bs_slice in = bs_buf_slice(&b);
    uint64_t max_replicas = 0;
    if (in.len < 1 || in.ptr[0] != CLUSTER_RECORD_V1)
        rc = BS_ECORRUPT;
    else {
        in.ptr++;
        in.len--;
        rc = bs_varint_read(&in, &max_replicas);
        if (rc == BS_OK && (in.len != 0 || max_replicas == 0 || max_replicas > UINT32_MAX))
            rc = BS_ECORRUPT;
    }
    bs_buf_free(&b);
    if (rc != BS_OK)
        return bs_err_setf(err, BS_ECORRUPT, "cluster record malformed");
    pd->bootstrapped = true;
    pd->max_replicas = (uint32_t)max_replicas;
    return BS_OK;
}

int pd_open(const pd_options *opts, pd_meta_store *ms, pd_core **out, bs_err *err)
{
    pd_options o;
    if (opts)
        o = *opts;
    else
        pd_options_init(&o);
    if (o.tso_save_interval_ms <= 0 || o.id_step == 0 || o.gc_life_time_ms < 0 ||
        o.max_replicas == 0)
        return bs_err_setf(err, BS_EINVAL, "pd options out of range");
    pd_core *p = bs_calloc(1, sizeof(*p));
    p->opts = o;
    p->ms = ms;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->tso.mu, NULL);
    pthread_cond_init(&p->tso.saved, NULL);
    pd_rt_init(&p->regions);
    int rc = load_cluster_id(p, err);
    if (rc == BS_OK)
        rc = pd_tso_open(p, err);
    if (rc == BS_OK)
        rc = pd_ids_load(p, err);
    if (rc == BS_OK)
        rc = load_cluster_meta(p, err);
    if (rc == BS_OK)
        rc = pd_stores_load(p, err);
    if (rc == BS_OK)
        rc = pd_regions_load(p, err);
    if (rc == BS_OK)
        rc = pd_gc_load(p, err);
    if (rc != BS_OK) {
        pd_close(p);
        return pd_wrapf(rc, err, "pd open");
    }
    *out = p;
    return BS_OK;
}

void pd_close(pd_core *pd)
{
    if (!pd)
        return;
    pd_gc_free(pd);
    pd_rt_deinit(&pd->regions);
    pd_stores_free(pd);
    pthread_cond_destroy(&pd->tso.saved);
    pthread_mutex_destroy(&pd->tso.mu);
    pthread_mutex_destroy(&pd->mu);
    bs_free(pd);
}

uint64_t pd_cluster_id(const pd_core *pd)
{
    return pd->cluster_id;
}

bool pd_is_bootstrapped(pd_core *pd)
{
    pthread_mutex_lock(&pd->mu);
    bool b = pd->bootstrapped;
    pthread_mutex_unlock(&pd->mu);
    return b;
}

int pd_get_cluster_config(pd_core *pd, uint32_t *max_peer_count, bs_err *err)
{
    int rc = BS_OK;
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped)
        rc = bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped");
    else
        *max_peer_count = pd->max_replicas;
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

static int set_etype(pd_error_type *etype, pd_error_type t, int rc)
{
    if (etype)
        *etype = t;
    return rc;
}

static int check_bootstrap(const pd_store *store, const pd_region *r, bs_err *err)
{
    if (store->id == 0)
        return bs_err_setf(err, BS_EINVAL, "invalid zero store id");
    if (store->address[0] == '\0')
        return bs_err_setf(err, BS_EINVAL, "store %llu: empty address",
                           (unsigned long long)store->id);
    if (pd_region_validate(r, err) != BS_OK)
        return BS_EINVAL;
    if (r->start_key.len != 0 || r->end_key.len != 0)
        return bs_err_setf(err, BS_EINVAL, "first region must cover every key");
    if (r->n_peers != 1)
        return bs_err_setf(err, BS_EINVAL, "first region must have exactly one peer, has %zu",
                           r->n_peers);
    if (r->peers[0].store_id != store->id)
        return bs_err_setf(err, BS_EINVAL, "first region's peer is on store %llu, not %llu",
                           (unsigned long long)r->peers[0].store_id, (unsigned long long)store->id);
    return BS_OK;
}

int pd_bootstrap(pd_core *pd, const pd_store *store, const pd_region *first_region,
                 pd_error_type *etype, bs_err *err)
{
    pthread_mutex_lock(&pd->mu);
    if (pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_ALREADY_BOOTSTRAPPED,
                         bs_err_setf(err, BS_EEXIST, "cluster %llu is already bootstrapped",
                                     (unsigned long long)pd->cluster_id));
    }
    int rc = check_bootstrap(store, first_region, err);
    if (rc != BS_OK) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_UNKNOWN, rc);
    }
    pd_store s = *store;
    s.state = PD_STORE_UP;
    s.node_state = PD_NODE_SERVING;
    s.last_heartbeat = pd_now_ms(pd) * 1000000;
    pd_region_info *ri = bs_malloc(sizeof(*ri));
    pd_region_info_init(ri);
    pd_region_copy(&ri->region, first_region);
    ri->has_leader = true; /* a one-peer region's only peer leads it */
    ri->leader = first_region->peers[0];

    bs_buf meta = BS_BUF_INIT, skey = BS_BUF_INIT, sval = BS_BUF_INIT, rkey = BS_BUF_INIT,
           rval = BS_BUF_INIT;
    bs_buf_append_byte(&meta, CLUSTER_RECORD_V1);
    bs_varint_append(&meta, pd->opts.max_replicas);
    pd_meta_id_key(&skey, PD_PREFIX_STORE, s.id);
    pd_store_encode(&s, &sval);
    pd_meta_id_key(&rkey, PD_PREFIX_REGION, ri->region.id);
    pd_region_encode(&ri->region, &rval);
    pd_meta_op ops[3] = {
        {PD_META_PUT, bs_buf_slice(&skey), bs_buf_slice(&sval)},
        {PD_META_PUT, bs_buf_slice(&rkey), bs_buf_slice(&rval)},
        {PD_META_PUT, bs_slice_from_str(PD_KEY_CLUSTER_META), bs_buf_slice(&meta)},
    };
    rc = pd_meta_write(pd->ms, ops, 3, true, err);
    bs_buf_free(&meta);
    bs_buf_free(&skey);
    bs_buf_free(&sval);
    bs_buf_free(&rkey);
    bs_buf_free(&rval);
    if (rc != BS_OK) {
        pd_region_info_deinit(ri);
        bs_free(ri);
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_UNKNOWN, pd_wrapf(rc, err, "bootstrap"));
    }
    /* A crashed earlier attempt can leave nothing behind (the batch is atomic), so the
     * tables are empty here. */
    pd_store_upsert_locked(pd, &s);
    pd_rt_insert(&pd->regions, ri);
    pd->bootstrapped = true;
    pd->max_replicas = pd->opts.max_replicas;
    pthread_mutex_unlock(&pd->mu);
    return set_etype(etype, PD_ERR_OK, BS_OK);
}

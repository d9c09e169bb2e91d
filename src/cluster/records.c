/* records.c -- the values stored under the local keys of keys.c, and region helpers.
 *
 * TiKV stores protobufs here (StoreIdent, RaftLocalState, RaftApplyState, RegionLocalState,
 * eraftpb.Entry); Basalt has no protobuf below the wire edges, so each record is a short
 * version byte followed by varints and compact bytes (common/codec.h). The version byte
 * lets a later release add fields. Bytes read back are input: every decoder bounds-checks
 * and returns BS_ECORRUPT rather than asserting. */
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/codec.h"

#define REC_V1 1

static int corrupt(bs_err *err, const char *what)
{
    return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt %s record", what);
}

static int read_version(bs_slice *in)
{
    if (in->len < 1 || in->ptr[0] != REC_V1)
        return BS_ECORRUPT;
    in->ptr++;
    in->len--;
    return BS_OK;
}

void cluster_store_ident_encode(bs_buf *out, const cluster_store_ident *v)
{
    bs_buf_append_byte(out, REC_V1);
    bs_varint_append(out, v->cluster_id);
    bs_varint_append(out, v->store_id);
}

int cluster_store_ident_decode(bs_slice in, cluster_store_ident *v, bs_err *err)
{
    if (read_version(&in) || bs_varint_read(&in, &v->cluster_id) ||
        bs_varint_read(&in, &v->store_id) || v->store_id == 0)
        return corrupt(err, "store ident");
    return BS_OK;
}

void cluster_raft_state_encode(bs_buf *out, const cluster_raft_state *v)
{
    bs_buf_append_byte(out, REC_V1);
    bs_varint_append(out, v->hs.term);
    bs_varint_append(out, v->hs.vote);
    bs_varint_append(out, v->hs.commit);
    bs_varint_append(out, v->last_index);
}

int cluster_raft_state_decode(bs_slice in, cluster_raft_state *v, bs_err *err)
{
    if (read_version(&in) || bs_varint_read(&in, &v->hs.term) ||
        bs_varint_read(&in, &v->hs.vote) || bs_varint_read(&in, &v->hs.commit) ||
        bs_varint_read(&in, &v->last_index))
        return corrupt(err, "raft state");
    return BS_OK;
}

void cluster_apply_state_encode(bs_buf *out, const cluster_apply_state *v)
{
    bs_buf_append_byte(out, REC_V1);
    bs_varint_append(out, v->applied);
    bs_varint_append(out, v->truncated_index);
    bs_varint_append(out, v->truncated_term);
}

int cluster_apply_state_decode(bs_slice in, cluster_apply_state *v, bs_err *err)
{
    if (read_version(&in) || bs_varint_read(&in, &v->applied) ||
        bs_varint_read(&in, &v->truncated_index) || bs_varint_read(&in, &v->truncated_term) ||
        v->truncated_index > v->applied)
        return corrupt(err, "apply state");
    return BS_OK;
}

void cluster_region_state_encode(bs_buf *out, cluster_peer_state st, const cluster_region *r)
{
    bs_buf_append_byte(out, REC_V1);
    bs_buf_append_byte(out, (uint8_t)st);
    bs_varint_append(out, r->id);
    bs_compact_bytes_append(out, bs_buf_slice(&r->start_key));
    bs_compact_bytes_append(out, bs_buf_slice(&r->end_key));
    bs_varint_append(out, r->epoch.conf_ver);
    bs_varint_append(out, r->epoch.version);
    bs_varint_append(out, r->n_peers);
    for (size_t i = 0; i < r->n_peers; i++) {
        bs_varint_append(out, r->peers[i].id);
        bs_varint_append(out, r->peers[i].store_id);
        bs_buf_append_byte(out, (uint8_t)r->peers[i].role);
    }
}

int cluster_region_state_decode(bs_slice in, cluster_peer_state *st, cluster_region *r,
                                bs_err *err)
{
    uint64_t id, cv, ver, n;
    bs_slice sk, ek;
    if (read_version(&in) || in.len < 1)
        return corrupt(err, "region state");
    *st = (cluster_peer_state)in.ptr[0];
    in.ptr++;
    in.len--;
    if (bs_varint_read(&in, &id) || bs_compact_bytes_read(&in, &sk) ||
        bs_compact_bytes_read(&in, &ek) || bs_varint_read(&in, &cv) ||
        bs_varint_read(&in, &ver) || bs_varint_read(&in, &n) || n > RAFT_MAX_CONF * 2 ||
        id == 0)
        return corrupt(err, "region state");
    cluster_peer peers[RAFT_MAX_CONF * 2];
    for (uint64_t i = 0; i < n; i++) {
        memset(&peers[i], 0, sizeof(peers[i]));
        if (bs_varint_read(&in, &peers[i].id) || bs_varint_read(&in, &peers[i].store_id) ||
            in.len < 1)
            return corrupt(err, "region state");
        peers[i].role = (pd_peer_role)in.ptr[0];
        in.ptr++;
        in.len--;
    }
    pd_region_set(r, id, sk, ek, (cluster_epoch){cv, ver}, peers, (size_t)n);
    return BS_OK;
}

void cluster_entry_encode(bs_buf *out, const raft_entry *e)
{
    bs_buf_append_byte(out, REC_V1);
    bs_varint_append(out, e->term);
    bs_buf_append_byte(out, (uint8_t)e->type);
    bs_buf_append_slice(out, e->data);
}

int cluster_entry_decode(bs_slice in, uint64_t index, raft_entry *e, bs_err *err)
{
    uint64_t term;
    if (read_version(&in) || bs_varint_read(&in, &term) || in.len < 1 ||
        in.ptr[0] > RAFT_ENTRY_CONF_CHANGE_V2)
        return corrupt(err, "raft entry");
    memset(e, 0, sizeof(*e));
    e->term = term;
    e->index = index;
    e->type = (raft_entry_type)in.ptr[0];
    raft_entry_set_data(e, in.ptr + 1, in.len - 1);
    return BS_OK;
}

void cluster_region_conf_state(const cluster_region *r, raft_conf_state *cs)
{
    memset(cs, 0, sizeof(*cs));
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].role == PD_PEER_LEARNER) {
            if (cs->n_learners < RAFT_MAX_CONF)
                cs->learners[cs->n_learners++] = r->peers[i].id;
        } else if (cs->n_voters < RAFT_MAX_CONF) {
            cs->voters[cs->n_voters++] = r->peers[i].id;
        }
    }
}

const cluster_peer *cluster_region_find_store_peer(const cluster_region *r, uint64_t store_id)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].store_id == store_id)
            return &r->peers[i];
    return NULL;
}

const cluster_peer *cluster_region_find_peer(const cluster_region *r, uint64_t peer_id)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].id == peer_id)
            return &r->peers[i];
    return NULL;
}

bool cluster_region_contains(const cluster_region *r, bs_slice key)
{
    if (bs_slice_cmp(key, bs_buf_slice(&r->start_key)) < 0)
        return false;
    return r->end_key.len == 0 || bs_slice_cmp(key, bs_buf_slice(&r->end_key)) < 0;
}

/* record.c -- the binary records PD keeps in its meta store: regions and stores.
 *
 * Records start with a format version byte, then varints (LEB128) and compact byte strings
 * (common/codec.h), so fields can be added by bumping the version. Decoding treats the bytes
 * as input, not invariants: anything short, out of range or trailing is BS_ECORRUPT with a
 * message, never an assert. This file also validates regions arriving from the network,
 * because a region that would not survive a round trip here must not get in. */
#include <string.h>

#include "common/codec.h"
#include "pd/pd_int.h"

#define REGION_RECORD_V1 1
#define STORE_RECORD_V1 1
#define MAX_PEERS 1024 /* far above any replica count; bounds hostile input */

static void put_str(bs_buf *out, const char *s)
{
    bs_compact_bytes_append(out, bs_slice_from_str(s));
}

void pd_region_encode(const pd_region *r, bs_buf *out)
{
    bs_buf_reset(out);
    bs_buf_append_byte(out, REGION_RECORD_V1);
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
        bs_buf_append_byte(out, r->peers[i].is_witness ? 1 : 0);
    }
}

static int read_byte(bs_slice *in, uint8_t *b)
{
    if (in->len < 1)
        return BS_ECORRUPT;
    *b = in->ptr[0];
    in->ptr++;
    in->len--;
    return BS_OK;
}

int pd_region_decode(bs_slice in, pd_region *r, bs_err *err)
{
    uint8_t ver = 0;
    uint64_t id = 0, n = 0;
    bs_slice start, end;
    pd_region_epoch ep;
    int rc = read_byte(&in, &ver);
    if (rc == BS_OK && ver != REGION_RECORD_V1)
        return bs_err_setf(err, BS_ECORRUPT, "region record: unknown version %u", ver);
    if (rc == BS_OK)
        rc = bs_varint_read(&in, &id);
    if (rc == BS_OK)
        rc = bs_compact_bytes_read(&in, &start);
    if (rc == BS_OK)
        rc = bs_compact_bytes_read(&in, &end);
    if (rc == BS_OK)
        rc = bs_varint_read(&in, &ep.conf_ver);
    if (rc == BS_OK)
        rc = bs_varint_read(&in, &ep.version);
    if (rc == BS_OK)
        rc = bs_varint_read(&in, &n);
    if (rc != BS_OK)
        return bs_err_setf(err, BS_ECORRUPT, "region record: truncated header");
    if (n > MAX_PEERS)
        return bs_err_setf(err, BS_ECORRUPT, "region record %llu: %llu peers",
                           (unsigned long long)id, (unsigned long long)n);
    pd_peer *peers = n ? bs_calloc((size_t)n, sizeof(*peers)) : NULL;
    for (uint64_t i = 0; i < n && rc == BS_OK; i++) {
        uint8_t role = 0, witness = 0;
        rc = bs_varint_read(&in, &peers[i].id);
        if (rc == BS_OK)
            rc = bs_varint_read(&in, &peers[i].store_id);
        if (rc == BS_OK)
            rc = read_byte(&in, &role);
        if (rc == BS_OK)
            rc = read_byte(&in, &witness);
        if (rc == BS_OK && (role > PD_PEER_DEMOTING_VOTER || witness > 1))
            rc = BS_ECORRUPT;
        peers[i].role = (pd_peer_role)role;
        peers[i].is_witness = witness != 0;
    }
    if (rc == BS_OK && in.len != 0)
        rc = BS_ECORRUPT;
    if (rc != BS_OK) {
        bs_free(peers);
        return bs_err_setf(err, BS_ECORRUPT, "region record %llu: bad peers or trailing bytes",
                           (unsigned long long)id);
    }
    pd_region_set(r, id, start, end, ep, peers, (size_t)n);
    bs_free(peers);
    return pd_region_validate(r, err) == BS_OK
               ? BS_OK
               : bs_err_setf(err, BS_ECORRUPT, "region record %llu: invalid region",
                             (unsigned long long)id);
}

void pd_store_encode(const pd_store *s, bs_buf *out)
{
    bs_buf_reset(out);
    bs_buf_append_byte(out, STORE_RECORD_V1);
    bs_varint_append(out, s->id);
    put_str(out, s->address);
    put_str(out, s->peer_address);
    put_str(out, s->status_address);
    put_str(out, s->version);
    put_str(out, s->git_hash);
    put_str(out, s->deploy_path);
    bs_buf_append_byte(out, (uint8_t)s->state);
    bs_buf_append_byte(out, (uint8_t)s->node_state);
    bs_u64_be_append(out, (uint64_t)s->start_timestamp);
    bs_u64_be_append(out, (uint64_t)s->last_heartbeat);
    bs_buf_append_byte(out, s->physically_destroyed ? 1 : 0);
}

/* Reads a compact string into dst[cap] with a NUL; the string must fit and hold no NUL. */
static int read_str(bs_slice *in, char *dst, size_t cap)
{
    bs_slice s;
    if (bs_compact_bytes_read(in, &s) != BS_OK || s.len >= cap ||
        (s.len && memchr(s.ptr, '\0', s.len)))
        return BS_ECORRUPT;
    if (s.len)
        memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return BS_OK;
}

int pd_store_decode(bs_slice in, pd_store *s, bs_err *err)
{
    pd_store st;
    memset(&st, 0, sizeof(st));
    uint8_t ver = 0, state = 0, node = 0, destroyed = 0;
    uint64_t start_ts = 0, last_hb = 0;
    int rc = read_byte(&in, &ver);
    if (rc == BS_OK && ver != STORE_RECORD_V1)
        return bs_err_setf(err, BS_ECORRUPT, "store record: unknown version %u", ver);
    if (rc == BS_OK)
        rc = bs_varint_read(&in, &st.id);
    if (rc == BS_OK)
        rc = read_str(&in, st.address, sizeof(st.address));
    if (rc == BS_OK)
        rc = read_str(&in, st.peer_address, sizeof(st.peer_address));
    if (rc == BS_OK)
        rc = read_str(&in, st.status_address, sizeof(st.status_address));
    if (rc == BS_OK)
        rc = read_str(&in, st.version, sizeof(st.version));
    if (rc == BS_OK)
        rc = read_str(&in, st.git_hash, sizeof(st.git_hash));
    if (rc == BS_OK)
        rc = read_str(&in, st.deploy_path, sizeof(st.deploy_path));
    if (rc == BS_OK)
        rc = read_byte(&in, &state);
    if (rc == BS_OK)
        rc = read_byte(&in, &node);
    if (rc == BS_OK)
        rc = bs_u64_be_read(&in, &start_ts);
    if (rc == BS_OK)
        rc = bs_u64_be_read(&in, &last_hb);
    if (rc == BS_OK)
        rc = read_byte(&in, &destroyed);
    if (rc == BS_OK && (in.len != 0 || state > PD_STORE_TOMBSTONE || node > PD_NODE_REMOVED ||
                        destroyed > 1 || st.id == 0))
        rc = BS_ECORRUPT;
    if (rc != BS_OK)
        return bs_err_setf(err, BS_ECORRUPT, "store record %llu: malformed",
                           (unsigned long long)st.id);
    st.state = (pd_store_state)state;
    st.node_state = (pd_node_state)node;
    st.start_timestamp = (int64_t)start_ts;
    st.last_heartbeat = (int64_t)last_hb;
    st.physically_destroyed = destroyed != 0;
    *s = st;
    return BS_OK;
}

int pd_region_validate(const pd_region *r, bs_err *err)
{
    if (r->id == 0)
        return bs_err_setf(err, BS_EINVAL, "invalid zero region id");
    if (r->end_key.len != 0 &&
        bs_slice_cmp(bs_buf_slice(&r->start_key), bs_buf_slice(&r->end_key)) >= 0)
        return bs_err_setf(err, BS_EINVAL, "region %llu: start key not below end key",
                           (unsigned long long)r->id);
    if (r->n_peers > MAX_PEERS)
        return bs_err_setf(err, BS_EINVAL, "region %llu: %zu peers", (unsigned long long)r->id,
                           r->n_peers);
    for (size_t i = 0; i < r->n_peers; i++) {
        const pd_peer *p = &r->peers[i];
        if (p->id == 0 || p->store_id == 0 || (unsigned)p->role > PD_PEER_DEMOTING_VOTER)
            return bs_err_setf(err, BS_EINVAL, "region %llu: invalid peer %zu",
                               (unsigned long long)r->id, i);
        for (size_t j = 0; j < i; j++)
            if (r->peers[j].id == p->id || r->peers[j].store_id == p->store_id)
                return bs_err_setf(err, BS_EINVAL, "region %llu: duplicate peer id or store",
                                   (unsigned long long)r->id);
    }
    return BS_OK;
}

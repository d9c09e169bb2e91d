/* command.c -- the bytes of a Region's Raft entry: a small header and a command body.
 *
 * Header: kind byte, proposal id, the Region epoch (conf_ver, version) at propose time, as
 * varints. The epoch lets apply reject a command whose Region changed shape after it was
 * proposed (TiKV checks the epoch again at apply). Bodies:
 *   WRITE        varint n, then n ops: type byte, cf byte, compact key, compact value
 *                (a kv_batch serialized through kv_batch_iterate);
 *   COMPACT_LOG  varint index, varint term (the new truncated state);
 *   BATCH_SPLIT  byte right_derive, varint n, varint peers_per_split, then n times:
 *                compact split key, varint new region id, peers_per_split varint peer ids.
 * Entry bytes come from the log (disk or a peer), so decoding validates everything. */
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/codec.h"

/* PD's own bound on one AskBatchSplit (pd/split.c). */
#define MAX_SPLITS 10000

static void encode_header(bs_buf *out, const cluster_cmd_header *h)
{
    bs_buf_append_byte(out, (uint8_t)h->kind);
    bs_varint_append(out, h->proposal_id);
    bs_varint_append(out, h->epoch.conf_ver);
    bs_varint_append(out, h->epoch.version);
}

static int encode_op(void *arg, const kv_op *op)
{
    bs_buf *out = arg;
    bs_buf_append_byte(out, (uint8_t)op->type);
    bs_buf_append_byte(out, (uint8_t)op->cf);
    bs_compact_bytes_append(out, op->key);
    bs_compact_bytes_append(out, op->value);
    return BS_OK;
}

void cluster_cmd_encode_write(bs_buf *out, const cluster_cmd_header *h, const kv_batch *b)
{
    encode_header(out, h);
    bs_varint_append(out, kv_batch_count(b));
    (void)kv_batch_iterate(b, encode_op, out); /* encode_op never fails */
}

void cluster_cmd_encode_compact(bs_buf *out, const cluster_cmd_header *h, uint64_t index,
                                uint64_t term)
{
    encode_header(out, h);
    bs_varint_append(out, index);
    bs_varint_append(out, term);
}

int cluster_cmd_decode_header(bs_slice in, cluster_cmd_header *h, bs_slice *body, bs_err *err)
{
    if (in.len < 1 || (in.ptr[0] != CLUSTER_CMD_WRITE && in.ptr[0] != CLUSTER_CMD_COMPACT_LOG &&
                       in.ptr[0] != CLUSTER_CMD_BATCH_SPLIT))
        return bs_err_setf(err, BS_ECORRUPT, "cluster: unknown command kind");
    h->kind = (cluster_cmd_kind)in.ptr[0];
    in.ptr++;
    in.len--;
    if (bs_varint_read(&in, &h->proposal_id) || bs_varint_read(&in, &h->epoch.conf_ver) ||
        bs_varint_read(&in, &h->epoch.version))
        return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt command header");
    *body = in;
    return BS_OK;
}

int cluster_cmd_decode_write(bs_slice body, kv_batch *b, bs_err *err)
{
    uint64_t n;
    if (bs_varint_read(&body, &n))
        return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt write command");
    for (uint64_t i = 0; i < n; i++) {
        bs_slice k, v;
        if (body.len < 2)
            return bs_err_setf(err, BS_ECORRUPT, "cluster: truncated write command");
        uint8_t type = body.ptr[0], cf = body.ptr[1];
        body.ptr += 2;
        body.len -= 2;
        if (cf >= KV_CF_COUNT || bs_compact_bytes_read(&body, &k) ||
            bs_compact_bytes_read(&body, &v))
            return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt write op %llu",
                               (unsigned long long)i);
        switch (type) {
        case KV_OP_PUT:
            kv_batch_put(b, (kv_cf)cf, k, v);
            break;
        case KV_OP_DELETE:
            kv_batch_delete(b, (kv_cf)cf, k);
            break;
        case KV_OP_DELETE_RANGE:
            kv_batch_delete_range(b, (kv_cf)cf, k, v);
            break;
        default:
            return bs_err_setf(err, BS_ECORRUPT, "cluster: unknown write op type %u", type);
        }
    }
    if (body.len != 0)
        return bs_err_setf(err, BS_ECORRUPT, "cluster: trailing bytes in write command");
    return BS_OK;
}

int cluster_cmd_decode_compact(bs_slice body, uint64_t *index, uint64_t *term, bs_err *err)
{
    if (bs_varint_read(&body, index) || bs_varint_read(&body, term) || body.len != 0)
        return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt compact-log command");
    return BS_OK;
}

void cluster_batch_split_deinit(cluster_batch_split *bs)
{
    if (!bs)
        return;
    bs_free(bs->keys);
    bs_free(bs->region_ids);
    bs_free(bs->peer_ids);
    memset(bs, 0, sizeof(*bs));
}

void cluster_cmd_encode_batch_split(bs_buf *out, const cluster_cmd_header *h,
                                    const cluster_batch_split *bs)
{
    encode_header(out, h);
    bs_buf_append_byte(out, bs->right_derive ? 1 : 0);
    bs_varint_append(out, bs->n);
    bs_varint_append(out, bs->peers_per_split);
    for (size_t k = 0; k < bs->n; k++) {
        bs_compact_bytes_append(out, bs->keys[k]);
        bs_varint_append(out, bs->region_ids[k]);
        for (size_t j = 0; j < bs->peers_per_split; j++)
            bs_varint_append(out, bs->peer_ids[k * bs->peers_per_split + j]);
    }
}

int cluster_cmd_decode_batch_split(bs_slice body, cluster_batch_split *bs, bs_err *err)
{
    cluster_batch_split_deinit(bs);
    uint64_t n, pps;
    if (body.len < 1 || body.ptr[0] > 1)
        return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt batch split command");
    bs->right_derive = body.ptr[0] == 1;
    body.ptr++;
    body.len--;
    if (bs_varint_read(&body, &n) || bs_varint_read(&body, &pps) || n == 0 || n > MAX_SPLITS ||
        pps == 0 || pps > 2 * RAFT_MAX_CONF)
        return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt batch split command");
    bs->n = (size_t)n;
    bs->peers_per_split = (size_t)pps;
    bs->keys = bs_calloc(bs->n, sizeof(bs_slice));
    bs->region_ids = bs_calloc(bs->n, sizeof(uint64_t));
    bs->peer_ids = bs_calloc(bs->n * bs->peers_per_split, sizeof(uint64_t));
    for (size_t k = 0; k < bs->n; k++) {
        if (bs_compact_bytes_read(&body, &bs->keys[k]) ||
            bs_varint_read(&body, &bs->region_ids[k]) || bs->region_ids[k] == 0)
            goto corrupt;
        for (size_t j = 0; j < bs->peers_per_split; j++) {
            uint64_t *pid = &bs->peer_ids[k * bs->peers_per_split + j];
            if (bs_varint_read(&body, pid) || *pid == 0)
                goto corrupt;
        }
    }
    if (body.len != 0)
        goto corrupt;
    return BS_OK;
corrupt:
    cluster_batch_split_deinit(bs);
    return bs_err_setf(err, BS_ECORRUPT, "cluster: corrupt batch split command");
}

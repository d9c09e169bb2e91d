/* keys.c -- the local (non-data) keys of a store in CF raft.
 *
 * Basalt keeps TiKV's layout (PROTOCOL.md §4.4) so tooling that knows it finds things where
 * it expects: store ident 01 01; per Region the raft log 01 02 <rid> 01 <index>, the raft
 * state 01 02 <rid> 02, the apply state 01 02 <rid> 03, and the region state 01 03 <rid> 01.
 * Ids and indexes are big-endian, so one Region's log entries sort by index and a range
 * delete can drop a prefix of the log. The values are Basalt's own records (records.c). */
#include "cluster/cluster_int.h"
#include "common/codec.h"

void cluster_key_store_ident(bs_buf *out)
{
    bs_buf_append(out, "\x01\x01", 2);
}

static void region_prefix(bs_buf *out, uint8_t kind, uint64_t region_id, uint8_t suffix)
{
    uint8_t p[2] = {0x01, kind};
    bs_buf_append(out, p, 2);
    bs_u64_be_append(out, region_id);
    bs_buf_append_byte(out, suffix);
}

void cluster_key_raft_log(bs_buf *out, uint64_t region_id, uint64_t index)
{
    region_prefix(out, 0x02, region_id, 0x01);
    bs_u64_be_append(out, index);
}

void cluster_key_raft_state(bs_buf *out, uint64_t region_id)
{
    region_prefix(out, 0x02, region_id, 0x02);
}

void cluster_key_apply_state(bs_buf *out, uint64_t region_id)
{
    region_prefix(out, 0x02, region_id, 0x03);
}

void cluster_key_region_state(bs_buf *out, uint64_t region_id)
{
    region_prefix(out, 0x03, region_id, 0x01);
}

void cluster_key_region_state_range(bs_buf *lo, bs_buf *hi)
{
    bs_buf_append(lo, "\x01\x03", 2);
    bs_buf_append(hi, "\x01\x04", 2);
}

int cluster_key_region_state_id(bs_slice key, uint64_t *region_id)
{
    if (key.len != 11 || key.ptr[0] != 0x01 || key.ptr[1] != 0x03 || key.ptr[10] != 0x01)
        return BS_ECORRUPT;
    *region_id = bs_u64_be_get(key.ptr + 2);
    return BS_OK;
}

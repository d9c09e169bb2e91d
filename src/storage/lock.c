/* lock.c -- Percolator lock records (CF lock), byte-compatible with TiKV's
 * txn_types::Lock::to_bytes / Lock::parse (PROTOCOL.md §5.1).
 *
 * Layout: type ‖ compact(primary) ‖ varint(start_ts) ‖ varint(ttl) ‖ tagged optional fields
 * in TiKV's order ('v' 'f' 't' 'c' 'a' 'r' 'l' 's' 'F' 'g'), then Basalt's own 'V' field
 * carrying a pending value of any size (MULTI/EXEC prewrites values of any length into
 * the lock). TiKV's parser stops at the first tag it does not know, so 'V' must come last
 * for a TiKV reader to see every TiKV field. Our parser stops at unknown tags too (forward
 * compatible) but, unlike TiKV (which panics on a short 'v'), rejects truncated fields. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv.h"

static bool lock_type_ok(int t)
{
    return t == KV_LOCK_PUT || t == KV_LOCK_DELETE || t == KV_LOCK_LOCK || t == KV_LOCK_PESSIMISTIC;
}

void kv_lock_init(kv_lock *l)
{
    memset(l, 0, sizeof(*l));
    l->type = KV_LOCK_PUT;
}

void kv_lock_encode(bs_buf *out, const kv_lock *l)
{
    BS_ASSERT(lock_type_ok(l->type));
    bs_buf_append_byte(out, (uint8_t)l->type);
    bs_compact_bytes_append(out, l->primary);
    bs_varint_append(out, l->start_ts);
    bs_varint_append(out, l->ttl);
    if (l->has_short_value) {
        BS_ASSERT(l->short_value.len <= KV_SHORT_VALUE_MAX);
        bs_buf_append_byte(out, 'v');
        bs_buf_append_byte(out, (uint8_t)l->short_value.len);
        bs_buf_append_slice(out, l->short_value);
    }
    if (l->for_update_ts) {
        bs_buf_append_byte(out, 'f');
        bs_u64_be_append(out, l->for_update_ts);
    }
    if (l->txn_size) {
        bs_buf_append_byte(out, 't');
        bs_u64_be_append(out, l->txn_size);
    }
    if (l->min_commit_ts) {
        bs_buf_append_byte(out, 'c');
        bs_u64_be_append(out, l->min_commit_ts);
    }
    if (l->use_async_commit) {
        bs_buf_append_byte(out, 'a');
        bs_varint_append(out, l->n_secondaries);
        if (l->secondaries) {
            for (size_t i = 0; i < l->n_secondaries; i++)
                bs_compact_bytes_append(out, l->secondaries[i]);
        } else {
            /* Re-encoding a decoded lock: the list is still in its encoded form. */
            bs_buf_append_slice(out, l->secondaries_raw);
        }
    }
    if (l->n_rollback_ts) {
        bs_buf_append_byte(out, 'r');
        bs_varint_append(out, l->n_rollback_ts);
        for (size_t i = 0; i < l->n_rollback_ts; i++)
            bs_u64_be_append(out, kv_lock_rollback_ts_at(l, i));
    }
    if (l->last_change_ts || l->versions_to_last_change) {
        bs_buf_append_byte(out, 'l');
        bs_u64_be_append(out, l->last_change_ts);
        bs_varint_append(out, l->versions_to_last_change);
    }
    if (l->txn_source) {
        bs_buf_append_byte(out, 's');
        bs_varint_append(out, l->txn_source);
    }
    if (l->is_locked_with_conflict)
        bs_buf_append_byte(out, 'F');
    if (l->generation) {
        bs_buf_append_byte(out, 'g');
        bs_u64_be_append(out, l->generation);
    }
    if (l->has_basalt_value) {
        bs_buf_append_byte(out, KV_LOCK_TAG_BASALT_VALUE);
        bs_varint_append(out, l->basalt_value.len);
        bs_buf_append_slice(out, l->basalt_value);
    }
}

int kv_lock_secondary_next(bs_slice *cursor, bs_slice *key)
{
    return bs_compact_bytes_read(cursor, key);
}

uint64_t kv_lock_rollback_ts_at(const kv_lock *l, size_t i)
{
    BS_ASSERT(i < l->n_rollback_ts);
    if (l->rollback_ts)
        return l->rollback_ts[i];
    BS_ASSERT(l->rollback_ts_raw.len >= (i + 1) * 8);
    return bs_u64_be_get(l->rollback_ts_raw.ptr + i * 8);
}

#define BAD(what) bs_err_setf(err, BS_ECORRUPT, "lock record: %s", what)

int kv_lock_decode(bs_slice in, kv_lock *out, bs_err *err)
{
    bs_slice b = in;
    uint64_t n;

    kv_lock_init(out);
    if (b.len == 0)
        return BAD("empty");
    if (!lock_type_ok(b.ptr[0]))
        return bs_err_setf(err, BS_ECORRUPT, "lock record: unknown type 0x%02x", b.ptr[0]);
    out->type = (kv_lock_type)b.ptr[0];
    b.ptr++;
    b.len--;
    if (bs_compact_bytes_read(&b, &out->primary) != BS_OK)
        return BAD("bad primary");
    if (bs_varint_read(&b, &out->start_ts) != BS_OK)
        return BAD("bad start_ts");
    if (b.len == 0)
        return BS_OK; /* very old records have no ttl */
    if (bs_varint_read(&b, &out->ttl) != BS_OK)
        return BAD("bad ttl");

    while (b.len) {
        uint8_t tag = b.ptr[0];
        bs_slice f = {b.ptr + 1, b.len - 1}; /* cursor after the tag */
        switch (tag) {
        case 'v':
            if (f.len < 1 || f.len - 1 < f.ptr[0])
                return BAD("truncated short value");
            out->has_short_value = true;
            out->short_value = bs_slice_make(f.ptr + 1, f.ptr[0]);
            f.ptr += 1 + (size_t)out->short_value.len;
            f.len -= 1 + (size_t)out->short_value.len;
            break;
        case 'f':
            if (bs_u64_be_read(&f, &out->for_update_ts) != BS_OK)
                return BAD("truncated for_update_ts");
            break;
        case 't':
            if (bs_u64_be_read(&f, &out->txn_size) != BS_OK)
                return BAD("truncated txn_size");
            break;
        case 'c':
            if (bs_u64_be_read(&f, &out->min_commit_ts) != BS_OK)
                return BAD("truncated min_commit_ts");
            break;
        case 'a': {
            if (bs_varint_read(&f, &n) != BS_OK)
                return BAD("bad secondaries count");
            /* Each secondary takes at least one byte, which bounds n before looping. */
            if (n > f.len)
                return BAD("secondaries count exceeds record");
            const uint8_t *start = f.ptr;
            for (uint64_t i = 0; i < n; i++) {
                bs_slice k;
                if (bs_compact_bytes_read(&f, &k) != BS_OK)
                    return BAD("bad secondary key");
            }
            out->use_async_commit = true;
            out->n_secondaries = (size_t)n;
            out->secondaries = NULL;
            out->secondaries_raw = bs_slice_make(start, (size_t)(f.ptr - start));
            break;
        }
        case 'r':
            if (bs_varint_read(&f, &n) != BS_OK)
                return BAD("bad rollback_ts count");
            if (n > f.len / 8)
                return BAD("truncated rollback_ts list");
            out->n_rollback_ts = (size_t)n;
            out->rollback_ts = NULL;
            out->rollback_ts_raw = bs_slice_make(f.ptr, (size_t)n * 8);
            f.ptr += n * 8;
            f.len -= n * 8;
            break;
        case 'l':
            if (bs_u64_be_read(&f, &out->last_change_ts) != BS_OK ||
                bs_varint_read(&f, &out->versions_to_last_change) != BS_OK)
                return BAD("truncated last_change");
            break;
        case 's':
            if (bs_varint_read(&f, &out->txn_source) != BS_OK)
                return BAD("bad txn_source");
            break;
        case 'F':
            out->is_locked_with_conflict = true;
            break;
        case 'g':
            if (bs_u64_be_read(&f, &out->generation) != BS_OK)
                return BAD("truncated generation");
            break;
        case KV_LOCK_TAG_BASALT_VALUE:
            if (bs_varint_read(&f, &n) != BS_OK || n > f.len)
                return BAD("truncated pending value");
            out->has_basalt_value = true;
            out->basalt_value = bs_slice_make(f.ptr, (size_t)n);
            f.ptr += n;
            f.len -= n;
            break;
        default:
            return BS_OK; /* unknown tag: a newer writer's field; stop here */
        }
        b = f;
    }
    return BS_OK;
}

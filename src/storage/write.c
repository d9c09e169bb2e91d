/* write.c -- Percolator write records (CF write), byte-compatible with TiKV's
 * txn_types::Write::to_bytes / WriteRef::parse (PROTOCOL.md §5.1).
 *
 * Layout: type ‖ varint(start_ts) ‖ optional 'v' len(1) short_value, 'R' (overlapped
 * rollback), 'F' u64 gc_fence, 'l' u64 last_change_ts varint versions, 'S' varint
 * txn_source. A protected rollback is a Rollback with short value "p": it must survive
 * rollback collapsing because it guards a primary key against a late prewrite. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv.h"

static bool write_type_ok(int t)
{
    return t == KV_WRITE_PUT || t == KV_WRITE_DELETE || t == KV_WRITE_LOCK ||
           t == KV_WRITE_ROLLBACK;
}

void kv_write_init(kv_write *w)
{
    memset(w, 0, sizeof(*w));
    w->type = KV_WRITE_PUT;
}

void kv_write_init_rollback(kv_write *w, uint64_t start_ts, bool protected_)
{
    kv_write_init(w);
    w->type = KV_WRITE_ROLLBACK;
    w->start_ts = start_ts;
    if (protected_) {
        w->has_short_value = true;
        w->short_value = bs_slice_make("p", 1);
    }
}

bool kv_write_is_protected_rollback(const kv_write *w)
{
    return w->type == KV_WRITE_ROLLBACK && w->has_short_value &&
           bs_slice_eq(w->short_value, bs_slice_make("p", 1));
}

void kv_write_encode(bs_buf *out, const kv_write *w)
{
    BS_ASSERT(write_type_ok(w->type));
    bs_buf_append_byte(out, (uint8_t)w->type);
    bs_varint_append(out, w->start_ts);
    if (w->has_short_value) {
        BS_ASSERT(w->short_value.len <= KV_SHORT_VALUE_MAX);
        bs_buf_append_byte(out, 'v');
        bs_buf_append_byte(out, (uint8_t)w->short_value.len);
        bs_buf_append_slice(out, w->short_value);
    }
    if (w->has_overlapped_rollback)
        bs_buf_append_byte(out, 'R');
    if (w->has_gc_fence) {
        bs_buf_append_byte(out, 'F');
        bs_u64_be_append(out, w->gc_fence);
    }
    if (w->last_change_ts || w->versions_to_last_change) {
        bs_buf_append_byte(out, 'l');
        bs_u64_be_append(out, w->last_change_ts);
        bs_varint_append(out, w->versions_to_last_change);
    }
    if (w->txn_source) {
        bs_buf_append_byte(out, 'S');
        bs_varint_append(out, w->txn_source);
    }
}

#define BAD(what) bs_err_setf(err, BS_ECORRUPT, "write record: %s", what)

int kv_write_decode(bs_slice in, kv_write *out, bs_err *err)
{
    bs_slice b = in;
    kv_write_init(out);
    if (b.len == 0)
        return BAD("empty");
    if (!write_type_ok(b.ptr[0]))
        return bs_err_setf(err, BS_ECORRUPT, "write record: unknown type 0x%02x", b.ptr[0]);
    out->type = (kv_write_type)b.ptr[0];
    b.ptr++;
    b.len--;
    if (bs_varint_read(&b, &out->start_ts) != BS_OK)
        return BAD("bad start_ts");
    while (b.len) {
        uint8_t tag = b.ptr[0];
        bs_slice f = {b.ptr + 1, b.len - 1};
        switch (tag) {
        case 'v':
            if (f.len < 1 || f.len - 1 < f.ptr[0])
                return BAD("truncated short value");
            out->has_short_value = true;
            out->short_value = bs_slice_make(f.ptr + 1, f.ptr[0]);
            f.ptr += 1 + out->short_value.len;
            f.len -= 1 + out->short_value.len;
            break;
        case 'R':
            out->has_overlapped_rollback = true;
            break;
        case 'F':
            if (bs_u64_be_read(&f, &out->gc_fence) != BS_OK)
                return BAD("truncated gc_fence");
            out->has_gc_fence = true;
            break;
        case 'l':
            if (bs_u64_be_read(&f, &out->last_change_ts) != BS_OK ||
                bs_varint_read(&f, &out->versions_to_last_change) != BS_OK)
                return BAD("truncated last_change");
            break;
        case 'S':
            if (bs_varint_read(&f, &out->txn_source) != BS_OK)
                return BAD("bad txn_source");
            break;
        default:
            return BS_OK; /* unknown tag: stop, as TiKV does */
        }
        b = f;
    }
    return BS_OK;
}

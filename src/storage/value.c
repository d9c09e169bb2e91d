/* value.c -- RawKV API v2 values: user_value ‖ [u64_be(expire) if flags&1] ‖ flags.
 *
 * TiKV writes the expire field in Unix seconds (PROTOCOL.md §4.5). Redis needs millisecond
 * expiry (PX, PEXPIRE, PTTL), so Basalt writes milliseconds and says so with its own flag bit
 * 0x04 (DESIGN.md "Expiry"); it still reads TiKV's seconds values, normalised to ms. In
 * memory every expiry is Unix ms. */
#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv.h"

#define KNOWN_FLAGS (KV_RAW_FLAG_TTL | KV_RAW_FLAG_DELETED | KV_RAW_FLAG_EXPIRE_MS)

void kv_raw_value_encode_rec(bs_buf *out, const kv_raw_value *v)
{
    uint8_t flags = 0;
    bs_buf_reserve(out, v->value.len + 9);
    bs_buf_append_slice(out, v->value);
    if (v->has_expire) {
        flags |= KV_RAW_FLAG_TTL;
        if (v->expire_in_secs) {
            /* Round up so a value never expires earlier than asked. */
            uint64_t s = v->expire_ms / 1000 + (v->expire_ms % 1000 != 0);
            bs_u64_be_append(out, s);
        } else {
            flags |= KV_RAW_FLAG_EXPIRE_MS;
            bs_u64_be_append(out, v->expire_ms);
        }
    }
    if (v->deleted)
        flags |= KV_RAW_FLAG_DELETED;
    bs_buf_append_byte(out, flags);
}

void kv_raw_value_encode(bs_buf *out, bs_slice value, uint64_t expire_ms, bool deleted)
{
    kv_raw_value v = {
        .value = value,
        .has_expire = expire_ms != 0,
        .expire_ms = expire_ms,
        .expire_in_secs = false,
        .deleted = deleted,
    };
    kv_raw_value_encode_rec(out, &v);
}

int kv_raw_value_decode(bs_slice in, kv_raw_value *out, bs_err *err)
{
    if (in.len == 0)
        return bs_err_setf(err, BS_ECORRUPT, "raw value: empty");
    size_t rest = in.len - 1;
    uint8_t flags = in.ptr[rest];
    if (flags & ~KNOWN_FLAGS)
        return bs_err_setf(err, BS_ECORRUPT, "raw value: unknown flags 0x%02x", flags);
    if ((flags & KV_RAW_FLAG_EXPIRE_MS) && !(flags & KV_RAW_FLAG_TTL))
        return bs_err_setf(err, BS_ECORRUPT, "raw value: ms flag without ttl flag");
    out->has_expire = (flags & KV_RAW_FLAG_TTL) != 0;
    out->expire_in_secs = false;
    out->expire_ms = 0;
    if (out->has_expire) {
        if (rest < 8)
            return bs_err_setf(err, BS_ECORRUPT, "raw value: truncated expire field");
        rest -= 8;
        uint64_t x = bs_u64_be_get(in.ptr + rest);
        if (flags & KV_RAW_FLAG_EXPIRE_MS) {
            out->expire_ms = x;
        } else {
            out->expire_in_secs = true;
            out->expire_ms = x > UINT64_MAX / 1000 ? UINT64_MAX : x * 1000;
        }
    }
    out->deleted = (flags & KV_RAW_FLAG_DELETED) != 0;
    out->value = bs_slice_make(rest ? in.ptr : NULL, rest);
    return BS_OK;
}

bool kv_raw_value_is_expired(const kv_raw_value *v, uint64_t now_ms)
{
    return v->has_expire && v->expire_ms <= now_ms;
}

/* codec.c -- varint, big-endian integers, compact bytes and memcomparable bytes.
 *
 * Layouts are TiKV's (PROTOCOL.md §4.4); see codec.h for the contracts. Every decoder checks
 * the remaining length before each read, so hostile input can only produce BS_ECORRUPT. */
#include "common/codec.h"

#include <string.h>

#include "common/err.h"

size_t bs_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t bs_varint_put(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

void bs_varint_append(bs_buf *b, uint64_t v)
{
    uint8_t tmp[BS_VARINT_MAX_LEN];
    bs_buf_append(b, tmp, bs_varint_put(tmp, v));
}

int bs_varint_read(bs_slice *in, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < BS_VARINT_MAX_LEN; i++) {
        if (i >= in->len)
            return BS_ECORRUPT; /* ends inside the varint */
        uint8_t c = in->ptr[i];
        /* The 10th byte holds bit 63 only: anything above it overflows a u64. */
        if (i == BS_VARINT_MAX_LEN - 1 && c > 1)
            return BS_ECORRUPT;
        v |= (uint64_t)(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) {
            *out = v;
            in->ptr += i + 1;
            in->len -= i + 1;
            return BS_OK;
        }
    }
    return BS_ECORRUPT; /* more than 10 bytes */
}

void bs_u64_be_put(uint8_t dst[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        dst[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t bs_u64_be_get(const uint8_t src[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | src[i];
    return v;
}

void bs_u32_be_put(uint8_t dst[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        dst[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint32_t bs_u32_be_get(const uint8_t src[4])
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | src[i];
    return v;
}

void bs_u64_be_append(bs_buf *b, uint64_t v)
{
    uint8_t tmp[8];
    bs_u64_be_put(tmp, v);
    bs_buf_append(b, tmp, 8);
}

void bs_u32_be_append(bs_buf *b, uint32_t v)
{
    uint8_t tmp[4];
    bs_u32_be_put(tmp, v);
    bs_buf_append(b, tmp, 4);
}

int bs_u64_be_read(bs_slice *in, uint64_t *out)
{
    if (in->len < 8)
        return BS_ECORRUPT;
    *out = bs_u64_be_get(in->ptr);
    in->ptr += 8;
    in->len -= 8;
    return BS_OK;
}

int bs_u32_be_read(bs_slice *in, uint32_t *out)
{
    if (in->len < 4)
        return BS_ECORRUPT;
    *out = bs_u32_be_get(in->ptr);
    in->ptr += 4;
    in->len -= 4;
    return BS_OK;
}

void bs_compact_bytes_append(bs_buf *b, bs_slice s)
{
    /* zigzag of a non-negative length is 2·len; lengths above 2^63 cannot exist. */
    bs_varint_append(b, (uint64_t)s.len << 1);
    bs_buf_append_slice(b, s);
}

int bs_compact_bytes_read(bs_slice *in, bs_slice *out)
{
    bs_slice cur = *in;
    uint64_t z;
    if (bs_varint_read(&cur, &z) != BS_OK)
        return BS_ECORRUPT;
    if (z & 1)
        return BS_ECORRUPT; /* zigzag of a negative length */
    uint64_t n = z >> 1;
    if (n > cur.len)
        return BS_ECORRUPT;
    out->ptr = cur.ptr;
    out->len = (size_t)n;
    in->ptr = cur.ptr + n;
    in->len = cur.len - (size_t)n;
    return BS_OK;
}

size_t bs_mce_encoded_len(size_t n)
{
    return (n / BS_MCE_GROUP + 1) * (BS_MCE_GROUP + 1);
}

void bs_mce_append(bs_buf *b, bs_slice s)
{
    size_t off = 0;
    bs_buf_reserve(b, bs_mce_encoded_len(s.len));
    for (;;) {
        size_t left = s.len - off;
        if (left >= BS_MCE_GROUP) {
            bs_buf_append(b, s.ptr + off, BS_MCE_GROUP);
            bs_buf_append_byte(b, BS_MCE_MARKER);
            off += BS_MCE_GROUP;
            continue;
        }
        /* Last group: 0..7 data bytes, zero padding, marker 0xFF − pad (pad 8 for the
         * empty tail of an input whose length is a multiple of 8). */
        uint8_t group[BS_MCE_GROUP + 1] = {0};
        if (left)
            memcpy(group, s.ptr + off, left);
        group[BS_MCE_GROUP] = (uint8_t)(BS_MCE_MARKER - (BS_MCE_GROUP - left));
        bs_buf_append(b, group, sizeof(group));
        return;
    }
}

/* Walks the groups of the MCE field at the start of in. When out is non-NULL the decoded
 * bytes are appended to it. Returns BS_OK with *enc_len set, or BS_ECORRUPT. */
static int mce_walk(bs_slice in, bs_buf *out, size_t *enc_len)
{
    size_t off = 0;
    for (;;) {
        if (in.len - off < BS_MCE_GROUP + 1)
            return BS_ECORRUPT; /* truncated group */
        const uint8_t *g = in.ptr + off;
        uint8_t marker = g[BS_MCE_GROUP];
        size_t pad = (size_t)(BS_MCE_MARKER - marker);
        if (pad > BS_MCE_GROUP)
            return BS_ECORRUPT; /* marker below 0xF7 */
        size_t real = BS_MCE_GROUP - pad;
        for (size_t i = real; i < BS_MCE_GROUP; i++)
            if (g[i] != 0)
                return BS_ECORRUPT; /* padding must be zeros */
        if (out && real)
            bs_buf_append(out, g, real);
        off += BS_MCE_GROUP + 1;
        if (pad != 0) {
            *enc_len = off;
            return BS_OK;
        }
    }
}

int bs_mce_read(bs_slice *in, bs_buf *out)
{
    size_t before = out->len, n = 0;
    if (mce_walk(*in, out, &n) != BS_OK) {
        out->len = before;
        return BS_ECORRUPT;
    }
    in->ptr += n;
    in->len -= n;
    return BS_OK;
}

int bs_mce_field_len(bs_slice in, size_t *enc_len)
{
    return mce_walk(in, NULL, enc_len);
}

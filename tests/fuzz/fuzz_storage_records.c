/* fuzz_storage_records.c -- libFuzzer target for every decoder that reads bytes from disk:
 * RawKV v2 values, Percolator lock and write records, memcomparable bytes, MVCC keys and
 * the varint/compact-bytes primitives under them.
 *
 * Each input is fed to every decoder. Whatever decodes must re-encode and decode to the
 * same record (and, where the encoding is canonical, to the same bytes); any mismatch
 * aborts. ASan/UBSan (enabled by `make fuzz`) catch reads past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "storage/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static bool buf_eq(const bs_buf *a, const bs_buf *b)
{
    return bs_slice_eq(bs_buf_slice(a), bs_buf_slice(b));
}

static void fuzz_raw_value(bs_slice in)
{
    kv_raw_value v, v2;
    if (kv_raw_value_decode(in, &v, NULL) != BS_OK)
        return;
    bs_buf e = BS_BUF_INIT;
    kv_raw_value_encode_rec(&e, &v);
    CHECK(kv_raw_value_decode(bs_buf_slice(&e), &v2, NULL) == BS_OK);
    CHECK(bs_slice_eq(v.value, v2.value));
    CHECK(v.has_expire == v2.has_expire && v.deleted == v2.deleted);
    CHECK(v.expire_ms == v2.expire_ms && v.expire_in_secs == v2.expire_in_secs);
    /* Byte-exact unless a seconds value saturated on the way to ms. */
    if (!(v.expire_in_secs && v.expire_ms == UINT64_MAX))
        CHECK(bs_slice_eq(bs_buf_slice(&e), in));
    (void)kv_raw_value_is_expired(&v, 1700000000000ull);
    bs_buf_free(&e);
}

static void fuzz_lock(bs_slice in)
{
    kv_lock l, l2;
    if (kv_lock_decode(in, &l, NULL) != BS_OK)
        return;
    /* Walk the secondaries the decoder validated. */
    bs_slice cur = l.secondaries_raw, k;
    for (size_t i = 0; i < l.n_secondaries; i++)
        CHECK(kv_lock_secondary_next(&cur, &k) == BS_OK);
    CHECK(cur.len == 0);
    for (size_t i = 0; i < l.n_rollback_ts; i++)
        (void)kv_lock_rollback_ts_at(&l, i);
    bs_buf e1 = BS_BUF_INIT, e2 = BS_BUF_INIT;
    kv_lock_encode(&e1, &l);
    CHECK(kv_lock_decode(bs_buf_slice(&e1), &l2, NULL) == BS_OK);
    kv_lock_encode(&e2, &l2);
    CHECK(buf_eq(&e1, &e2));
    bs_buf_free(&e1);
    bs_buf_free(&e2);
}

static void fuzz_write(bs_slice in)
{
    kv_write w, w2;
    if (kv_write_decode(in, &w, NULL) != BS_OK)
        return;
    bs_buf e1 = BS_BUF_INIT, e2 = BS_BUF_INIT;
    kv_write_encode(&e1, &w);
    CHECK(kv_write_decode(bs_buf_slice(&e1), &w2, NULL) == BS_OK);
    kv_write_encode(&e2, &w2);
    CHECK(buf_eq(&e1, &e2));
    CHECK(kv_write_is_protected_rollback(&w) == kv_write_is_protected_rollback(&w2));
    bs_buf_free(&e1);
    bs_buf_free(&e2);
}

static void fuzz_mce_and_mvcc(bs_slice in)
{
    bs_buf d = BS_BUF_INIT, e = BS_BUF_INIT;
    bs_slice cur = in;
    if (bs_mce_read(&cur, &d) == BS_OK) {
        size_t used = in.len - cur.len, fl = 0;
        bs_mce_append(&e, bs_buf_slice(&d));
        CHECK(e.len == used && memcmp(e.ptr, in.ptr, used) == 0); /* MCE is canonical */
        CHECK(bs_mce_field_len(in, &fl) == BS_OK && fl == used);
    } else {
        size_t fl;
        CHECK(cur.len == in.len);
        CHECK(bs_mce_field_len(in, &fl) != BS_OK);
    }
    uint64_t ts = 0;
    bs_buf_reset(&d);
    if (kv_mvcc_key_decode(in, &d, &ts, NULL) == BS_OK) {
        bs_buf_reset(&e);
        kv_mvcc_key_append(&e, bs_buf_slice(&d), ts);
        CHECK(bs_slice_eq(bs_buf_slice(&e), in));
    }
    bs_buf_free(&d);
    bs_buf_free(&e);
}

static void fuzz_primitives(bs_slice in)
{
    bs_slice cur = in, s;
    uint64_t v;
    if (bs_varint_read(&cur, &v) == BS_OK)
        CHECK(bs_varint_len(v) <= in.len - cur.len);
    cur = in;
    if (bs_compact_bytes_read(&cur, &s) == BS_OK) {
        CHECK(s.len <= in.len && s.ptr >= in.ptr && s.ptr + s.len <= in.ptr + in.len);
        bs_buf e = BS_BUF_INIT;
        bs_compact_bytes_append(&e, s);
        bs_slice c2 = bs_buf_slice(&e), s2;
        CHECK(bs_compact_bytes_read(&c2, &s2) == BS_OK && bs_slice_eq(s, s2) && c2.len == 0);
        bs_buf_free(&e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bs_slice in = bs_slice_make(data, size);
    fuzz_raw_value(in);
    fuzz_lock(in);
    fuzz_write(in);
    fuzz_mce_and_mvcc(in);
    fuzz_primitives(in);
    return 0;
}

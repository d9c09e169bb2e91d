/* batch.c -- write batches as an engine-independent op log.
 *
 * Txn actions and raft apply build batches without holding an engine (DESIGN.md: actions
 * return write batches), so a kv_batch records its operations in its own compact log and
 * kv_engine_write() translates the log into a RocksDB batch at write time. The log can also
 * be walked (kv_batch_iterate), which the crash simulator uses to learn which keys a write
 * touched. Log record: type(1) cf(1) varint(klen) key varint(vlen) value. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv_int.h"

kv_batch *kv_batch_new(void)
{
    kv_batch *b = bs_calloc(1, sizeof(*b));
    bs_buf_init(&b->log);
    return b;
}

void kv_batch_free(kv_batch *b)
{
    if (!b)
        return;
    bs_buf_free(&b->log);
    bs_free(b);
}

void kv_batch_clear(kv_batch *b)
{
    bs_buf_reset(&b->log);
    b->count = 0;
    b->data_size = 0;
}

static void record(kv_batch *b, kv_op_type t, kv_cf cf, bs_slice k, bs_slice v)
{
    BS_ASSERT(cf < KV_CF_COUNT);
    bs_buf_reserve(&b->log, 2 + 2 * BS_VARINT_MAX_LEN + k.len + v.len);
    bs_buf_append_byte(&b->log, (uint8_t)t);
    bs_buf_append_byte(&b->log, (uint8_t)cf);
    bs_varint_append(&b->log, k.len);
    bs_buf_append_slice(&b->log, k);
    bs_varint_append(&b->log, v.len);
    bs_buf_append_slice(&b->log, v);
    b->count++;
    b->data_size += k.len + v.len;
}

void kv_batch_put(kv_batch *b, kv_cf cf, bs_slice key, bs_slice value)
{
    record(b, KV_OP_PUT, cf, key, value);
}

void kv_batch_delete(kv_batch *b, kv_cf cf, bs_slice key)
{
    record(b, KV_OP_DELETE, cf, key, BS_SLICE_NULL);
}

void kv_batch_delete_range(kv_batch *b, kv_cf cf, bs_slice start, bs_slice end)
{
    record(b, KV_OP_DELETE_RANGE, cf, start, end);
}

size_t kv_batch_count(const kv_batch *b)
{
    return b->count;
}

size_t kv_batch_data_size(const kv_batch *b)
{
    return b->data_size;
}

/* The log is written only by record(), so a malformed record is a bug, not input. */
static void next_op(bs_slice *cur, kv_op *op)
{
    uint64_t n;
    BS_ASSERT(cur->len >= 2);
    op->type = (kv_op_type)cur->ptr[0];
    op->cf = (kv_cf)cur->ptr[1];
    cur->ptr += 2;
    cur->len -= 2;
    int rc = bs_varint_read(cur, &n);
    BS_ASSERT(rc == BS_OK && n <= cur->len);
    op->key = bs_slice_make(cur->ptr, (size_t)n);
    cur->ptr += n;
    cur->len -= n;
    rc = bs_varint_read(cur, &n);
    BS_ASSERT(rc == BS_OK && n <= cur->len);
    op->value = bs_slice_make(cur->ptr, (size_t)n);
    cur->ptr += n;
    cur->len -= n;
}

int kv_batch_iterate(const kv_batch *b, int (*fn)(void *arg, const kv_op *op), void *arg)
{
    bs_slice cur = bs_buf_slice(&b->log);
    while (cur.len) {
        kv_op op;
        next_op(&cur, &op);
        int rc = fn(arg, &op);
        if (rc != 0)
            return rc;
    }
    return BS_OK;
}

rocksdb_writebatch_t *kv_batch_to_rocks(const kv_engine *e, const kv_batch *b)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    bs_slice cur = bs_buf_slice(&b->log);
    while (cur.len) {
        kv_op op;
        next_op(&cur, &op);
        rocksdb_column_family_handle_t *h = e->cf[op.cf];
        const char *k = (const char *)op.key.ptr, *v = (const char *)op.value.ptr;
        /* RocksDB copies from these pointers; give it a valid one for empty slices. */
        if (!k)
            k = "";
        if (!v)
            v = "";
        switch (op.type) {
        case KV_OP_PUT:
            rocksdb_writebatch_put_cf(wb, h, k, op.key.len, v, op.value.len);
            break;
        case KV_OP_DELETE:
            rocksdb_writebatch_delete_cf(wb, h, k, op.key.len);
            break;
        case KV_OP_DELETE_RANGE:
            rocksdb_writebatch_delete_range_cf(wb, h, k, op.key.len, v, op.value.len);
            break;
        default:
            BS_UNREACHABLE();
        }
    }
    return wb;
}

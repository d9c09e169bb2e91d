/* crashsim.c -- test-only machine-crash simulator (contract and rationale in
 * kv_crashsim.h).
 *
 * State: `durable` is a snapshot of the last state known to be on stable storage; `touched`
 * is a kv_batch used purely as a list of the keys (PUT/DELETE) and ranges (DELETE_RANGE)
 * written since without a sync. Invariant: the engine's state equals `durable` except on
 * keys covered by `touched`. So a crash = restore every touched key/range from `durable`,
 * close, reopen. */
#include "storage/kv_crashsim.h"

#include "common/assert.h"

struct kv_crashsim {
    kv_engine *e;
    char *path;      /* owned copy, for reopening */
    kv_options opts; /* copy, for reopening */
    kv_snapshot *durable;
    kv_batch *touched;
    kv_crashsim_stats st;
};

static int remember(void *arg, const kv_op *op)
{
    kv_batch *touched = arg;
    if (op->type == KV_OP_DELETE_RANGE)
        kv_batch_delete_range(touched, op->cf, op->key, op->value);
    else
        kv_batch_delete(touched, op->cf, op->key); /* "key was touched" */
    return 0;
}

static void observe(void *arg, const kv_batch *batch, bool sync)
{
    kv_crashsim *s = arg;
    if (sync) {
        /* A synced WAL write persists every earlier record: all is durable now. */
        s->st.synced_writes++;
        s->st.pending_writes = 0;
        kv_batch_clear(s->touched);
        kv_snapshot_free(s->durable);
        s->durable = kv_snapshot_new(s->e);
        return;
    }
    s->st.unsynced_writes++;
    s->st.pending_writes++;
    BS_ASSERT(batch);
    (void)kv_batch_iterate(batch, remember, s->touched); /* remember() never fails */
}

static void attach(kv_crashsim *s)
{
    s->durable = kv_snapshot_new(s->e);
    kv_batch_clear(s->touched);
    kv_engine_set_write_observer(s->e, observe, s);
}

int kv_crashsim_new(kv_engine *e, kv_crashsim **out, bs_err *err)
{
    int rc = kv_engine_sync_wal(e, err);
    if (rc != BS_OK)
        return rc;
    kv_crashsim *s = bs_calloc(1, sizeof(*s));
    s->e = e;
    s->path = bs_strdup(kv_engine_path(e));
    s->opts = *kv_engine_options(e);
    s->touched = kv_batch_new();
    attach(s);
    *out = s;
    return BS_OK;
}

kv_engine *kv_crashsim_engine(const kv_crashsim *s)
{
    return s->e;
}

typedef struct restore_ctx {
    kv_crashsim *s;
    kv_batch *fix;
    bs_buf val;
    int rc;
    bs_err *err;
} restore_ctx;

/* Adds to ctx->fix the ops that bring op's key or range back to its durable value. */
static int restore_op(void *arg, const kv_op *op)
{
    restore_ctx *c = arg;
    kv_engine *e = c->s->e;
    if (op->type != KV_OP_DELETE_RANGE) {
        int rc = kv_snapshot_get(c->s->durable, op->cf, op->key, &c->val, c->err);
        if (rc == BS_OK)
            kv_batch_put(c->fix, op->cf, op->key, bs_buf_slice(&c->val));
        else if (rc == BS_NOTFOUND)
            kv_batch_delete(c->fix, op->cf, op->key);
        else
            return c->rc = rc;
        return 0;
    }
    /* A range: drop whatever is there now, then copy the durable contents back. */
    kv_batch_delete_range(c->fix, op->cf, op->key, op->value);
    kv_iter *it = kv_iter_new(e, c->s->durable, op->cf, op->key, op->value);
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        kv_batch_put(c->fix, op->cf, kv_iter_key(it), kv_iter_value(it));
    int rc = kv_iter_status(it, c->err);
    kv_iter_free(it);
    if (rc != BS_OK)
        return c->rc = rc;
    return 0;
}

int kv_crashsim_crash(kv_crashsim *s, bs_err *err)
{
    BS_ASSERT(s->e);
    kv_engine_set_write_observer(s->e, NULL, NULL);
    restore_ctx c = {.s = s, .fix = kv_batch_new(), .val = BS_BUF_INIT, .rc = BS_OK, .err = err};
    (void)kv_batch_iterate(s->touched, restore_op, &c); /* failures are kept in c.rc */
    int rc = c.rc;
    if (rc == BS_OK)
        rc = kv_engine_write(s->e, c.fix, true, err);
    kv_batch_free(c.fix);
    bs_buf_free(&c.val);
    kv_snapshot_free(s->durable);
    s->durable = NULL;
    kv_engine_close(s->e);
    s->e = NULL;
    if (rc != BS_OK)
        return bs_err_wrapf(err, "crash simulator: rolling back unsynced writes");
    s->st.discarded_writes += s->st.pending_writes;
    s->st.pending_writes = 0;
    s->st.crashes++;
    rc = kv_engine_open(s->path, &s->opts, &s->e, err);
    if (rc != BS_OK) {
        s->e = NULL;
        return bs_err_wrapf(err, "crash simulator: reopening %s", s->path);
    }
    attach(s);
    return BS_OK;
}

void kv_crashsim_get_stats(const kv_crashsim *s, kv_crashsim_stats *out)
{
    *out = s->st;
}

void kv_crashsim_free(kv_crashsim *s)
{
    if (!s)
        return;
    if (s->e) {
        kv_engine_set_write_observer(s->e, NULL, NULL);
        kv_snapshot_free(s->durable);
        kv_engine_close(s->e);
    }
    kv_batch_free(s->touched);
    bs_free(s->path);
    bs_free(s);
}

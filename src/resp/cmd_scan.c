/* cmd_scan.c -- the commands that walk a database's keys: SCAN, KEYS, RANDOMKEY.
 *
 * A RESP database is one RawKV keyspace, ordered by key, so walking it is a range scan
 * through client_scan (across Regions, in key order). SCAN pages through it with integer
 * cursors that scan_cursor.c maps to "resume after this key", which gives Redis's
 * guarantee: a full iteration returns every key present from its start to its end (keys
 * in order, each at most once unless a cursor had to fall back to its prefix). A pattern
 * that starts with literal bytes ("user:*") narrows the range to keys with that prefix,
 * so SCAN MATCH and KEYS touch only what can match.
 *
 * KEYS walks the whole range in bounded pages. client_scan may call back before it
 * returns, so the walk is a loop with a small handshake (walk_step/walk_done) instead of
 * recursion: a large database must not grow the stack one frame per page. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "resp/resp_int.h"

#define SCAN_DEFAULT_COUNT 10
/* One SCAN call reads at most this many keys whatever COUNT says (COUNT is a hint in
 * Redis too): bounds the reply and the time one call holds a thread. */
#define SCAN_MAX_COUNT 100000

/* ---- pattern prefix ------------------------------------------------------------------ */

/* The literal bytes every key matching glob pattern p must start with (escapes resolved),
 * into *out. Stops at the first wildcard; a trailing lone backslash ends it too. */
static void glob_prefix(bs_slice p, bs_buf *out)
{
    bs_buf_reset(out);
    for (size_t i = 0; i < p.len; i++) {
        uint8_t c = p.ptr[i];
        if (c == '*' || c == '?' || c == '[')
            return;
        if (c == '\\') {
            if (i + 1 >= p.len)
                return;
            c = p.ptr[++i];
        }
        bs_buf_append_byte(out, c);
    }
}

/* The smallest key greater than every key that starts with prefix, into *out: drop
 * trailing 0xff bytes and increment the last one. Returns false when there is none (the
 * prefix is empty or all 0xff): the range is open-ended. */
static bool prefix_end(bs_slice prefix, bs_buf *out)
{
    size_t n = prefix.len;
    while (n > 0 && prefix.ptr[n - 1] == 0xff)
        n--;
    if (n == 0)
        return false;
    bs_buf_set(out, prefix.ptr, n);
    out->ptr[n - 1]++;
    return true;
}

/* A key range to scan: [start, end), end absent when has_end is false. */
typedef struct key_range {
    bs_buf start, end;
    bool has_end;
} key_range;

static void key_range_free(key_range *r)
{
    bs_buf_free(&r->start);
    bs_buf_free(&r->end);
}

/* Narrows r to keys that can match pattern (use_pattern false: no narrowing). Returns
 * false when the range is empty. */
static bool narrow_to_pattern(key_range *r, bs_slice pattern, bool use_pattern)
{
    if (!use_pattern)
        return true;
    bs_buf lit = BS_BUF_INIT;
    glob_prefix(pattern, &lit);
    if (lit.len > 0) {
        if (bs_slice_cmp(bs_buf_slice(&r->start), bs_buf_slice(&lit)) < 0)
            bs_buf_set(&r->start, lit.ptr, lit.len);
        r->has_end = prefix_end(bs_buf_slice(&lit), &r->end);
    }
    bs_buf_free(&lit);
    return !r->has_end || bs_slice_cmp(bs_buf_slice(&r->start), bs_buf_slice(&r->end)) < 0;
}

static client_scan_req scan_req(uint32_t db, const key_range *r, uint32_t limit)
{
    client_scan_req s = {.keyspace = db,
                         .start = bs_buf_slice(&r->start),
                         .end = bs_buf_slice(&r->end),
                         .has_end = r->has_end,
                         .limit = limit,
                         .key_only = true};
    return s;
}

/* ---- SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] --------------------------- */

/* Redis's parseScanCursorOrReply: strtoul rules (so "+5", "007" and "-1" are cursors),
 * no leading space, no trailing garbage, no overflow. */
static bool parse_cursor(bs_slice s, uint64_t *out)
{
    char *buf = bs_malloc(s.len + 1), *end = NULL;
    if (s.len)
        memcpy(buf, s.ptr, s.len); /* an empty argument may have no buffer at all */
    buf[s.len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    bool ok = !isspace((unsigned char)buf[0]) && *end == '\0' && errno != ERANGE;
    bs_free(buf);
    *out = v;
    return ok;
}

typedef struct scan_ctx {
    resp_req *req;
    resp_scan_args a;
    key_range range; /* kept until the callback (the client may retry) */
} scan_ctx;

void resp_reply_scan(resp_out *o, uint64_t cursor, const txn_pairs *keys,
                     const resp_scan_args *a)
{
    size_t n = 0;
    if (keys)
        for (size_t i = 0; i < keys->n; i++)
            if (!a->use_pattern ||
                resp_glob_match(a->pattern, bs_buf_slice(&keys->v[i].key), false))
                n++;
    char text[24];
    int len = snprintf(text, sizeof(text), "%llu", (unsigned long long)cursor);
    resp_reply_array(o, 2);
    resp_reply_bulk(o, text, (size_t)len);
    resp_reply_array(o, n);
    if (keys)
        for (size_t i = 0; i < keys->n; i++)
            if (!a->use_pattern ||
                resp_glob_match(a->pattern, bs_buf_slice(&keys->v[i].key), false))
                resp_reply_bulk_slice(o, bs_buf_slice(&keys->v[i].key));
}

uint64_t resp_scan_next_cursor(uint32_t db, const resp_scan_args *a, const txn_pairs *page)
{
    /* A short page means the range is exhausted; a full one may have more after it. */
    if (page->n >= a->limit && page->n > 0)
        return resp_scan_cursor_save(db, bs_buf_slice(&page->v[page->n - 1].key), a->cursor);
    return 0;
}

static void done_scan(void *arg, client_result *res)
{
    scan_ctx *ctx = arg;
    resp_req *req = ctx->req;
    if (res->code != BS_OK) {
        key_range_free(&ctx->range);
        bs_free(ctx);
        resp_reply_client_error(req, res);
        return;
    }
    resp_reply_scan(&req->o, resp_scan_next_cursor(req->db, &ctx->a, &res->pairs), &res->pairs,
                    &ctx->a);
    key_range_free(&ctx->range);
    bs_free(ctx);
    resp_req_finish(req);
}

bool resp_args_scan(resp_req *req, resp_scan_args *a)
{
    long long count = SCAN_DEFAULT_COUNT;
    bs_slice type = BS_SLICE_NULL;
    bool has_type = false;
    memset(a, 0, sizeof(*a));
    if (!parse_cursor(resp_req_arg(req, 1), &a->cursor)) {
        resp_reply_error_str(&req->o, "invalid cursor");
        return false;
    }
    for (size_t i = 2; i < req->argc; i += 2) {
        bs_slice arg = resp_req_arg(req, i);
        bool has_value = req->argc - i >= 2;
        if (resp_arg_is(arg, "count") && has_value) {
            if (!resp_parse_ll(resp_req_arg(req, i + 1), &count)) {
                resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
                return false;
            }
            if (count < 1) {
                resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
                return false;
            }
        } else if (resp_arg_is(arg, "match") && has_value) {
            a->pattern = resp_req_arg(req, i + 1);
            /* "*" matches everything: same as no pattern, as Redis treats it */
            a->use_pattern = !(a->pattern.len == 1 && a->pattern.ptr[0] == '*');
        } else if (resp_arg_is(arg, "type") && has_value) {
            type = resp_req_arg(req, i + 1);
            has_type = true;
        } else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            return false;
        }
    }
    /* Every key is a string: TYPE string filters nothing, any other type matches no key,
     * so the iteration is complete at once (Redis would return the same empty pages). */
    a->none = has_type && !resp_arg_is(type, "string");
    a->limit = (uint32_t)(count > SCAN_MAX_COUNT ? SCAN_MAX_COUNT : count);
    return true;
}

/* Hands r over to the caller's buffers (replacing what they held); returns some. */
static bool range_out(key_range *r, bool some, bs_buf *start, bs_buf *end, bool *has_end)
{
    bs_buf_free(start);
    bs_buf_free(end);
    *start = r->start;
    *end = r->end;
    *has_end = r->has_end;
    return some;
}

bool resp_scan_range(uint32_t db, const resp_scan_args *a, bs_buf *start, bs_buf *end,
                     bool *has_end)
{
    key_range r = {BS_BUF_INIT, BS_BUF_INIT, false};
    if (a->none)
        return false;
    if (a->cursor != 0)
        (void)resp_scan_cursor_resume(a->cursor, db, &r.start); /* both are safe */
    bool some = narrow_to_pattern(&r, a->pattern, a->use_pattern);
    return range_out(&r, some, start, end, has_end);
}

void resp_cmd_scan(resp_req *req)
{
    scan_ctx *ctx = bs_calloc(1, sizeof(*ctx));
    ctx->req = req;
    if (!resp_args_scan(req, &ctx->a)) {
        bs_free(ctx);
        resp_req_finish(req);
        return;
    }
    if (!resp_scan_range(req->db, &ctx->a, &ctx->range.start, &ctx->range.end,
                         &ctx->range.has_end)) {
        resp_reply_scan(&req->o, 0, NULL, &ctx->a);
        key_range_free(&ctx->range);
        bs_free(ctx);
        resp_req_finish(req);
        return;
    }
    client_scan_req s = scan_req(req->db, &ctx->range, ctx->a.limit);
    client_scan(req->client, &s, done_scan, ctx);
}

/* ---- KEYS pattern ----------------------------------------------------------------------- */

enum { WALK_IDLE, WALK_CALLING, WALK_RESULT };

typedef struct keys_walk {
    resp_req *req;
    bs_slice pattern;
    bool all;
    key_range range;
    _Atomic int state;  /* WALK_*: who processes the page that arrived (see walk_step) */
    client_result page; /* the page (or error) being handed from callback to processor */
    bs_buf *found;      /* matching keys so far; owned */
    size_t nfound, cap;
} keys_walk;

static void keys_walk_free(keys_walk *w)
{
    for (size_t i = 0; i < w->nfound; i++)
        bs_buf_free(&w->found[i]);
    bs_free(w->found);
    txn_pairs_free(&w->page.pairs);
    key_range_free(&w->range);
    bs_free(w);
}

/* Consumes the page in w->page. Returns true when another page must be read (w->range
 * advanced), false when the reply is written and w is freed. */
static bool keys_process(keys_walk *w)
{
    resp_req *req = w->req;
    if (w->page.code != BS_OK) {
        client_result err = w->page;
        txn_pairs_init(&err.pairs); /* the pairs stay with w and are freed with it */
        keys_walk_free(w);
        resp_reply_client_error(req, &err);
        return false;
    }
    txn_pairs *p = &w->page.pairs;
    bool more = p->n >= RESP_KEYS_PAGE;
    bs_buf next = BS_BUF_INIT;
    if (more) { /* resume after the page's last key: that key followed by a zero byte */
        bs_buf_append_slice(&next, bs_buf_slice(&p->v[p->n - 1].key));
        bs_buf_append_byte(&next, 0);
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!w->all && !resp_glob_match(w->pattern, bs_buf_slice(&p->v[i].key), false))
            continue;
        if (w->nfound == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 64;
            w->found = bs_realloc(w->found, w->cap * sizeof(bs_buf));
        }
        w->found[w->nfound++] = p->v[i].key; /* moved out of the page */
        p->v[i].key = BS_BUF_INIT;
    }
    txn_pairs_free(p);
    if (more) {
        bs_buf_free(&w->range.start);
        w->range.start = next;
        return true;
    }
    resp_reply_array(&req->o, w->nfound);
    for (size_t i = 0; i < w->nfound; i++)
        resp_reply_bulk_slice(&req->o, bs_buf_slice(&w->found[i]));
    keys_walk_free(w);
    resp_req_finish(req);
    return false;
}

static void keys_done(void *arg, client_result *res);

/* Issues scans until the walk ends or a callback is left pending. The handshake: the
 * callback stores the page and flips state to WALK_RESULT; whoever sees the other side's
 * mark processes it -- this loop when the callback came before client_scan returned
 * (state was WALK_CALLING), the callback's thread otherwise. */
static void walk_step(keys_walk *w)
{
    for (;;) {
        atomic_store(&w->state, WALK_CALLING);
        client_scan_req s = scan_req(w->req->db, &w->range, RESP_KEYS_PAGE);
        client_scan(w->req->client, &s, keys_done, w);
        if (atomic_exchange(&w->state, WALK_IDLE) != WALK_RESULT)
            return; /* the callback will process the page */
        if (!keys_process(w))
            return;
    }
}

static void keys_done(void *arg, client_result *res)
{
    keys_walk *w = arg;
    txn_pairs_free(&w->page.pairs);
    w->page.code = res->code;
    w->page.kind = res->kind;
    memcpy(w->page.msg, res->msg, sizeof(w->page.msg));
    w->page.pairs = res->pairs; /* moved out: the client lets callbacks take buffers */
    txn_pairs_init(&res->pairs);
    if (atomic_exchange(&w->state, WALK_RESULT) == WALK_CALLING)
        return; /* walk_step is still inside client_scan and will process it */
    if (keys_process(w))
        walk_step(w);
}

bool resp_keys_range(bs_slice pattern, bool *all, bs_buf *start, bs_buf *end, bool *has_end)
{
    key_range r = {BS_BUF_INIT, BS_BUF_INIT, false};
    *all = pattern.len == 1 && pattern.ptr[0] == '*';
    bool some = narrow_to_pattern(&r, pattern, !*all);
    return range_out(&r, some, start, end, has_end);
}

void resp_cmd_keys(resp_req *req)
{
    keys_walk *w = bs_calloc(1, sizeof(*w));
    w->req = req;
    w->pattern = resp_req_arg(req, 1);
    txn_pairs_init(&w->page.pairs);
    if (!resp_keys_range(w->pattern, &w->all, &w->range.start, &w->range.end,
                         &w->range.has_end)) {
        keys_walk_free(w);
        resp_reply_array(&req->o, 0);
        resp_req_finish(req);
        return;
    }
    walk_step(w);
}

/* ---- RANDOMKEY ------------------------------------------------------------------------ */

/* Redis picks a random bucket; Basalt has no buckets, and counting the keys to pick the
 * n-th would read them all. So each database keeps a table of fences: the first key of
 * every segment of RK_STRIDE consecutive keys (strides double past RK_FENCES_MAX
 * segments), from a walk of the keyspace that RANDOMKEY itself advances by one page of
 * RK_BUILD_PAGE keys per call, and starts again at most every RK_REBUILD_MS once done.
 * With a complete table, a call draws a uniform rank below the walk's key count, takes
 * its segment (between two fences), reads it (at most RK_SEG_READ keys) and picks one of
 * its keys uniformly. Every key is then equally likely while the keyspace is as the last
 * walk saw it; keys written since skew the odds only within their segment (a segment that
 * grew past RK_SEG_READ keys hides its tail until the next walk), and a segment emptied
 * since falls back to the method below. A call costs at most one segment read plus one
 * walk page, whatever the database's size.
 *
 * Without a table (the first calls on a database, or past RK_DBS_MAX databases), and in
 * huge databases within a segment (strides above RK_SEG_READ): read the first
 * RESP_RANDOMKEY_PAGE keys; when that is all there is, pick one of them uniformly.
 * Otherwise read the last key, draw a random key between the first and the last (a random
 * byte where they first differ, then random bytes), and pick at random among the
 * RESP_RANDOMKEY_PAGE keys from there. Every key can come up, though not with equal
 * odds: keys after a sparse part of the byte space are likelier. */

#define RK_STRIDE 64         /* keys per segment a walk starts with */
#define RK_FENCES_MAX 4096   /* segments per table (past it the stride doubles) */
#define RK_FENCE_BYTES 256   /* a fence keeps at most this prefix of its key */
#define RK_BUILD_PAGE 256    /* keys a call reads to advance the walk */
#define RK_SEG_READ 512      /* keys a call reads of its segment */
#define RK_REBUILD_MS 1000   /* a database's walk restarts at most this often */
#define RK_DBS_MAX 64        /* databases with a table (per process) */

typedef struct rk_table {
    bs_buf *f;       /* fences, ascending; f[0] is the empty key (the keyspace's start) */
    size_t n, cap;
    uint64_t stride; /* keys per segment (the last segment may have fewer) */
    uint64_t total;  /* keys the walk saw */
} rk_table;

typedef struct rk_db {
    struct rk_db *next;
    const client *cl;
    uint32_t db;
    rk_table cur;         /* the last complete walk's (n == 0: none yet) */
    rk_table build;       /* the walk in progress */
    bs_buf resume;        /* where the walk reads next (inclusive) */
    bool walking;         /* a walk is in progress */
    bool reading;         /* a page of it is in flight */
    int64_t walk_done_ms; /* when the last walk completed */
} rk_db;

/* Tables live as long as the process (at most RK_DBS_MAX of them, each at most
 * RK_FENCES_MAX * RK_FENCE_BYTES bytes of fences). */
static pthread_mutex_t rk_mu = PTHREAD_MUTEX_INITIALIZER;
static rk_db *rk_dbs;
static size_t rk_ndbs;

static void rk_table_free(rk_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        bs_buf_free(&t->f[i]);
    bs_free(t->f);
    memset(t, 0, sizeof(*t));
}

static void rk_table_add(rk_table *t, bs_slice key)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->f = bs_realloc(t->f, t->cap * sizeof(bs_buf));
    }
    bs_buf_init(&t->f[t->n]);
    /* A prefix sorts at or before its key: the segment starts a little early, no more. */
    bs_buf_set(&t->f[t->n], key.ptr, key.len < RK_FENCE_BYTES ? key.len : RK_FENCE_BYTES);
    t->n++;
}

/* The table of (cl, db), created when there is room (rk_mu held); NULL otherwise. */
static rk_db *rk_db_of(const client *cl, uint32_t db)
{
    for (rk_db *d = rk_dbs; d; d = d->next)
        if (d->cl == cl && d->db == db)
            return d;
    if (rk_ndbs >= RK_DBS_MAX)
        return NULL;
    rk_db *d = bs_calloc(1, sizeof(*d));
    d->cl = cl;
    d->db = db;
    bs_buf_init(&d->resume);
    d->next = rk_dbs;
    rk_dbs = d;
    rk_ndbs++;
    return d;
}

typedef struct rk_walk {
    rk_db *d;
} rk_walk;

/* One page of the walk: every stride-th key becomes a fence; a short page ends the walk. */
static void rk_walk_done(void *arg, client_result *res)
{
    rk_walk *w = arg;
    rk_db *d = w->d;
    bs_free(w);
    pthread_mutex_lock(&rk_mu);
    d->reading = false;
    if (res->code != BS_OK) { /* start over later */
        d->walking = false;
        rk_table_free(&d->build);
        d->walk_done_ms = bs_clock_mono_ms();
        pthread_mutex_unlock(&rk_mu);
        return;
    }
    rk_table *b = &d->build;
    txn_pairs *p = &res->pairs;
    for (size_t i = 0; i < p->n; i++) {
        uint64_t pos = b->total + i;
        if (pos % b->stride != 0)
            continue;
        if (b->n == RK_FENCES_MAX) { /* keep every other fence: segments twice as long */
            size_t k = 0;
            for (size_t j = 0; j < b->n; j++) {
                if (j % 2 == 0)
                    b->f[k++] = b->f[j];
                else
                    bs_buf_free(&b->f[j]);
            }
            b->n = k;
            b->stride *= 2;
            if (pos % b->stride != 0)
                continue;
        }
        if (pos == 0)
            rk_table_add(b, BS_SLICE_NULL); /* the first segment starts at the beginning */
        else
            rk_table_add(b, bs_buf_slice(&p->v[i].key));
    }
    b->total += p->n;
    if (p->n < RK_BUILD_PAGE) {
        rk_table_free(&d->cur);
        d->cur = *b;
        memset(b, 0, sizeof(*b));
        d->walking = false;
        d->walk_done_ms = bs_clock_mono_ms();
    } else {
        bs_slice last = bs_buf_slice(&p->v[p->n - 1].key);
        bs_buf_set(&d->resume, last.ptr, last.len);
        bs_buf_append_byte(&d->resume, 0);
    }
    pthread_mutex_unlock(&rk_mu);
}

/* Advances d's walk by one page if none is in flight (rk_mu held); the scan is issued
 * after the lock is dropped, through *scan (false: nothing to issue). */
static bool rk_walk_step(rk_db *d, int64_t now, client_scan_req *scan)
{
    if (d->reading)
        return false;
    if (!d->walking) {
        if (d->cur.n > 0 && now - d->walk_done_ms < RK_REBUILD_MS)
            return false;
        rk_table_free(&d->build);
        d->build.stride = RK_STRIDE;
        bs_buf_reset(&d->resume);
        d->walking = true;
    }
    d->reading = true;
    /* resume is stable while reading: only the page's callback changes it */
    memset(scan, 0, sizeof(*scan));
    scan->keyspace = d->db;
    scan->start = bs_buf_slice(&d->resume);
    scan->limit = RK_BUILD_PAGE;
    scan->key_only = true;
    return true;
}

static _Atomic uint64_t rand_counter;

/* splitmix64 over a shared counter mixed with the clock: cheap, thread-safe, and good
 * enough to pick keys (nothing here needs unpredictability). */
static uint64_t rand_next(void)
{
    uint64_t x =
        atomic_fetch_add(&rand_counter, 0x9E3779B97F4A7C15ull) ^ (uint64_t)bs_clock_mono_ns();
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

bool resp_randomkey_pivot(bs_slice f, bs_slice l, bs_buf *start)
{
    if (bs_slice_cmp(f, l) >= 0)
        return false;
    size_t cp = 0;
    while (cp < f.len && cp < l.len && f.ptr[cp] == l.ptr[cp])
        cp++;
    /* f < l, so l is longer than the common prefix and f[cp] < l[cp] if f has one. */
    unsigned lo = cp < f.len ? f.ptr[cp] : 0, hi = l.ptr[cp];
    bs_buf_set(start, l.ptr, cp);
    bs_buf_append_byte(start, (uint8_t)(lo + rand_next() % (hi - lo + 1)));
    uint64_t r = rand_next();
    for (int i = 0; i < 8; i++)
        bs_buf_append_byte(start, (uint8_t)(r >> (8 * i)));
    return true;
}

size_t resp_randomkey_pick(size_t n)
{
    return (size_t)(rand_next() % n);
}

typedef struct rk_ctx {
    resp_req *req;
    /* 0: the first page, 1: the last key, 2: the page at the pivot (the byte-space method);
     * 3: a segment of the fence table */
    int step;
    bs_buf first, last;
    key_range range;
} rk_ctx;

static void rk_ctx_free(rk_ctx *c)
{
    bs_buf_free(&c->first);
    bs_buf_free(&c->last);
    key_range_free(&c->range);
    bs_free(c);
}

static void rk_finish(rk_ctx *c, bs_slice key, bool found)
{
    resp_req *req = c->req;
    if (found)
        resp_reply_bulk_slice(&req->o, key);
    else
        resp_reply_null_bulk(&req->o);
    rk_ctx_free(c);
    resp_req_finish(req);
}

static void rk_done(void *arg, client_result *res);

static void rk_scan(rk_ctx *c, bool reverse, uint32_t limit)
{
    client_scan_req s = scan_req(c->req->db, &c->range, limit);
    s.reverse = reverse;
    client_scan(c->req->client, &s, rk_done, c);
}

/* The byte-space method from its first step (see above). */
static void rk_bytespace(rk_ctx *c)
{
    c->step = 0;
    bs_buf_reset(&c->range.start);
    bs_buf_reset(&c->range.end);
    c->range.has_end = false;
    rk_scan(c, false, RESP_RANDOMKEY_PAGE);
}

static void rk_done(void *arg, client_result *res)
{
    rk_ctx *c = arg;
    if (res->code != BS_OK) {
        resp_req *req = c->req;
        rk_ctx_free(c);
        resp_reply_client_error(req, res);
        return;
    }
    txn_pairs *p = &res->pairs;
    if (c->step == 3) {
        if (p->n == 0) /* the segment emptied since the walk */
            rk_bytespace(c);
        else
            rk_finish(c, bs_buf_slice(&p->v[resp_randomkey_pick(p->n)].key), true);
        return;
    }
    if (c->step == 0) {
        if (p->n < RESP_RANDOMKEY_PAGE) { /* the whole database is in hand */
            if (p->n == 0)
                rk_finish(c, BS_SLICE_NULL, false);
            else
                rk_finish(c, bs_buf_slice(&p->v[resp_randomkey_pick(p->n)].key), true);
            return;
        }
        bs_buf_set(&c->first, p->v[0].key.ptr, p->v[0].key.len);
        c->step = 1;
        rk_scan(c, true, 1); /* empty start in reverse: from the end of the keyspace */
        return;
    }
    if (c->step == 1) {
        if (p->n == 0) { /* every key went away meanwhile */
            rk_finish(c, BS_SLICE_NULL, false);
            return;
        }
        bs_buf_set(&c->last, p->v[0].key.ptr, p->v[0].key.len);
        bs_slice f = bs_buf_slice(&c->first), l = bs_buf_slice(&c->last);
        if (!resp_randomkey_pivot(f, l, &c->range.start)) {
            rk_finish(c, l, true);
            return;
        }
        c->step = 2;
        rk_scan(c, false, RESP_RANDOMKEY_PAGE);
        return;
    }
    if (p->n == 0) /* the pivot fell after the last key */
        rk_finish(c, bs_buf_slice(&c->last), true);
    else
        rk_finish(c, bs_buf_slice(&p->v[resp_randomkey_pick(p->n)].key), true);
}

/* Chooses the segment of a uniform rank in d's table into c->range (rk_mu held). Returns
 * the keys to read of it, or 0 when there is no table. Huge strides read a page at a
 * random pivot inside the segment (its last segment: from its fence) instead. */
static uint32_t rk_segment(const rk_db *d, rk_ctx *c)
{
    const rk_table *t = &d->cur;
    if (t->n == 0 || t->total == 0)
        return 0;
    uint64_t rank = rand_next() % t->total;
    size_t i = (size_t)(rank / t->stride);
    if (i >= t->n)
        i = t->n - 1;
    bs_buf_set(&c->range.start, t->f[i].ptr, t->f[i].len);
    c->range.has_end = i + 1 < t->n;
    if (c->range.has_end)
        bs_buf_set(&c->range.end, t->f[i + 1].ptr, t->f[i + 1].len);
    if (t->stride * 2 <= RK_SEG_READ)
        return (uint32_t)(t->stride * 2); /* room for the segment to have grown */
    if (t->stride <= RK_SEG_READ)
        return RK_SEG_READ;
    bs_buf pivot = BS_BUF_INIT;
    if (c->range.has_end &&
        resp_randomkey_pivot(bs_buf_slice(&c->range.start), bs_buf_slice(&c->range.end), &pivot)) {
        bs_buf_free(&c->range.start);
        c->range.start = pivot;
    } else {
        bs_buf_free(&pivot);
    }
    return RESP_RANDOMKEY_PAGE;
}

void resp_cmd_randomkey(resp_req *req)
{
    rk_ctx *c = bs_calloc(1, sizeof(*c));
    c->req = req;
    client_scan_req walk;
    bool walk_page = false;
    uint32_t seg = 0;
    pthread_mutex_lock(&rk_mu);
    rk_db *d = rk_db_of(req->client, req->db);
    if (d) {
        seg = rk_segment(d, c);
        walk_page = rk_walk_step(d, bs_clock_mono_ms(), &walk);
    }
    pthread_mutex_unlock(&rk_mu);
    if (walk_page) {
        rk_walk *w = bs_malloc(sizeof(*w));
        w->d = d;
        client_scan(req->client, &walk, rk_walk_done, w);
    }
    if (seg == 0) {
        rk_bytespace(c);
        return;
    }
    c->step = 3;
    rk_scan(c, false, seg);
}

/* scan_cursor.c -- SCAN's integer cursors, mapped to "resume after this key".
 *
 * Redis's SCAN cursor is a hash-table position; clients treat it as an opaque decimal
 * integer (redis-py, go-redis and others parse it as a number), and what they rely on is
 * that a full iteration returns every key present from its start to its end. Basalt's
 * keyspace is ordered, so the natural position is the last key returned, which does not fit
 * in an integer. Hence a server-wide table: cursor -> (db, last key), under one mutex,
 * bounded in entries and key bytes, the least recently used entry evicted first. A page
 * that resumes from a known cursor replaces that cursor's entry with its own, so each
 * iteration holds one entry however long it runs.
 *
 * The cursor also carries the first 4 bytes of the key, so a cursor the table does not know
 * (evicted, replaced because the client asked with it twice, from before a restart, or made
 * up) still resumes safely: at that prefix, which sorts at or before the key. The iteration
 * then returns some keys again (SCAN allows duplicates) but misses none. Layout (bit 63 is
 * 0 so the value also fits a signed 64-bit integer):
 *
 *   62..31  the key's first 4 bytes, big-endian, zero padded
 *   30..28  how many of them are real (0..4)
 *   27..0   a sequence number, never 0 (so no cursor is 0, which means start and end)
 *
 * The sequence makes every saved cursor distinct from the others in the table. It starts
 * at a random value and wraps after 2^28 - 1 saves, so a stale cursor could only be
 * mistaken for a newer entry after a wrap (or a restart) AND with the same 4-byte prefix. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resp/resp_int.h"

#define PREFIX_BYTES 4
#define SEQ_BITS 28
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define LEN_SHIFT SEQ_BITS
#define PREFIX_SHIFT (SEQ_BITS + 3)

typedef struct entry {
    uint64_t cursor;
    uint32_t db;
    bs_buf key;
    struct entry *hnext;         /* bucket chain */
    struct entry *newer, *older; /* LRU list: tab.mru is the most recently used */
} entry;

static struct {
    pthread_mutex_t mu;
    entry **buckets; /* nbuckets, a power of two; NULL before first use */
    size_t nbuckets;
    /* Invariant (after every save): count <= max_entries and bytes <= max_bytes, except
     * that the entry just saved is never evicted. */
    size_t count, bytes;
    size_t max_entries, max_bytes;
    entry *mru, *lru;
    uint64_t seq; /* last sequence number handed out; 0 = not yet seeded */
} tab = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .max_entries = RESP_SCAN_CURSORS_MAX,
    .max_bytes = RESP_SCAN_CURSOR_BYTES_MAX,
};

static uint64_t prefix_bits(bs_slice key)
{
    size_t n = key.len < PREFIX_BYTES ? key.len : PREFIX_BYTES;
    uint64_t v = 0;
    for (size_t i = 0; i < PREFIX_BYTES; i++)
        v = (v << 8) | (i < n ? key.ptr[i] : 0);
    return (v << PREFIX_SHIFT) | ((uint64_t)n << LEN_SHIFT);
}

static size_t bucket_of(uint64_t cursor)
{
    return (size_t)((cursor * 0x9E3779B97F4A7C15ull) >> 24) & (tab.nbuckets - 1);
}

static entry *find(uint64_t cursor)
{
    if (tab.nbuckets == 0)
        return NULL;
    for (entry *e = tab.buckets[bucket_of(cursor)]; e; e = e->hnext)
        if (e->cursor == cursor)
            return e;
    return NULL;
}

static void lru_unlink(entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        tab.mru = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        tab.lru = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(entry *e)
{
    e->newer = NULL;
    e->older = tab.mru;
    if (tab.mru)
        tab.mru->newer = e;
    tab.mru = e;
    if (!tab.lru)
        tab.lru = e;
}

static void rehash(size_t n)
{
    entry **b = bs_calloc(n, sizeof(entry *));
    entry **old = tab.buckets;
    size_t oldn = tab.nbuckets;
    tab.buckets = b;
    tab.nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        entry *e = old[i];
        while (e) {
            entry *next = e->hnext;
            size_t h = bucket_of(e->cursor);
            e->hnext = b[h];
            b[h] = e;
            e = next;
        }
    }
    bs_free(old);
}

static void remove_entry(entry *e)
{
    entry **pp = &tab.buckets[bucket_of(e->cursor)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    tab.count--;
    tab.bytes -= e->key.len;
    bs_buf_free(&e->key);
    bs_free(e);
}

static void evict(const entry *keep)
{
    while ((tab.count > tab.max_entries || tab.bytes > tab.max_bytes) && tab.lru && tab.lru != keep)
        remove_entry(tab.lru);
}

static uint64_t next_seq(void)
{
    if (tab.seq == 0) {
        /* A random start, so cursors from before a restart rarely meet new entries. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                     ((uint64_t)getpid() << 32);
        x ^= x >> 29;
        tab.seq = x & SEQ_MASK;
    }
    do {
        tab.seq = (tab.seq + 1) & SEQ_MASK;
    } while (tab.seq == 0);
    return tab.seq;
}

uint64_t resp_scan_cursor_save(uint32_t db, bs_slice last_key, uint64_t prev)
{
    pthread_mutex_lock(&tab.mu);
    if (tab.nbuckets == 0)
        rehash(1024);
    if (prev != 0) {
        entry *old = find(prev);
        if (old && old->db == db)
            remove_entry(old);
    }
    entry *e = bs_calloc(1, sizeof(*e));
    uint64_t cursor;
    do { /* distinct from every cursor in the table (the loop ends: the table is finite) */
        cursor = prefix_bits(last_key) | next_seq();
    } while (find(cursor) != NULL);
    e->cursor = cursor;
    e->db = db;
    bs_buf_set(&e->key, last_key.ptr, last_key.len);
    size_t h = bucket_of(cursor);
    e->hnext = tab.buckets[h];
    tab.buckets[h] = e;
    lru_push(e);
    tab.count++;
    tab.bytes += last_key.len;
    if (tab.count > tab.nbuckets)
        rehash(tab.nbuckets * 2);
    evict(e);
    pthread_mutex_unlock(&tab.mu);
    return cursor;
}

bool resp_scan_cursor_resume(uint64_t cursor, uint32_t db, bs_buf *start)
{
    bool known = false;
    bs_buf_reset(start);
    pthread_mutex_lock(&tab.mu);
    entry *e = find(cursor);
    if (e && e->db == db) {
        /* The smallest key after e->key is e->key followed by a zero byte. */
        bs_buf_append_slice(start, bs_buf_slice(&e->key));
        bs_buf_append_byte(start, 0);
        if (tab.mru != e) {
            lru_unlink(e);
            lru_push(e);
        }
        known = true;
    }
    pthread_mutex_unlock(&tab.mu);
    if (!known) {
        size_t n = (size_t)((cursor >> LEN_SHIFT) & 7);
        if (n > PREFIX_BYTES) /* a made-up cursor: any start is safe, take what is there */
            n = PREFIX_BYTES;
        for (size_t i = 0; i < n; i++)
            bs_buf_append_byte(start,
                               (uint8_t)(cursor >> (PREFIX_SHIFT + 8 * (PREFIX_BYTES - 1 - i))));
    }
    return known;
}

void resp_scan_cursor_set_limits(size_t max_entries, size_t max_bytes)
{
    pthread_mutex_lock(&tab.mu);
    tab.max_entries = max_entries ? max_entries : RESP_SCAN_CURSORS_MAX;
    tab.max_bytes = max_bytes ? max_bytes : RESP_SCAN_CURSOR_BYTES_MAX;
    evict(NULL);
    pthread_mutex_unlock(&tab.mu);
}

void resp_scan_cursor_reset(void)
{
    pthread_mutex_lock(&tab.mu);
    while (tab.lru)
        remove_entry(tab.lru);
    pthread_mutex_unlock(&tab.mu);
}

size_t resp_scan_cursor_count(void)
{
    pthread_mutex_lock(&tab.mu);
    size_t n = tab.count;
    pthread_mutex_unlock(&tab.mu);
    return n;
}

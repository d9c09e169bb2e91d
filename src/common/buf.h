/* buf.h -- length-carrying byte views and owned byte buffers.
 *
 * User keys and values are arbitrary bytes (NUL, CR, LF included), so they travel as
 * (pointer, length) pairs and are compared with memcmp-then-length (RocksDB's bytewise
 * order). NUL-terminated strings are for config keys, paths, logs and error text only.
 *
 * Ownership: a bs_slice is always borrowed (it never owns its bytes); a bs_buf owns its
 * bytes and is released with bs_buf_free(). Allocation failure aborts the process (as
 * Redis's zmalloc does): Basalt cannot keep its durability promise once malloc fails, and
 * every caller would otherwise need an unreachable error path.
 * Thread affinity: none; a buffer must not be shared between threads without a lock. */
#ifndef BASALT_COMMON_BUF_H
#define BASALT_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bs_slice {
    const uint8_t *ptr; /* borrowed; may be NULL only when len == 0 */
    size_t len;
} bs_slice;

typedef struct bs_buf {
    uint8_t *ptr; /* owned; NULL when cap == 0 */
    size_t len;   /* Invariant: len <= cap */
    size_t cap;
} bs_buf;

#define BS_SLICE_NULL ((bs_slice){NULL, 0})
#define BS_BUF_INIT ((bs_buf){NULL, 0, 0})

/* Allocation helpers: never return NULL (abort on exhaustion). */
void *bs_malloc(size_t n);
void *bs_calloc(size_t n, size_t size);
void *bs_realloc(void *p, size_t n);
char *bs_strdup(const char *s); /* for C strings only (config, paths) */
void bs_free(void *p);          /* accepts NULL */

static inline bs_slice bs_slice_make(const void *ptr, size_t len)
{
    return (bs_slice){(const uint8_t *)ptr, len};
}

/* A view of a C string's bytes, without the NUL. s must outlive the slice. */
bs_slice bs_slice_from_str(const char *s);

/* Bytewise order: memcmp of the common prefix, then the shorter sorts first.
 * Returns <0, 0 or >0. */
int bs_slice_cmp(bs_slice a, bs_slice b);
bool bs_slice_eq(bs_slice a, bs_slice b);
bool bs_slice_starts_with(bs_slice s, bs_slice prefix);

/* bs_buf: caller-allocated, initialised with BS_BUF_INIT or bs_buf_init(). */
void bs_buf_init(bs_buf *b);
void bs_buf_free(bs_buf *b); /* releases the bytes and re-initialises; b may be NULL */
void bs_buf_reset(bs_buf *b); /* len = 0, keeps capacity */
void bs_buf_reserve(bs_buf *b, size_t extra); /* ensures cap >= len + extra */
void bs_buf_append(bs_buf *b, const void *p, size_t n);
void bs_buf_append_slice(bs_buf *b, bs_slice s);
void bs_buf_append_byte(bs_buf *b, uint8_t c);
void bs_buf_set(bs_buf *b, const void *p, size_t n); /* replace contents */
/* Moves the bytes out: returns ptr (caller owns, free with bs_free) and re-initialises b. */
uint8_t *bs_buf_detach(bs_buf *b, size_t *len_out);

static inline bs_slice bs_buf_slice(const bs_buf *b)
{
    return (bs_slice){b->ptr, b->len};
}

#endif

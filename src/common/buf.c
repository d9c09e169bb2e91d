/* buf.c -- bs_slice comparisons, bs_buf growth and the aborting allocators. */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

static void oom(size_t n)
{
    /* No logging machinery here: it may itself need memory. */
    fprintf(stderr, "basalt: out of memory allocating %zu bytes\n", n);
    abort();
}

void *bs_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *bs_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *bs_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *bs_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = bs_malloc(n);
    memcpy(d, s, n);
    return d;
}

void bs_free(void *p)
{
    free(p);
}

bs_slice bs_slice_from_str(const char *s)
{
    return (bs_slice){(const uint8_t *)s, strlen(s)};
}

int bs_slice_cmp(bs_slice a, bs_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

bool bs_slice_eq(bs_slice a, bs_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool bs_slice_starts_with(bs_slice s, bs_slice prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

void bs_buf_init(bs_buf *b)
{
    *b = BS_BUF_INIT;
}

void bs_buf_free(bs_buf *b)
{
    if (!b)
        return;
    free(b->ptr);
    *b = BS_BUF_INIT;
}

void bs_buf_reset(bs_buf *b)
{
    b->len = 0;
}

void bs_buf_reserve(bs_buf *b, size_t extra)
{
    BS_ASSERT(b->len <= b->cap);
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    if (need < b->len)
        oom(SIZE_MAX); /* overflow */
    size_t cap = b->cap ? b->cap : 16;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->ptr = bs_realloc(b->ptr, cap);
    b->cap = cap;
}

void bs_buf_append(bs_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    bs_buf_reserve(b, n);
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
}

void bs_buf_append_slice(bs_buf *b, bs_slice s)
{
    bs_buf_append(b, s.ptr, s.len);
}

void bs_buf_append_byte(bs_buf *b, uint8_t c)
{
    bs_buf_reserve(b, 1);
    b->ptr[b->len++] = c;
}

void bs_buf_set(bs_buf *b, const void *p, size_t n)
{
    b->len = 0;
    bs_buf_append(b, p, n);
}

uint8_t *bs_buf_detach(bs_buf *b, size_t *len_out)
{
    uint8_t *p = b->ptr;
    if (len_out)
        *len_out = b->len;
    *b = BS_BUF_INIT;
    return p;
}

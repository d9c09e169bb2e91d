/* outq.c -- the bytes of one stream waiting for HTTP/2 DATA frames.
 *
 * A handler may queue messages faster than flow control lets them leave; the queue holds
 * them framed (5-byte prefix + bytes) in one growable buffer read from an offset, and
 * compacts when the consumed prefix dominates, so a steady stream does not grow without
 * bound. Callers bound the queue by watching net_outq_len (NET_CALL_HIGH_WATER). */
#include <string.h>

#include "common/assert.h"
#include "net/net_int.h"

void net_outq_init(net_outq *q)
{
    bs_buf_init(&q->buf);
    q->off = 0;
}

void net_outq_deinit(net_outq *q)
{
    bs_buf_free(&q->buf);
    q->off = 0;
}

size_t net_outq_len(const net_outq *q)
{
    return q->buf.len - q->off;
}

void net_outq_push_msg(net_outq *q, const void *msg, size_t len)
{
    BS_ASSERT(len <= UINT32_MAX);
    if (q->off > 0 && (q->off == q->buf.len || q->off >= q->buf.len / 2)) {
        memmove(q->buf.ptr, q->buf.ptr + q->off, q->buf.len - q->off);
        q->buf.len -= q->off;
        q->off = 0;
    }
    uint8_t hdr[NET_FRAME_HDR];
    net_frame_header(hdr, 0, (uint32_t)len);
    bs_buf_append(&q->buf, hdr, sizeof hdr);
    if (len > 0)
        bs_buf_append(&q->buf, msg, len);
}

size_t net_outq_pop(net_outq *q, uint8_t *dst, size_t max)
{
    size_t n = net_outq_len(q);
    if (n > max)
        n = max;
    if (n > 0)
        memcpy(dst, q->buf.ptr + q->off, n);
    q->off += n;
    if (q->off == q->buf.len) {
        q->off = 0;
        if (q->buf.cap > (1u << 20))
            bs_buf_free(&q->buf); /* give back the memory of a large burst */
        else
            bs_buf_reset(&q->buf);
    }
    return n;
}

void net_outq_clear(net_outq *q)
{
    bs_buf_free(&q->buf);
    q->off = 0;
}

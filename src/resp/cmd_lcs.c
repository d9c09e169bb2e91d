/* cmd_lcs.c -- LCS, the longest common subsequence of two strings (Redis 7).
 *
 * Read-only, so it is computed here from one batch read of both keys (a missing key is an
 * empty string) rather than on the store. The dynamic-programming table has
 * (len1 + 1) * (len2 + 1) cells, and Redis refuses when it would exceed proto-max-bulk-len
 * bytes; Basalt does the same, with the same texts and the same order of the matches in
 * the IDX reply (last match first). The table is filled on the thread of the client's
 * callback: at the limit that is a few hundred milliseconds of CPU, as in Redis. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp/conn_int.h" /* the server's settings (proto-max-bulk-len) */
#include "resp/resp_int.h"


/* ---- LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
 * ------------------------------------------------------------------------------- */

typedef struct lcs_ctx {
    resp_req *req;
    resp_lcs_args a;
    bs_slice keys[2]; /* kept until the callback (the client may retry) */
} lcs_ctx;

typedef struct lcs_range {
    uint32_t a_start, a_end, b_start, b_end;
} lcs_range;

/* The classic dynamic-programming table of LCS lengths, then a walk back from the corner
 * that collects the common string and, for IDX, the matching ranges (last first, as Redis
 * emits them). Read-only, so computing it here from two reads is safe. */
void resp_reply_lcs(resp_out *o, const resp_lcs_args *c, bs_slice a, bs_slice b)
{
    long long max_table = c->max_table;
    if (a.len >= UINT32_MAX - 1 || b.len >= UINT32_MAX - 1) {
        resp_reply_error_str(o, "String too long for LCS");
        return;
    }
    uint32_t alen = (uint32_t)a.len, blen = (uint32_t)b.len;
    unsigned long long cells = (unsigned long long)(alen + 1ull) * (blen + 1ull);
    if (cells > (unsigned long long)max_table / sizeof(uint32_t)) {
        resp_reply_error_str(o, "Insufficient memory, transient memory for LCS exceeds "
                                      "proto-max-bulk-len");
        return;
    }
    /* Up to proto-max-bulk-len bytes asked for by a client: a failure is an error reply,
     * as in Redis (ztrymalloc), not the abort of bs_malloc. */
    uint32_t *t = malloc((size_t)cells * sizeof(uint32_t));
    if (!t) {
        resp_reply_error_str(o, "Insufficient memory, failed allocating transient memory "
                                      "for LCS");
        return;
    }
#define LCS(i, j) t[(size_t)(j) + (size_t)(i) * (blen + 1)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a.ptr[i - 1] == b.ptr[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
    uint32_t total = LCS(alen, blen), idx = total;
    bool compute = c->getidx || !c->getlen;
    uint8_t *result = compute ? bs_malloc(total + 1) : NULL;
    lcs_range *ranges = NULL;
    size_t nranges = 0, cap = 0;
    uint32_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
    uint32_t i = alen, j = blen;
    while (compute && i > 0 && j > 0) {
        bool emit = false;
        if (a.ptr[i - 1] == b.ptr[j - 1]) {
            result[idx - 1] = a.ptr[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) { /* contiguous: extend backwards */
                as--;
                bs--;
            } else {
                emit = true;
            }
            if (as == 0 || bs == 0)
                emit = true;
            idx--;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (as != alen)
                emit = true;
        }
        if (emit) {
            uint32_t mlen = ae - as + 1;
            if (c->getidx && (c->minmatchlen == 0 || mlen >= c->minmatchlen)) {
                if (nranges == cap) {
                    cap = cap ? cap * 2 : 16;
                    ranges = bs_realloc(ranges, cap * sizeof(*ranges));
                }
                ranges[nranges++] = (lcs_range){as, ae, bs, be};
            }
            as = alen;
        }
    }
    if (c->getidx) {
        resp_reply_map(o, 2);
        resp_reply_bulk_str(o, "matches");
        resp_reply_array(o, nranges);
        for (size_t k = 0; k < nranges; k++) {
            resp_reply_array(o, c->withmatchlen ? 3 : 2);
            resp_reply_array(o, 2);
            resp_reply_int(o, ranges[k].a_start);
            resp_reply_int(o, ranges[k].a_end);
            resp_reply_array(o, 2);
            resp_reply_int(o, ranges[k].b_start);
            resp_reply_int(o, ranges[k].b_end);
            if (c->withmatchlen)
                resp_reply_int(o, ranges[k].a_end - ranges[k].a_start + 1);
        }
        resp_reply_bulk_str(o, "len");
        resp_reply_int(o, total);
    } else if (c->getlen) {
        resp_reply_int(o, total);
    } else {
        resp_reply_bulk(o, result, total);
    }
#undef LCS
    bs_free(ranges);
    bs_free(result);
    free(t);
}

static void done_lcs(void *arg, client_result *res)
{
    lcs_ctx *ctx = arg;
    resp_req *req = ctx->req;
    if (res->code != BS_OK) {
        resp_reply_client_error(req, res);
    } else {
        /* Missing keys count as empty strings; pairs come in request order. */
        bs_slice v[2] = {BS_SLICE_NULL, BS_SLICE_NULL};
        size_t k = 0;
        for (size_t i = 0; i < 2; i++) {
            if (k < res->pairs.n &&
                bs_slice_eq(bs_buf_slice(&res->pairs.v[k].key), resp_req_arg(req, i + 1))) {
                v[i] = bs_buf_slice(&res->pairs.v[k].value);
                k++;
            }
        }
        resp_reply_lcs(&req->o, &ctx->a, v[0], v[1]);
        resp_req_finish(req);
    }
    bs_free(ctx);
}

bool resp_args_lcs(resp_req *req, long long max_table, resp_lcs_args *a)
{
    memset(a, 0, sizeof(*a));
    a->max_table = max_table;
    for (size_t j = 3; j < req->argc; j++) {
        bs_slice arg = resp_req_arg(req, j);
        if (resp_arg_is(arg, "idx")) {
            a->getidx = true;
        } else if (resp_arg_is(arg, "len")) {
            a->getlen = true;
        } else if (resp_arg_is(arg, "withmatchlen")) {
            a->withmatchlen = true;
        } else if (resp_arg_is(arg, "minmatchlen") && j + 1 < req->argc) {
            if (!resp_parse_ll(resp_req_arg(req, ++j), &a->minmatchlen)) {
                resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
                return false;
            }
            if (a->minmatchlen < 0)
                a->minmatchlen = 0;
        } else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            return false;
        }
    }
    if (a->getlen && a->getidx) {
        resp_reply_error_str(&req->o,
                             "If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

void resp_cmd_lcs(resp_req *req)
{
    lcs_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    /* Read on the loop thread, where CONFIG SET changes it. */
    if (!resp_args_lcs(req, req->srv->set.proto_max_bulk_len, &ctx->a)) {
        bs_free(ctx);
        resp_req_finish(req);
        return;
    }
    ctx->keys[0] = resp_req_arg(req, 1);
    ctx->keys[1] = resp_req_arg(req, 2);
    client_batch_get(req->client, req->db, ctx->keys, 2, done_lcs, ctx);
}

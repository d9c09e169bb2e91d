/* fuzz_resp_parser.c -- libFuzzer target for the RESP request parser.
 *
 * Network bytes are hostile input, and the parser keeps state across reads, so the
 * properties checked here are the ones a connection relies on:
 *   1. no crash, no out-of-bounds access, no leak (ASan/UBSan) on any byte stream;
 *   2. the result does not depend on how the stream is cut into reads: parsing it in
 *      random pieces (fed by copy or written through resp_parser_wbuf, with arguments
 *      detached now and then) gives the same commands and the same error as one piece;
 *   3. the reply encoder and the parser agree: every parsed command, re-encoded as a
 *      multibulk array with resp_reply_*, parses back to itself.
 * Input layout: byte 0 picks the limits (lowered so the fuzzer reaches the big-argument
 * path and every "too big"/"invalid" error with small inputs), byte 1 seeds the chunk
 * sizes, the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/proto.h"

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32; the seed is never 0. */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void note_cmd(bs_buf *t, size_t argc, const bs_slice *argv)
{
    char h[32];
    int n = snprintf(h, sizeof(h), "%zu", argc);
    bs_buf_append(t, h, (size_t)n);
    for (size_t i = 0; i < argc; i++) {
        n = snprintf(h, sizeof(h), "[%zu:", argv[i].len);
        bs_buf_append(t, h, (size_t)n);
        bs_buf_append_slice(t, argv[i]);
        bs_buf_append_byte(t, ']');
    }
    bs_buf_append_byte(t, '\n');
}

static void note_end(resp_parser *p, resp_parse_status st, bs_buf *t)
{
    if (st == RESP_PARSE_ERROR) {
        const char *e = resp_parser_error(p);
        if (e[0] == '\0')
            abort();
        bs_buf_append(t, "ERR ", 4);
        bs_buf_append(t, e, strlen(e));
    } else {
        bs_buf_append(t, "MORE", 4);
    }
}

/* Drains every ready command into the transcript; with rng, detaches some arguments and
 * records the detached copies instead, which must be identical. */
static resp_parse_status drain(resp_parser *p, bs_buf *t, bs_buf *reenc, uint32_t *rng)
{
    resp_cmd cmd;
    resp_parse_status st;
    while ((st = resp_parser_next(p, &cmd)) == RESP_PARSE_CMD) {
        if (cmd.argc == 0)
            abort();
        if (reenc) {
            resp_out o;
            resp_out_init_buf(&o, reenc, 2);
            resp_reply_array(&o, cmd.argc);
            for (size_t i = 0; i < cmd.argc; i++)
                resp_reply_bulk_slice(&o, cmd.argv[i]);
        }
        if (rng && (rng_next(rng) & 3) == 0) {
            size_t i = rng_next(rng) % cmd.argc;
            bs_buf d = BS_BUF_INIT;
            bs_slice before = cmd.argv[i];
            resp_parser_detach_arg(p, i, &d);
            if (!bs_slice_eq(before, bs_buf_slice(&d)))
                abort();
            /* Record from the detached copy after the parser moved on a little. */
            bs_slice *copy = malloc(cmd.argc * sizeof(*copy));
            memcpy(copy, cmd.argv, cmd.argc * sizeof(*copy));
            copy[i] = bs_buf_slice(&d);
            note_cmd(t, cmd.argc, copy);
            free(copy);
            bs_buf_free(&d);
        } else {
            note_cmd(t, cmd.argc, cmd.argv);
        }
    }
    return st;
}

static void parse_whole(const resp_parser_config *cfg, const uint8_t *d, size_t n, bs_buf *t,
                        bs_buf *reenc)
{
    resp_parser p;
    resp_parser_init(&p, cfg);
    resp_parser_feed(&p, d, n);
    resp_parse_status st = drain(&p, t, reenc, NULL);
    if (st == RESP_PARSE_MORE && resp_parser_pending(&p) > n)
        abort();
    note_end(&p, st, t);
    resp_parser_deinit(&p);
}

static void parse_chunked(const resp_parser_config *cfg, const uint8_t *d, size_t n,
                          uint32_t seed, bs_buf *t)
{
    resp_parser p;
    resp_parser_init(&p, cfg);
    uint32_t rng = seed;
    size_t at = 0;
    resp_parse_status st = RESP_PARSE_MORE;
    while (st != RESP_PARSE_ERROR) {
        size_t want = 1 + rng_next(&rng) % ((rng & 0x100) ? 4 : 97);
        if (want > n - at)
            want = n - at;
        if (rng_next(&rng) & 1) {
            resp_parser_feed(&p, d + at, want);
        } else {
            size_t avail;
            uint8_t *w = resp_parser_wbuf(&p, &avail);
            if (avail == 0)
                abort();
            if (want > avail)
                want = avail;
            memcpy(w, d + at, want);
            resp_parser_commit(&p, want);
        }
        at += want;
        st = drain(&p, t, NULL, &rng);
        if (at == n)
            break;
    }
    note_end(&p, st, t);
    resp_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t knobs = data[0];
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 0x01000193u);
    data += 2;
    size -= 2;

    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    if (knobs & 0x01)
        cfg.big_arg = 1 + (knobs >> 5); /* 1..8: most bulks take the big path */
    if (knobs & 0x02)
        cfg.inline_max = 4 + (knobs >> 4); /* short lines hit "too big ..." */
    /* Keep declared sizes small: a valid "$536870912" header makes the parser allocate
     * the whole bulk at once (as Redis does), which only slows the fuzzer down. */
    cfg.max_bulk_len = 1 << 20;
    if (knobs & 0x04)
        cfg.max_bulk_len = knobs >> 3; /* 0..31 */
    if (knobs & 0x08)
        cfg.max_multibulk_len = knobs >> 4; /* 0..15 */
    if (knobs & 0x10)
        cfg.auth_required = true;

    bs_buf whole = BS_BUF_INIT, chunked = BS_BUF_INIT, reenc = BS_BUF_INIT;
    parse_whole(&cfg, data, size, &whole, &reenc);
    parse_chunked(&cfg, data, size, seed, &chunked);
    if (whole.len != chunked.len || memcmp(whole.ptr, chunked.ptr, whole.len) != 0) {
        fprintf(stderr, "whole:\n%.*s\nchunked:\n%.*s\n", (int)whole.len, (char *)whole.ptr,
                (int)chunked.len, (char *)chunked.ptr);
        abort();
    }

    /* Round trip: the commands of the whole parse, re-encoded, parse back to themselves
     * (with limits that admit them). */
    resp_parser_config open;
    resp_parser_config_default(&open);
    open.big_arg = cfg.big_arg;
    bs_buf back = BS_BUF_INIT;
    parse_whole(&open, reenc.ptr, reenc.len, &back, NULL);
    size_t cmds_len = whole.len;
    while (cmds_len > 0 && whole.ptr[cmds_len - 1] != '\n')
        cmds_len--;
    /* The transcript's tail ("MORE"/"ERR ...") follows the last command line. */
    if (back.len != cmds_len + 4 || memcmp(back.ptr, whole.ptr, cmds_len) != 0 ||
        memcmp(back.ptr + cmds_len, "MORE", 4) != 0)
        abort();

    bs_buf_free(&whole);
    bs_buf_free(&chunked);
    bs_buf_free(&reenc);
    bs_buf_free(&back);
    return 0;
}

/* test_parse.c -- the RESP request parser against Redis 7's behaviour: every protocol error
 * text, empty requests, inline quoting (sdssplitargs), binary-safe bulks, Redis's quirks,
 * chunking at every byte offset, deep pipelines and a 100 MB bulk read in 64 KiB pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/proto.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* ---- helpers --------------------------------------------------------------------------- */

/* Serialises what a parser produced into a transcript: each command as
 * "<argc>[<len>:<bytes>]...\n", then "MORE" or "ERR <text>". Two parses agree exactly
 * when their transcripts are equal. */
static resp_parse_status drain(resp_parser *p, bs_buf *t)
{
    resp_cmd cmd;
    resp_parse_status st;
    while ((st = resp_parser_next(p, &cmd)) == RESP_PARSE_CMD) {
        char h[32];
        int n = snprintf(h, sizeof(h), "%zu", cmd.argc);
        bs_buf_append(t, h, (size_t)n);
        for (size_t i = 0; i < cmd.argc; i++) {
            n = snprintf(h, sizeof(h), "[%zu:", cmd.argv[i].len);
            bs_buf_append(t, h, (size_t)n);
            bs_buf_append_slice(t, cmd.argv[i]);
            bs_buf_append_byte(t, ']');
        }
        bs_buf_append_byte(t, '\n');
    }
    return st;
}

static void finish(resp_parser *p, resp_parse_status st, bs_buf *t)
{
    if (st == RESP_PARSE_ERROR) {
        bs_buf_append(t, "ERR ", 4);
        bs_buf_append(t, resp_parser_error(p), strlen(resp_parser_error(p)));
    } else {
        bs_buf_append(t, "MORE", 4);
    }
}

static const resp_parser_config *cfg_or_default(const resp_parser_config *cfg)
{
    static resp_parser_config def;
    resp_parser_config_default(&def);
    return cfg ? cfg : &def;
}

/* Feeds data in pieces cut at cuts[0..ncuts) (increasing offsets), draining after each. */
static void parse_cut(const resp_parser_config *cfg, const void *data, size_t len,
                      const size_t *cuts, size_t ncuts, bs_buf *t)
{
    resp_parser p;
    resp_parser_init(&p, cfg_or_default(cfg));
    const uint8_t *d = data;
    size_t at = 0;
    resp_parse_status st = RESP_PARSE_MORE;
    for (size_t i = 0; i <= ncuts && st != RESP_PARSE_ERROR; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        resp_parser_feed(&p, d + at, end - at);
        at = end;
        st = drain(&p, t);
    }
    finish(&p, st, t);
    resp_parser_deinit(&p);
}

static void parse_once(const resp_parser_config *cfg, const void *data, size_t len, bs_buf *t)
{
    parse_cut(cfg, data, len, NULL, 0, t);
}

/* Asserts that data parses to the transcript `want` in one piece, cut at every offset,
 * and byte by byte. */
static void must_parse_cfg(const resp_parser_config *cfg, const void *data, size_t len,
                           const char *want, size_t wlen)
{
    bs_buf t = BS_BUF_INIT;
    parse_once(cfg, data, len, &t);
    if (t.len != wlen || memcmp(t.ptr, want, wlen) != 0)
        fail_msg("one-shot transcript\n%.*s\nwanted\n%s", (int)t.len, (const char *)t.ptr, want);
    for (size_t k = 0; k <= len; k++) {
        bs_buf_reset(&t);
        parse_cut(cfg, data, len, &k, 1, &t);
        if (t.len != wlen || memcmp(t.ptr, want, wlen) != 0)
            fail_msg("split at %zu: transcript\n%.*s\nwanted\n%s", k, (int)t.len,
                     (const char *)t.ptr, want);
    }
    if (len < 20000) {
        size_t *cuts = malloc((len + 1) * sizeof(*cuts));
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        bs_buf_reset(&t);
        parse_cut(cfg, data, len, cuts, len ? len - 1 : 0, &t);
        free(cuts);
        if (t.len != wlen || memcmp(t.ptr, want, wlen) != 0)
            fail_msg("byte by byte: transcript\n%.*s\nwanted\n%s", (int)t.len,
                     (const char *)t.ptr, want);
    }
    bs_buf_free(&t);
}

#define must_parse(lit, want) must_parse_cfg(NULL, LIT(lit), LIT(want))

/* ---- multibulk ------------------------------------------------------------------------- */

static void test_multibulk_basic(void **state)
{
    (void)state;
    must_parse("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", "3[3:SET][1:k][5:hello]\nMORE");
    must_parse("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", "1[4:PING]\n1[4:PING]\nMORE");
    must_parse("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "2[3:GET][0:]\nMORE");
    /* Incomplete at the end: nothing produced yet. */
    must_parse("*2\r\n$3\r\nGET\r\n$3\r\nab", "MORE");
}

static void test_binary_args(void **state)
{
    (void)state;
    must_parse("*3\r\n$3\r\nSET\r\n$4\r\nk\0\r\n\r\n$6\r\n\r\n\0\0\r\n\r\n",
               "3[3:SET][4:k\0\r\n][6:\r\n\0\0\r\n]\nMORE");
    /* \0 in the length lines of the *next* bulk must not disturb this one. */
    must_parse("*1\r\n$1\r\n\0\r\n", "1[1:\0]\nMORE");
}

static void test_empty_requests_are_skipped(void **state)
{
    (void)state;
    must_parse("\r\n*1\r\n$4\r\nPING\r\n", "1[4:PING]\nMORE");
    must_parse("*-10\r\n*1\r\n$4\r\nPING\r\n", "1[4:PING]\nMORE");
    must_parse("*0\r\n*-1\r\n\n \r\n\t \n*1\r\n$4\r\nPING\r\n", "1[4:PING]\nMORE");
}

static void test_redis_quirks_are_kept(void **state)
{
    (void)state;
    /* The byte after '\r' of a header line is skipped unread, as Redis does. */
    must_parse("*1\rX$3\rYfoo\r\n", "1[3:foo]\nMORE");
    /* The two bytes after a bulk are skipped unread. */
    must_parse("*2\r\n$3\r\nfooXY$3\r\nbar!!", "2[3:foo][3:bar]\nMORE");
    /* A count of 10 digits is fine; leading zeros and '+' are not (string2ll). */
    must_parse("*1\r\n$0000000001\r\nx\r\n", "ERR Protocol error: invalid bulk length");
    must_parse("*+1\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*01\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*-0\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("* 1\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*1 \r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*1\n\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*-9223372036854775808\r\n*1\r\n$1\r\na\r\n", "1[1:a]\nMORE");
    must_parse("*-9223372036854775809\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*-\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*18446744073709551615\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*9223372036854775808\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*-000000000000000000001\r\n", "ERR Protocol error: invalid multibulk length");
    /* A NUL hides the line end from Redis's strchr(): the request waits. */
    must_parse("*1\0\r\n$1\r\na\r\n", "MORE");
    must_parse("*1\r\n$1\0\r\na\r\n", "MORE");
    must_parse("GET a\0b\r\nPING\r\n", "MORE");
}

/* ---- every protocol error text --------------------------------------------------------- */

static void test_invalid_multibulk_length(void **state)
{
    (void)state;
    must_parse("*3000000000\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*2147483648\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*abc\r\n", "ERR Protocol error: invalid multibulk length");
    must_parse("*1\r\n$1\r\na\r\n*x\r\n", "1[1:a]\nERR Protocol error: invalid multibulk length");
    /* Redis 7 accepts counts up to INT_MAX; the argv grows only as bulks arrive. */
    must_parse("*2147483647\r\n$1\r\na\r\n", "MORE");
    must_parse("*20000000\r\n", "MORE");
    /* Redis 6's limit, available through the configuration. */
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.max_multibulk_len = 1024 * 1024;
    must_parse_cfg(&cfg, LIT("*20000000\r\n"),
                   LIT("ERR Protocol error: invalid multibulk length"));
    must_parse_cfg(&cfg, LIT("*1048576\r\n"), LIT("MORE"));
}

static void test_invalid_bulk_length(void **state)
{
    (void)state;
    must_parse("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "ERR Protocol error: invalid bulk length");
    must_parse("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
               "ERR Protocol error: invalid bulk length");
    must_parse("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n",
               "ERR Protocol error: invalid bulk length");
    must_parse("*1\r\n$\r\n", "ERR Protocol error: invalid bulk length");
    must_parse("*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length");
    /* proto-max-bulk-len is inclusive and configurable. */
    must_parse("*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length");
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.max_bulk_len = 3;
    must_parse_cfg(&cfg, LIT("*1\r\n$3\r\nabc\r\n*1\r\n$4\r\nabcd\r\n"),
                   LIT("1[3:abc]\nERR Protocol error: invalid bulk length"));
}

static void test_expected_dollar(void **state)
{
    (void)state;
    must_parse("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
               "ERR Protocol error: expected '$', got 'f'");
    must_parse("*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'");
    must_parse("*2\r\n$1\r\na\r\n*1\r\n", "ERR Protocol error: expected '$', got '*'");
    /* CR and LF are shown as spaces, as addReplyErrorFormat() maps them. */
    must_parse("*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '");
    must_parse("*1\r\n\n\r\n", "ERR Protocol error: expected '$', got ' '");
    /* The error waits for a complete line, as Redis does. */
    must_parse("*1\r\nfoo", "MORE");
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);
    memcpy(s, prefix, pl);
    memset(s + pl, c, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void must_parse_big(const char *s, size_t len, const char *want)
{
    /* One shot and every offset would take too long at 64 KiB; sample the offsets. */
    bs_buf t = BS_BUF_INIT;
    parse_once(NULL, s, len, &t);
    assert_int_equal(t.len, strlen(want));
    assert_memory_equal(t.ptr, want, t.len);
    for (size_t k = 0; k <= len; k += 997) {
        bs_buf_reset(&t);
        parse_cut(NULL, s, len, &k, 1, &t);
        assert_int_equal(t.len, strlen(want));
        assert_memory_equal(t.ptr, want, t.len);
    }
    size_t cuts[64];
    for (size_t i = 0; i < 64; i++)
        cuts[i] = (i + 1) * 1024;
    bs_buf_reset(&t);
    parse_cut(NULL, s, len, cuts, len / 1024 < 64 ? len / 1024 : 64, &t);
    assert_int_equal(t.len, strlen(want));
    assert_memory_equal(t.ptr, want, t.len);
    bs_buf_free(&t);
}

static void test_too_big_lines(void **state)
{
    (void)state;
    char *s;
    /* Unterminated lines: an error as soon as more than 64 KiB wait. */
    s = repeat('1', RESP_INLINE_MAX, "*", "");
    must_parse_big(s, strlen(s), "ERR Protocol error: too big mbulk count string");
    free(s);
    s = repeat('1', RESP_INLINE_MAX - 1, "*", "");
    must_parse_big(s, strlen(s), "MORE");
    free(s);
    s = repeat('1', RESP_INLINE_MAX, "*1\r\n$", "");
    must_parse_big(s, strlen(s), "ERR Protocol error: too big bulk count string");
    free(s);
    s = repeat('A', RESP_INLINE_MAX + 1, "", "");
    must_parse_big(s, strlen(s), "ERR Protocol error: too big inline request");
    free(s);
    s = repeat('A', RESP_INLINE_MAX, "", "");
    must_parse_big(s, strlen(s), "MORE");
    free(s);
    /* Terminated but longer than 64 KiB: the same error whatever the chunking. */
    s = repeat('A', RESP_INLINE_MAX + 1, "", "\n");
    must_parse_big(s, strlen(s), "ERR Protocol error: too big inline request");
    free(s);
    s = repeat('A', RESP_INLINE_MAX, "", "\r\n"); /* 64 KiB + CR before the LF */
    must_parse_big(s, strlen(s), "ERR Protocol error: too big inline request");
    free(s);
    s = repeat('A', RESP_INLINE_MAX - 1, "", "\r\nPING\r\n");
    bs_buf t = BS_BUF_INIT;
    parse_once(NULL, s, strlen(s), &t);
    assert_true(t.len > 10 && memcmp(t.ptr + t.len - 15, "\n1[4:PING]\nMORE", 15) == 0);
    bs_buf_free(&t);
    free(s);
    s = repeat('1', RESP_INLINE_MAX + 10, "*", "\r\n");
    must_parse_big(s, strlen(s), "ERR Protocol error: too big mbulk count string");
    free(s);
}

/* Redis's "Protocol desync regression test" #1..#3: a NUL then endless text. */
static void test_desync_regressions(void **state)
{
    (void)state;
    const char *seqs[3] = {"\0", "*\0", "$\0"};
    size_t lens[3] = {1, 2, 2};
    const char *want[3] = {"Protocol error: too big inline request",
                           "Protocol error: too big mbulk count string",
                           "Protocol error: too big inline request"};
    for (int i = 0; i < 3; i++) {
        resp_parser p;
        resp_parser_init(&p, NULL);
        resp_parser_feed(&p, seqs[i], lens[i]);
        resp_cmd cmd;
        resp_parse_status st = RESP_PARSE_MORE;
        char payload[1025];
        memset(payload, 'A', 1024);
        payload[1024] = '\n';
        size_t sent = 0;
        while (st == RESP_PARSE_MORE && sent < 1000000) {
            resp_parser_feed(&p, payload, sizeof(payload));
            sent += sizeof(payload);
            st = resp_parser_next(&p, &cmd);
        }
        assert_int_equal(st, RESP_PARSE_ERROR);
        assert_string_equal(resp_parser_error(&p), want[i]);
        assert_true(sent <= RESP_INLINE_MAX + 2 * sizeof(payload));
        resp_parser_deinit(&p);
    }
}

static void test_unbalanced_quotes(void **state)
{
    (void)state;
    must_parse("set \"\"\"test-key\"\"\" test-value\r\nping\r\n",
               "ERR Protocol error: unbalanced quotes in request");
    must_parse("set \"abc\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set 'abc\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set \"abc\\\"\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set \"abc\\\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set 'a'b\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("set 'a\\'\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("PING\r\n\"\r\nPING\r\n",
               "1[4:PING]\nERR Protocol error: unbalanced quotes in request");
}

static void test_unauthenticated_limits(void **state)
{
    (void)state;
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.auth_required = true;
    must_parse_cfg(&cfg, LIT("*10\r\n"), LIT("MORE"));
    must_parse_cfg(&cfg, LIT("*11\r\n"),
                   LIT("ERR Protocol error: unauthenticated multibulk length"));
    must_parse_cfg(&cfg, LIT("*1\r\n$16384\r\n"), LIT("MORE"));
    must_parse_cfg(&cfg, LIT("*1\r\n$16385\r\n"),
                   LIT("ERR Protocol error: unauthenticated bulk length"));
    /* Invalid beats unauthenticated, as in Redis. */
    must_parse_cfg(&cfg, LIT("*1\r\n$-5\r\n"), LIT("ERR Protocol error: invalid bulk length"));

    /* The flag is read at each call: AUTH lifts it mid-stream. */
    resp_parser p;
    resp_parser_init(&p, &cfg);
    resp_cmd cmd;
    resp_parser_feed(&p, LIT("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    p.cfg.auth_required = false;
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    resp_parser_deinit(&p);
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_cmd cmd;
    assert_string_equal(resp_parser_error(&p), "");
    resp_parser_feed(&p, LIT("*x\r\n"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_ERROR);
    resp_parser_feed(&p, LIT("*1\r\n$4\r\nPING\r\n"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_ERROR);
    assert_string_equal(resp_parser_error(&p), "Protocol error: invalid multibulk length");
    resp_parser_deinit(&p);
    resp_parser_deinit(NULL);
}

/* ---- inline ---------------------------------------------------------------------------- */

static void test_inline_basic(void **state)
{
    (void)state;
    must_parse("PING\r\n", "1[4:PING]\nMORE");
    must_parse("PING\n", "1[4:PING]\nMORE");
    must_parse("set a b\r\nget a\n", "3[3:set][1:a][1:b]\n2[3:get][1:a]\nMORE");
    must_parse("  set   a\t\tb  \r\n", "3[3:set][1:a][1:b]\nMORE");
    must_parse("PING", "MORE");
    /* A CR inside a line separates words; only a CR right before the LF is stripped. */
    must_parse("a\rb\r\n", "2[1:a][1:b]\nMORE");
    must_parse("ping\r\r\n", "1[4:ping]\nMORE");
    /* \v and \f are skipped between words but belong to a word inside it. */
    must_parse("\v\fa\vb c\r\n", "2[3:a\vb][1:c]\nMORE");
    /* Bytes above 0x7f are ordinary. */
    must_parse("set \xff\xfe \x80\r\n", "3[3:set][2:\xff\xfe][1:\x80]\nMORE");
    /* Inline and multibulk may alternate in one stream. */
    must_parse("PING\r\n*1\r\n$4\r\nPING\r\nPING\n", "1[4:PING]\n1[4:PING]\n1[4:PING]\nMORE");
}

static void test_inline_quoting(void **state)
{
    (void)state;
    must_parse("set \"a b\" c\r\n", "3[3:set][3:a b][1:c]\nMORE");
    must_parse("set 'a b' c\r\n", "3[3:set][3:a b][1:c]\nMORE");
    must_parse("set k \"\"\r\n", "3[3:set][1:k][0:]\nMORE");
    must_parse("set k ''\r\n", "3[3:set][1:k][0:]\nMORE");
    must_parse("\"\\x41\\x4a\\x4B\"\r\n", "1[3:AJK]\nMORE");
    must_parse("\"\\x00\\xff\"\r\n", "1[2:\0\xff]\nMORE");
    /* An incomplete \x escape is an ordinary escape of 'x'. */
    must_parse("\"\\x4\"\r\n", "1[2:x4]\nMORE");
    must_parse("\"\\xzz\"\r\n", "1[3:xzz]\nMORE");
    must_parse("\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", "1[8:\n\r\t\b\a\\\"q]\nMORE");
    must_parse("'it\\'s' 'a\\nb' 'c\"d'\r\n", "3[4:it's][4:a\\nb][3:c\"d]\nMORE");
    /* A quote may open inside a word; a closing quote must end it. */
    must_parse("foo\"bar baz\"qux\r\n", "ERR Protocol error: unbalanced quotes in request");
    must_parse("foo\"bar baz\" qux\r\n", "2[10:foobar baz][3:qux]\nMORE");
    must_parse("a'b'\r\n", "1[2:ab]\nMORE");
    must_parse("\"a\"\t\"b\"\r\n", "2[1:a][1:b]\nMORE");
    must_parse("\"a\"\v\"b\"\r\n", "2[1:a][1:b]\nMORE");
    /* A backslash outside quotes is literal. */
    must_parse("a\\nb\r\n", "1[4:a\\nb]\nMORE");
    /* A quoted CR survives: the line ends only at LF. */
    must_parse("\"a\rb\"\r\n", "1[3:a\rb]\nMORE");
}

/* ---- pipelines, big arguments, zero-copy input ----------------------------------------- */

static void test_ten_thousand_pipelined(void **state)
{
    (void)state;
    bs_buf in = BS_BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        char k[32], v[32], line[128];
        int kl = snprintf(k, sizeof(k), "key:%d", i), vl = snprintf(v, sizeof(v), "v%d", i * 7);
        int n = i % 3 == 2
                    ? snprintf(line, sizeof(line), "SET %s %s\r\n", k, v)
                    : snprintf(line, sizeof(line), "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                               kl, k, vl, v);
        bs_buf_append(&in, line, (size_t)n);
    }
    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_parser_feed(&p, in.ptr, in.len);
    assert_int_equal(resp_parser_pending(&p), in.len);
    resp_cmd cmd;
    int count = 0;
    while (resp_parser_next(&p, &cmd) == RESP_PARSE_CMD) {
        char k[32], v[32];
        int kl = snprintf(k, sizeof(k), "key:%d", count);
        int vl = snprintf(v, sizeof(v), "v%d", count * 7);
        assert_int_equal(cmd.argc, 3);
        assert_true(bs_slice_eq(cmd.argv[0], bs_slice_make("SET", 3)));
        assert_true(bs_slice_eq(cmd.argv[1], bs_slice_make(k, (size_t)kl)));
        assert_true(bs_slice_eq(cmd.argv[2], bs_slice_make(v, (size_t)vl)));
        count++;
    }
    assert_int_equal(count, 10000);
    assert_int_equal(resp_parser_pending(&p), 0);
    resp_parser_deinit(&p);

    /* The same stream in uneven pieces gives the same transcript. */
    bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
    parse_once(NULL, in.ptr, in.len, &a);
    size_t cuts[200];
    for (size_t i = 0; i < 200; i++)
        cuts[i] = (i + 1) * (in.len / 201) + (i % 7);
    parse_cut(NULL, in.ptr, in.len, cuts, 200, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.ptr, b.ptr, a.len);
    bs_buf_free(&a);
    bs_buf_free(&b);
    bs_buf_free(&in);
}

static void test_many_args_in_one_command(void **state)
{
    (void)state;
    bs_buf in = BS_BUF_INIT;
    const int n = 200000;
    char h[32];
    int hl = snprintf(h, sizeof(h), "*%d\r\n", n);
    bs_buf_append(&in, h, (size_t)hl);
    for (int i = 0; i < n; i++)
        bs_buf_append(&in, "$1\r\nx\r\n", 7);
    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_cmd cmd;
    /* In 4 KiB pieces, checking the parser keeps up without re-reading. */
    for (size_t at = 0; at < in.len; at += 4096) {
        size_t k = in.len - at < 4096 ? in.len - at : 4096;
        resp_parser_feed(&p, in.ptr + at, k);
        resp_parse_status st = resp_parser_next(&p, &cmd);
        assert_int_equal(st, at + k == in.len ? RESP_PARSE_CMD : RESP_PARSE_MORE);
    }
    assert_int_equal(cmd.argc, (size_t)n);
    assert_true(bs_slice_eq(cmd.argv[n - 1], bs_slice_make("x", 1)));
    /* The next call gives the big argument arrays back. */
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    assert_null(p.args);
    assert_null(p.argv);
    resp_parser_deinit(&p);
    bs_buf_free(&in);
}

static void fill_pattern(uint8_t *p, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((off + i) * 2654435761u >> 13);
}

static bool check_pattern(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i * 2654435761u >> 13))
            return false;
    return true;
}

static void test_100mb_bulk_in_64k_chunks(void **state)
{
    (void)state;
    const size_t big = 100u * 1024 * 1024, chunk = 64 * 1024;
    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_cmd cmd;
    char h[64];
    int hl = snprintf(h, sizeof(h), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", big);
    resp_parser_feed(&p, h, (size_t)hl);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);

    uint8_t *piece = malloc(chunk);
    size_t sent = 0;
    while (sent < big) {
        size_t n = big - sent < chunk ? big - sent : chunk;
        fill_pattern(piece, sent, n);
        resp_parser_feed(&p, piece, n);
        sent += n;
        assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    }
    assert_int_equal(resp_parser_pending(&p), (size_t)hl + big);
    resp_parser_feed(&p, "\r", 1);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    resp_parser_feed(&p, "\n*1\r\n$4\r\nPING\r\n", 15);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    assert_int_equal(cmd.argc, 3);
    assert_true(bs_slice_eq(cmd.argv[1], bs_slice_make("k", 1)));
    assert_int_equal(cmd.argv[2].len, big);
    assert_true(check_pattern(cmd.argv[2].ptr, big));

    /* The value moves out without a copy. */
    bs_buf v = BS_BUF_INIT;
    const uint8_t *where = cmd.argv[2].ptr;
    resp_parser_detach_arg(&p, 2, &v);
    assert_ptr_equal(v.ptr, where);
    assert_int_equal(v.len, big);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    assert_true(bs_slice_eq(cmd.argv[0], bs_slice_make("PING", 4)));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    assert_true(check_pattern(v.ptr, big));
    bs_buf_free(&v);
    free(piece);
    resp_parser_deinit(&p);
}

/* A reader that honours resp_parser_wbuf(): a big value lands straight in its final
 * buffer, and the parser says exactly how much is still missing. */
static void test_wbuf_reads_big_value_in_place(void **state)
{
    (void)state;
    const size_t big = 3u * 1024 * 1024 + 7;
    bs_buf stream = BS_BUF_INIT;
    char h[64];
    int hl = snprintf(h, sizeof(h), "*2\r\n$3\r\nSET\r\n$%zu\r\n", big);
    bs_buf_append(&stream, h, (size_t)hl);
    size_t data_at = stream.len;
    bs_buf_reserve(&stream, big);
    fill_pattern(stream.ptr + stream.len, 0, big);
    stream.len += big;
    bs_buf_append(&stream, "\r\nPING\r\n", 8);

    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_cmd cmd;
    size_t at = 0, in_place = 0;
    int cmds = 0;
    while (at < stream.len) {
        size_t avail;
        uint8_t *w = resp_parser_wbuf(&p, &avail);
        assert_true(avail >= 1);
        if (at >= data_at && at < data_at + big) {
            assert_int_equal(avail, data_at + big - at); /* exactly what is missing */
            in_place += avail < 65536 ? avail : 65536;
        }
        size_t n = stream.len - at < avail ? stream.len - at : avail;
        if (n > 65536)
            n = 65536;
        memcpy(w, stream.ptr + at, n);
        resp_parser_commit(&p, n);
        at += n;
        resp_parse_status st;
        while ((st = resp_parser_next(&p, &cmd)) == RESP_PARSE_CMD) {
            if (cmds++ == 0) {
                assert_int_equal(cmd.argc, 2);
                assert_int_equal(cmd.argv[1].len, big);
                assert_true(check_pattern(cmd.argv[1].ptr, big));
            } else {
                assert_true(bs_slice_eq(cmd.argv[0], bs_slice_make("PING", 4)));
            }
        }
        assert_int_equal(st, RESP_PARSE_MORE);
    }
    assert_int_equal(cmds, 2);
    assert_true(in_place > big - 65536); /* all but what came with the header */
    resp_parser_deinit(&p);
    bs_buf_free(&stream);
}

/* A bulk just under the big-argument threshold is read into the input buffer, and the
 * parser offers room for all of it at once; a large drained buffer is given back. */
static void test_wbuf_offers_room_for_a_whole_small_bulk(void **state)
{
    (void)state;
    const size_t len = RESP_BIG_ARG - 1;
    bs_buf stream = BS_BUF_INIT;
    char h[64];
    int hl = snprintf(h, sizeof(h), "*1\r\n$%zu\r\n", len);
    bs_buf_append(&stream, h, (size_t)hl);
    bs_buf_reserve(&stream, len);
    fill_pattern(stream.ptr + stream.len, 0, len);
    stream.len += len;
    bs_buf_append(&stream, "\r\n", 2);

    resp_parser p;
    resp_parser_init(&p, NULL);
    resp_cmd cmd;
    resp_parser_feed(&p, stream.ptr, (size_t)hl + 10);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    size_t avail;
    uint8_t *w = resp_parser_wbuf(&p, &avail);
    assert_true(avail >= stream.len - (size_t)hl - 10);
    memcpy(w, stream.ptr + hl + 10, stream.len - (size_t)hl - 10);
    resp_parser_commit(&p, stream.len - (size_t)hl - 10);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    assert_int_equal(cmd.argv[0].len, len);
    assert_true(check_pattern(cmd.argv[0].ptr, len));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);

    /* 2 MB of pipelined PINGs, drained: the buffer is released, not kept. */
    bs_buf pings = BS_BUF_INIT;
    while (pings.len < 2 * 1024 * 1024)
        bs_buf_append(&pings, "PING\r\n", 6);
    resp_parser_feed(&p, pings.ptr, pings.len);
    size_t n = 0;
    while (resp_parser_next(&p, &cmd) == RESP_PARSE_CMD)
        n++;
    assert_int_equal(n, pings.len / 6);
    assert_int_equal(p.in.cap, 0);
    resp_parser_deinit(&p);
    bs_buf_free(&pings);
    bs_buf_free(&stream);
}

/* Big and small arguments mixed, with a lowered threshold so the big path is exercised at
 * every split point. */
static void test_big_args_split_everywhere(void **state)
{
    (void)state;
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.big_arg = 4;
    const char s[] = "*4\r\n$3\r\nSET\r\n$5\r\nk\0\r\n!\r\n$4\r\nabcd\r\n$0\r\n\r\nPING\r\n"
                     "*1\r\n$10\r\n0123456789XY";
    must_parse_cfg(&cfg, s, sizeof(s) - 1,
                   LIT("4[3:SET][5:k\0\r\n!][4:abcd][0:]\n1[4:PING]\n1[10:0123456789]\nMORE"));
}

static void test_detach_small_and_big(void **state)
{
    (void)state;
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.big_arg = 8;
    resp_parser p;
    resp_parser_init(&p, &cfg);
    resp_cmd cmd;
    resp_parser_feed(&p, LIT("*2\r\n$3\r\nabc\r\n$9\r\n123456789\r\n"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT;
    resp_parser_detach_arg(&p, 0, &a);
    resp_parser_detach_arg(&p, 1, &b);
    /* Later input reuses the parser's buffers; the detached bytes stay. */
    resp_parser_feed(&p, LIT("*1\r\n$3\r\nzzz\r\n"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    assert_true(bs_slice_eq(bs_buf_slice(&a), bs_slice_make("abc", 3)));
    assert_true(bs_slice_eq(bs_buf_slice(&b), bs_slice_make("123456789", 9)));
    bs_buf_free(&a);
    bs_buf_free(&b);
    resp_parser_deinit(&p);
}

static void test_pending_counts_unreturned_bytes(void **state)
{
    (void)state;
    resp_parser_config cfg;
    resp_parser_config_default(&cfg);
    cfg.big_arg = 4;
    resp_parser p;
    resp_parser_init(&p, &cfg);
    resp_cmd cmd;
    assert_int_equal(resp_parser_pending(&p), 0);
    resp_parser_feed(&p, LIT("*2\r\n$5\r\nhel"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    assert_int_equal(resp_parser_pending(&p), 11);
    resp_parser_feed(&p, LIT("lo\r\n$1\r\nx\r\nPI"));
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_CMD);
    assert_int_equal(resp_parser_pending(&p), 2);
    assert_int_equal(resp_parser_next(&p, &cmd), RESP_PARSE_MORE);
    assert_int_equal(resp_parser_pending(&p), 2);
    resp_parser_deinit(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_basic),
        cmocka_unit_test(test_binary_args),
        cmocka_unit_test(test_empty_requests_are_skipped),
        cmocka_unit_test(test_redis_quirks_are_kept),
        cmocka_unit_test(test_invalid_multibulk_length),
        cmocka_unit_test(test_invalid_bulk_length),
        cmocka_unit_test(test_expected_dollar),
        cmocka_unit_test(test_too_big_lines),
        cmocka_unit_test(test_desync_regressions),
        cmocka_unit_test(test_unbalanced_quotes),
        cmocka_unit_test(test_unauthenticated_limits),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_inline_basic),
        cmocka_unit_test(test_inline_quoting),
        cmocka_unit_test(test_ten_thousand_pipelined),
        cmocka_unit_test(test_many_args_in_one_command),
        cmocka_unit_test(test_100mb_bulk_in_64k_chunks),
        cmocka_unit_test(test_wbuf_reads_big_value_in_place),
        cmocka_unit_test(test_wbuf_offers_room_for_a_whole_small_bulk),
        cmocka_unit_test(test_big_args_split_everywhere),
        cmocka_unit_test(test_detach_small_and_big),
        cmocka_unit_test(test_pending_counts_unreturned_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_scan_cursor.c -- SCAN's cursor table: a cursor resumes right after its key while the
 * table knows it, and never after its key once it does not (evicted, replaced, another
 * database, made up), which is what keeps a full SCAN iteration from missing keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp_int.h"

static int reset(void **state)
{
    (void)state;
    resp_scan_cursor_reset();
    resp_scan_cursor_set_limits(0, 0);
    return 0;
}

static bs_slice S(const char *s)
{
    return bs_slice_from_str(s);
}

/* start (inclusive resume point) must not be after the smallest key following key. */
static void assert_not_after(bs_slice start, bs_slice key)
{
    bs_buf next = BS_BUF_INIT;
    bs_buf_append_slice(&next, key);
    bs_buf_append_byte(&next, 0);
    assert_true(bs_slice_cmp(start, bs_buf_slice(&next)) <= 0);
    bs_buf_free(&next);
}

static void test_roundtrip(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    uint64_t c = resp_scan_cursor_save(3, S("hello"), 0);
    assert_int_not_equal(c, 0);
    assert_true(c < (1ull << 63)); /* fits a signed 64-bit integer too */
    assert_true(resp_scan_cursor_resume(c, 3, &start));
    assert_int_equal(start.len, 6);
    assert_memory_equal(start.ptr, "hello\0", 6);
    /* A cursor stays usable (a client may repeat a call). */
    assert_true(resp_scan_cursor_resume(c, 3, &start));
    assert_int_equal(resp_scan_cursor_count(), 1);
    bs_buf_free(&start);
}

static void test_fallback_is_the_prefix(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    uint64_t c = resp_scan_cursor_save(0, S("user:1234"), 0);
    /* Another database: the table entry does not apply, the prefix does. */
    assert_false(resp_scan_cursor_resume(c, 1, &start));
    assert_int_equal(start.len, 4);
    assert_memory_equal(start.ptr, "user", 4);
    /* Forgotten: the same. */
    resp_scan_cursor_reset();
    assert_false(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, 4);
    assert_memory_equal(start.ptr, "user", 4);
    bs_buf_free(&start);
}

static void test_short_and_empty_keys(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    uint64_t c = resp_scan_cursor_save(0, S(""), 0);
    assert_int_not_equal(c, 0);
    assert_true(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, 1);
    assert_int_equal(start.ptr[0], 0);
    resp_scan_cursor_reset();
    assert_false(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, 0); /* from the beginning */

    /* "ab" must fall back to "ab", not "ab\0\0": "ab\0" sorts between them. */
    c = resp_scan_cursor_save(0, S("ab"), 0);
    resp_scan_cursor_reset();
    assert_false(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, 2);
    assert_memory_equal(start.ptr, "ab", 2);
    bs_buf_free(&start);
}

static void test_binary_keys(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    const uint8_t key[] = {0xff, 0x00, 0xff, 0xff, 0x00, 'x'};
    bs_slice k = bs_slice_make(key, sizeof key);
    uint64_t c = resp_scan_cursor_save(0, k, 0);
    assert_true(c < (1ull << 63));
    assert_true(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, sizeof key + 1);
    assert_memory_equal(start.ptr, key, sizeof key);
    resp_scan_cursor_reset();
    assert_false(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(start.len, 4);
    assert_memory_equal(start.ptr, key, 4);
    bs_buf_free(&start);
}

static void test_prev_is_replaced(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    uint64_t a = resp_scan_cursor_save(0, S("key:10"), 0);
    uint64_t b = resp_scan_cursor_save(0, S("key:20"), a);
    assert_int_not_equal(a, b);
    assert_int_equal(resp_scan_cursor_count(), 1);
    assert_false(resp_scan_cursor_resume(a, 0, &start)); /* falls back, before key:10 */
    assert_not_after(bs_buf_slice(&start), S("key:10"));
    assert_true(resp_scan_cursor_resume(b, 0, &start));
    /* prev of another database is left alone */
    uint64_t c = resp_scan_cursor_save(1, S("key:30"), b);
    assert_true(resp_scan_cursor_resume(b, 0, &start));
    assert_true(resp_scan_cursor_resume(c, 1, &start));
    bs_buf_free(&start);
}

static void test_same_key_gets_distinct_cursors(void **state)
{
    (void)state;
    uint64_t seen[64];
    for (int i = 0; i < 64; i++) {
        seen[i] = resp_scan_cursor_save(0, S("same"), 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(seen[i], seen[j]);
    }
    assert_int_equal(resp_scan_cursor_count(), 64);
}

static void test_eviction_by_entries(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    char key[32];
    uint64_t c[100];
    resp_scan_cursor_set_limits(10, 0);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        c[i] = resp_scan_cursor_save(0, S(key), 0);
    }
    assert_int_equal(resp_scan_cursor_count(), 10);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        bool known = resp_scan_cursor_resume(c[i], 0, &start);
        assert_true(known == (i >= 90));
        assert_not_after(bs_buf_slice(&start), S(key));
    }
    /* Using an entry makes it recent: it outlives newer unused ones. */
    assert_true(resp_scan_cursor_resume(c[90], 0, &start));
    for (int i = 0; i < 9; i++)
        (void)resp_scan_cursor_save(0, S("zzz"), 0);
    assert_true(resp_scan_cursor_resume(c[90], 0, &start));
    assert_false(resp_scan_cursor_resume(c[91], 0, &start));
    bs_buf_free(&start);
}

static void test_eviction_by_bytes(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    char big[1000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    resp_scan_cursor_set_limits(0, 5000);
    uint64_t first = resp_scan_cursor_save(0, S(big), 0);
    for (int i = 0; i < 10; i++)
        (void)resp_scan_cursor_save(0, S(big), 0);
    assert_true(resp_scan_cursor_count() <= 5);
    assert_false(resp_scan_cursor_resume(first, 0, &start));
    /* A key larger than the whole budget is still saved: the newest entry stays. */
    resp_scan_cursor_set_limits(0, 100);
    uint64_t c = resp_scan_cursor_save(0, S(big), 0);
    assert_true(resp_scan_cursor_resume(c, 0, &start));
    assert_int_equal(resp_scan_cursor_count(), 1);
    bs_buf_free(&start);
}

/* Whatever a cursor went through, its resume point is never after its key. */
static void test_never_after_the_key(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    srand(7);
    resp_scan_cursor_set_limits(50, 0);
    for (int round = 0; round < 2000; round++) {
        uint8_t key[12];
        size_t n = (size_t)(rand() % 12);
        for (size_t i = 0; i < n; i++)
            key[i] = (uint8_t)(rand() % 4 == 0 ? 0xff : rand() % 3);
        bs_slice k = bs_slice_make(key, n);
        uint32_t db = (uint32_t)(rand() % 3);
        uint64_t c = resp_scan_cursor_save(db, k, 0);
        for (int j = 0; j < rand() % 80; j++)
            (void)resp_scan_cursor_save((uint32_t)(rand() % 3), S("noise"), 0);
        (void)resp_scan_cursor_resume(c, (uint32_t)(rand() % 3), &start);
        assert_not_after(bs_buf_slice(&start), k);
    }
    bs_buf_free(&start);
}

/* Made-up cursors (any integer a client sends) resume somewhere sane. */
static void test_made_up_cursors(void **state)
{
    (void)state;
    bs_buf start = BS_BUF_INIT;
    const uint64_t values[] = {1, 2, 12345, UINT64_MAX, 1ull << 63, 0x7fffffffffffffffull};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_false(resp_scan_cursor_resume(values[i], 0, &start));
        assert_true(start.len <= 4);
    }
    bs_buf_free(&start);
}

static void *hammer(void *arg)
{
    uint32_t db = (uint32_t)(uintptr_t)arg;
    bs_buf start = BS_BUF_INIT;
    char key[32];
    uint64_t prev = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "t%u:%06d", db, i);
        uint64_t c = resp_scan_cursor_save(db, S(key), prev);
        if (resp_scan_cursor_resume(c, db, &start))
            assert_memory_equal(start.ptr, key, strlen(key));
        else
            assert_not_after(bs_buf_slice(&start), S(key));
        prev = c;
    }
    bs_buf_free(&start);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    resp_scan_cursor_set_limits(100, 0);
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(resp_scan_cursor_count() <= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_roundtrip, reset),
        cmocka_unit_test_setup(test_fallback_is_the_prefix, reset),
        cmocka_unit_test_setup(test_short_and_empty_keys, reset),
        cmocka_unit_test_setup(test_binary_keys, reset),
        cmocka_unit_test_setup(test_prev_is_replaced, reset),
        cmocka_unit_test_setup(test_same_key_gets_distinct_cursors, reset),
        cmocka_unit_test_setup(test_eviction_by_entries, reset),
        cmocka_unit_test_setup(test_eviction_by_bytes, reset),
        cmocka_unit_test_setup(test_never_after_the_key, reset),
        cmocka_unit_test_setup(test_made_up_cursors, reset),
        cmocka_unit_test_setup(test_threads, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

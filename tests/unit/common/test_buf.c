/* test_buf.c -- bs_slice ordering and bs_buf growth; bs_err formatting and wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

static void test_slice_cmp_is_bytewise(void **state)
{
    (void)state;
    bs_slice a = bs_slice_make("ab", 2), b = bs_slice_make("abc", 3);
    bs_slice z = bs_slice_make("a\0", 2), e = BS_SLICE_NULL;
    assert_true(bs_slice_cmp(a, b) < 0);
    assert_true(bs_slice_cmp(b, a) > 0);
    assert_int_equal(bs_slice_cmp(a, a), 0);
    assert_true(bs_slice_cmp(e, z) < 0);
    assert_true(bs_slice_cmp(bs_slice_make("a", 1), z) < 0); /* shorter prefix first */
    assert_true(bs_slice_cmp(bs_slice_make("\xff", 1), bs_slice_make("\x01", 1)) > 0);
    assert_true(bs_slice_eq(e, bs_slice_make("", 0)));
    assert_true(bs_slice_starts_with(b, a));
    assert_false(bs_slice_starts_with(a, b));
}

static void test_buf_grows_and_keeps_binary(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        bs_buf_append_byte(&b, (uint8_t)i);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.ptr[i], (uint8_t)i);
    bs_buf_set(&b, "x\0y", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "x\0y", 3);
    size_t n;
    uint8_t *p = bs_buf_detach(&b, &n);
    assert_int_equal(n, 3);
    assert_null(b.ptr);
    bs_free(p);
    bs_buf_free(&b);
    bs_buf_free(NULL);
}

static void test_err_set_and_wrap(void **state)
{
    (void)state;
    bs_err e;
    bs_err_clear(&e);
    assert_int_equal(e.code, BS_OK);
    assert_int_equal(bs_err_setf(&e, BS_EIO, "write %d", 7), BS_EIO);
    assert_string_equal(e.msg, "write 7");
    assert_int_equal(bs_err_wrapf(&e, "region %d apply", 3), BS_EIO);
    assert_string_equal(e.msg, "region 3 apply: write 7");
    assert_string_equal(bs_strerror(BS_NOTFOUND), "not found");
    assert_string_equal(bs_errname(BS_ECORRUPT), "BS_ECORRUPT");
    assert_int_equal(bs_err_setf(NULL, BS_EINVAL, "x"), BS_EINVAL);
    /* A message longer than the buffer is truncated, never overflowed. */
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bs_err_setf(&e, BS_EINVAL, "%s", big);
    assert_int_equal(strlen(e.msg), BS_ERR_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_cmp_is_bytewise),
        cmocka_unit_test(test_buf_grows_and_keeps_binary),
        cmocka_unit_test(test_err_set_and_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

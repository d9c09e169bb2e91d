/* test_keyset.c -- the key-hash multiset behind pipelined execution order, checked against
 * a plain array model under random operations, with hashes chosen to collide in the low
 * bits so probe runs wrap around and backward shifts happen often. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "resp/conn_int.h"

static void test_add_has_del(void **state)
{
    (void)state;
    resp_keyset s = {0};
    assert_false(resp_keyset_has(&s, 42));
    resp_keyset_add(&s, 42);
    resp_keyset_add(&s, 42);
    assert_int_equal(resp_keyset_count(&s, 42), 2);
    resp_keyset_del(&s, 42);
    assert_true(resp_keyset_has(&s, 42));
    resp_keyset_del(&s, 42);
    assert_false(resp_keyset_has(&s, 42));
    assert_int_equal(s.used, 0);
    resp_keyset_free(&s);
}

static void test_hash_depends_on_db_and_key(void **state)
{
    (void)state;
    bs_slice a = bs_slice_from_str("a"), b = bs_slice_from_str("b");
    assert_int_equal(resp_key_hash(0, a), resp_key_hash(0, a));
    assert_int_not_equal(resp_key_hash(0, a), resp_key_hash(1, a));
    assert_int_not_equal(resp_key_hash(0, a), resp_key_hash(0, b));
    assert_int_not_equal(resp_key_hash(0, BS_SLICE_NULL), 0);
}

/* Random adds and deletes against a model of counts over a small universe of hashes that
 * share their low bits in groups. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { U = 300, OPS = 200000 };
    uint64_t vals[U];
    uint32_t model[U] = {0};
    for (int i = 0; i < U; i++)
        vals[i] = ((uint64_t)(i + 1) << 32) | (uint64_t)(i % 7); /* 7 home slots only */
    resp_keyset s = {0};
    uint64_t x = 88172645463325252ULL;
    for (int op = 0; op < OPS; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % U);
        if ((x >> 20) % 3 != 0 || model[k] == 0) {
            resp_keyset_add(&s, vals[k]);
            model[k]++;
        } else {
            resp_keyset_del(&s, vals[k]);
            model[k]--;
        }
        if (op % 997 == 0)
            for (int i = 0; i < U; i++)
                assert_int_equal(resp_keyset_count(&s, vals[i]), model[i]);
    }
    size_t distinct = 0;
    for (int i = 0; i < U; i++) {
        assert_int_equal(resp_keyset_count(&s, vals[i]), model[i]);
        distinct += model[i] > 0;
    }
    assert_int_equal(s.used, distinct);
    for (int i = 0; i < U; i++)
        while (model[i]--)
            resp_keyset_del(&s, vals[i]);
    assert_int_equal(s.used, 0);
    resp_keyset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_has_del),
        cmocka_unit_test(test_hash_depends_on_db_and_key),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

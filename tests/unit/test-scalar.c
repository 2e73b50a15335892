/* SPDX-License-Identifier: MIT */
/* The configuration's scalar words: integers, sizes, booleans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "scalar.h"

static void test_uint(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(scalar_uint("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(scalar_uint("0065535", &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(scalar_uint("", &v), -EINVAL);
    assert_int_equal(scalar_uint("-1", &v), -EINVAL);
    assert_int_equal(scalar_uint("1 ", &v), -EINVAL);
    assert_int_equal(scalar_uint("0x10", &v), -EINVAL);
    assert_int_equal(scalar_uint("99999999999999999999999", &v), -ERANGE);
}

static void test_size(void **state)
{
    uint64_t v;
    char buf[24];

    (void)state;
    assert_int_equal(scalar_size("512M", &v), 0);
    assert_int_equal(v, 512ull << 20);
    assert_int_equal(scalar_size("2g", &v), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(scalar_size("1536", &v), 0);
    assert_int_equal(v, 1536);
    assert_int_equal(scalar_size("K", &v), -EINVAL);
    assert_int_equal(scalar_size("1T", &v), -EINVAL);
    assert_int_equal(scalar_size("", &v), -EINVAL);
    assert_int_equal(scalar_size("17179869184G", &v), -ERANGE); /* 2^64 bytes */
    assert_string_equal(scalar_size_text(1024, buf, sizeof(buf)), "1K");
    assert_string_equal(scalar_size_text(3ull << 30, buf, sizeof(buf)), "3G");
    assert_string_equal(scalar_size_text(1ull << 40, buf, sizeof(buf)), "1024G");
    assert_string_equal(scalar_size_text(1500, buf, sizeof(buf)), "1500");
}

static void test_bool(void **state)
{
    bool b = false;

    (void)state;
    assert_int_equal(scalar_bool("YES", &b), 0);
    assert_true(b);
    assert_int_equal(scalar_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(scalar_bool("1", &b), -EINVAL);
    assert_int_equal(scalar_bool("", &b), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_bool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The once-an-interval limit of warnings that can come with every request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "log.h"

static void test_limit(void **state)
{
    struct log_limit l = LOG_LIMIT_INIT;
    unsigned skipped = 99;

    (void)state;
    /* The first passes, at any time, even 0 or before. */
    assert_true(log_limit_pass(&l, -5, 60, &skipped));
    assert_int_equal(skipped, 0);
    for (int t = -5; t < 55; t += 10)
        assert_false(log_limit_pass(&l, t, 60, &skipped));
    assert_true(log_limit_pass(&l, 55, 60, &skipped));
    assert_int_equal(skipped, 6);
    assert_false(log_limit_pass(&l, 114, 60, &skipped));
    assert_true(log_limit_pass(&l, 1000, 60, &skipped));
    assert_int_equal(skipped, 1);
    assert_true(log_limit_pass(&l, 1060, 60, &skipped));
    assert_int_equal(skipped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

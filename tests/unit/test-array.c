/* SPDX-License-Identifier: MIT */
/* Growing arrays by doubling, and refusing sizes that overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "array.h"

static void test_grows_by_doubling(void **state)
{
    int *items = NULL;
    size_t cap = 0;

    (void)state;
    assert_int_equal(array_grow(&items, &cap, 1, sizeof(*items)), 0);
    assert_non_null(items);
    assert_int_equal(cap, 8);
    for (int i = 0; i < 8; i++)
        items[i] = i;
    /* Enough room already: nothing moves. */
    int *before = items;
    assert_int_equal(array_grow(&items, &cap, 8, sizeof(*items)), 0);
    assert_ptr_equal(items, before);
    assert_int_equal(cap, 8);
    assert_int_equal(array_grow(&items, &cap, 9, sizeof(*items)), 0);
    assert_int_equal(cap, 16);
    /* A big step doubles as often as needed, and the contents stay. */
    assert_int_equal(array_grow(&items, &cap, 100, sizeof(*items)), 0);
    assert_int_equal(cap, 128);
    for (int i = 0; i < 8; i++)
        assert_int_equal(items[i], i);
    items[127] = 127;
    free(items);
}

static void test_overflow_refused(void **state)
{
    char *bytes = NULL;
    long *items = NULL;
    size_t cap = 0;

    (void)state;
    /* The byte count would wrap: refused, nothing changed. */
    assert_int_equal(array_grow(&items, &cap, SIZE_MAX / 4, sizeof(*items)), -ENOMEM);
    assert_null(items);
    assert_int_equal(cap, 0);
    /* Doubling past SIZE_MAX is refused before it wraps. */
    assert_int_equal(array_grow(&bytes, &cap, SIZE_MAX, 1), -ENOMEM);
    assert_null(bytes);
    assert_int_equal(cap, 0);
    assert_int_equal(array_grow(&items, &cap, 3, sizeof(*items)), 0);
    assert_int_equal(cap, 8);
    long *before = items;
    assert_int_equal(array_grow(&items, &cap, SIZE_MAX / 2, sizeof(*items)), -ENOMEM);
    assert_ptr_equal(items, before);
    assert_int_equal(cap, 8);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_overflow_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* download.c: when a connection's download begins, goes on, is finished or
 * is abandoned for another firmware or generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "download.h"

/* A firmware of 4 blocks, 1000 bytes (the test vector's sizes). */
static struct download_step block(const char *name, uint64_t gen)
{
    return (struct download_step){.name = name, .name_len = strlen(name), .gen = gen,
                                  .version = 7, .blocks = 4, .size = 1000, .block = true,
                                  .bytes = 260};
}

static void test_blocks_finish(void **state)
{
    struct download d = {0}, ended = {0};
    struct download_step s = block("app", 1);

    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(download_count(&d, &s, 200 + i, &ended), 0);
        assert_false(download_finished(&d));
    }
    assert_int_equal(download_count(&d, &s, 500, &ended), 0);
    assert_true(download_finished(&d));
    assert_string_equal(d.name, "app");
    assert_int_equal(d.served, 4);
    assert_int_equal(d.bytes, 1040);
    assert_int_equal(d.version, 7);
    assert_int_equal(d.started_us, 200);
    assert_int_equal(d.last_us, 500);
    download_clear(&d);
    assert_null(d.name);
    assert_false(download_finished(&d));
}

static void test_other_generation_abandons(void **state)
{
    struct download d = {0}, ended = {0};
    struct download_step a = block("app", 1), b = block("app", 2), o = block("other", 2);

    (void)state;
    assert_int_equal(download_count(&d, &a, 200, &ended), 0);
    assert_int_equal(download_count(&d, &b, 300, &ended), 1);
    assert_string_equal(ended.name, "app");
    assert_int_equal(ended.gen, 1);
    assert_int_equal(ended.served, 1);
    download_clear(&ended);
    assert_int_equal(d.gen, 2);
    assert_int_equal(d.served, 1);
    /* Same generation id, another name: another download too. */
    assert_int_equal(download_count(&d, &o, 400, &ended), 1);
    assert_string_equal(ended.name, "app");
    assert_string_equal(d.name, "other");
    download_clear(&ended);
    download_clear(&d);
}

static void test_image_bytes(void **state)
{
    struct download d = {0}, ended = {0};
    struct download_step s = block("app", 1);

    (void)state;
    s.block = false;
    s.bytes = 600;
    s.version = -1; /* a range of a retained generation */
    assert_int_equal(download_count(&d, &s, 200, &ended), 0);
    assert_false(download_finished(&d));
    assert_int_equal(d.version, -1);
    s.bytes = 400;
    s.version = 7;
    assert_int_equal(download_count(&d, &s, 300, &ended), 0);
    assert_true(download_finished(&d));
    assert_int_equal(d.version, 7);
    assert_int_equal(d.served, 0);
    assert_int_equal(d.bytes, 1000);
    download_clear(&d);
}

static void test_block_bytes_do_not_finish_early(void **state)
{
    struct download d = {0}, ended = {0};
    struct download_step s = block("app", 1);

    (void)state;
    /* 260 bytes a block: four blocks of five pass the size. */
    s.blocks = 5;
    s.size = 1030;
    for (int i = 0; i < 4; i++)
        assert_int_equal(download_count(&d, &s, 200, &ended), 0);
    assert_true(d.bytes > d.size);
    assert_false(download_finished(&d));
    download_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_finish),
        cmocka_unit_test(test_other_generation_abandons),
        cmocka_unit_test(test_image_bytes),
        cmocka_unit_test(test_block_bytes_do_not_finish_early),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The firmware's small-table CRC-32 against zlib's: the check value, every
 * size from 0 to 4096 and some large ones, every alignment, and chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ota_crc32.h"

/* A fixed xorshift stream: the same "random" bytes on every run. */
static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed | 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static uint32_t zcrc(uint32_t crc, const uint8_t *p, size_t len)
{
    return (uint32_t)crc32(crc, p, (uInt)len);
}

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(ota_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(ota_crc32(0, "", 0), 0);
    assert_int_equal(ota_crc32(0, "a", 1), 0xE8B7BE43u);
    /* Continuing from a value over nothing leaves it unchanged. */
    assert_int_equal(ota_crc32(0x12345678u, "x", 0), 0x12345678u);
}

static void test_all_sizes(void **state)
{
    enum { MAX = 4096 };
    uint8_t *buf = malloc(MAX + 8);

    (void)state;
    assert_non_null(buf);
    fill(buf, MAX + 8, 0xC0FFEE);
    for (uint32_t len = 0; len <= MAX; len++)
        assert_int_equal(ota_crc32(0, buf, len), zcrc(0, buf, len));
    /* Every start alignment, for a port that would read words. */
    for (uint32_t off = 1; off < 8; off++)
        assert_int_equal(ota_crc32(0, buf + off, 1000), zcrc(0, buf + off, 1000));
    free(buf);
}

static void test_special_bytes(void **state)
{
    uint8_t buf[1024];

    (void)state;
    memset(buf, 0x00, sizeof(buf));
    assert_int_equal(ota_crc32(0, buf, sizeof(buf)), zcrc(0, buf, sizeof(buf)));
    memset(buf, 0xFF, sizeof(buf)); /* erased flash, block padding */
    assert_int_equal(ota_crc32(0, buf, sizeof(buf)), zcrc(0, buf, sizeof(buf)));
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(ota_crc32(0, buf, sizeof(buf)), zcrc(0, buf, sizeof(buf)));
}

static void test_big_buffers(void **state)
{
    /* Up to the whole 448 KiB application area, and more. */
    static const size_t sizes[] = {65536, 100 * 1024 + 37, 448 * 1024, 1024 * 1024 + 3};
    uint8_t *buf = malloc(1024 * 1024 + 3);

    (void)state;
    assert_non_null(buf);
    fill(buf, 1024 * 1024 + 3, 42);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(ota_crc32(0, buf, (uint32_t)sizes[i]), zcrc(0, buf, sizes[i]));
    free(buf);
}

static void test_chaining(void **state)
{
    enum { LEN = 3000 };
    uint8_t buf[LEN];
    uint32_t whole;

    (void)state;
    fill(buf, LEN, 7);
    whole = zcrc(0, buf, LEN);
    /* Every two-piece split. */
    for (uint32_t k = 0; k <= LEN; k++)
        assert_int_equal(ota_crc32(ota_crc32(0, buf, k), buf + k, LEN - k), whole);
    /* Block by block, as the engine verifies the image in flash. */
    {
        uint32_t c = 0;

        for (uint32_t off = 0; off < LEN; off += 256)
            c = ota_crc32(c, buf + off, LEN - off < 256 ? LEN - off : 256);
        assert_int_equal(c, whole);
    }
    /* Byte by byte, continuing a value zlib started, and the other way round. */
    {
        uint32_t c = zcrc(0, buf, 100);

        for (uint32_t i = 100; i < LEN; i++)
            c = ota_crc32(c, buf + i, 1);
        assert_int_equal(c, whole);
        assert_int_equal(zcrc(ota_crc32(0, buf, 1234), buf + 1234, LEN - 1234), whole);
    }
}

static void test_random_buffers(void **state)
{
    uint8_t buf[9000];

    (void)state;
    for (uint32_t seed = 1; seed <= 200; seed++) {
        uint32_t len = (seed * 2654435761u) % sizeof(buf);

        fill(buf, len, seed);
        assert_int_equal(ota_crc32(0, buf, len), zcrc(0, buf, len));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_all_sizes),
        cmocka_unit_test(test_special_bytes),
        cmocka_unit_test(test_big_buffers),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_random_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* crc_update() against zlib's crc32(), the reference: every length from 0 to
 * 1,100 bytes at every alignment mod 16, chained calls, long runs, and the
 * well-known check value of "123456789". Both the accelerated path (where
 * the processor has one) and the plain one are run by these lengths: fewer
 * than 64 bytes never take the accelerated path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "crc.h"

static uint8_t *random_bytes(size_t len, unsigned seed)
{
    uint8_t *buf = malloc(len);

    assert_non_null(buf);
    srand(seed);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rand();
    return buf;
}

static void test_check_value(void **state)
{
    (void)state;
    /* The CRC-32 check value from the catalogue of parametrised CRCs. */
    assert_int_equal(crc_update(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(crc_update(0, NULL, 0), 0);
    assert_int_equal(crc_update(0x12345678u, NULL, 0), 0x12345678u);
}

static void test_every_length_and_alignment(void **state)
{
    uint8_t *buf = random_bytes(1200, 1);

    (void)state;
    for (size_t off = 0; off < 16; off++) {
        for (size_t len = 0; off + len <= 1116; len++) {
            uint32_t seed = (uint32_t)(len * 2654435761u);

            assert_int_equal(crc_update(0, buf + off, len),
                             (uint32_t)crc32(0L, buf + off, (uInt)len));
            assert_int_equal(crc_update(seed, buf + off, len),
                             (uint32_t)crc32(seed, buf + off, (uInt)len));
        }
    }
    free(buf);
}

static void test_special_bytes(void **state)
{
    uint8_t buf[512];

    (void)state;
    for (int fill = 0; fill < 256; fill += 85) { /* 0x00, 0x55, 0xAA, 0xFF */
        memset(buf, fill, sizeof(buf));
        for (size_t len = 60; len <= sizeof(buf); len += 4)
            assert_int_equal(crc_update(0, buf, len), (uint32_t)crc32(0L, buf, (uInt)len));
    }
}

static void test_chained_and_long(void **state)
{
    const size_t len = 3u << 20; /* 3 MiB in uneven pieces */
    uint8_t *buf = random_bytes(len, 2);
    uint32_t ours = 0;
    size_t pos = 0, step = 1;

    (void)state;
    while (pos < len) {
        size_t n = step < len - pos ? step : len - pos;

        ours = crc_update(ours, buf + pos, n);
        pos += n;
        step = step * 3 + 7;
    }
    assert_int_equal(ours, (uint32_t)crc32(0L, buf, (uInt)len));
    assert_int_equal(crc_update(0, buf, len), ours);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_every_length_and_alignment),
        cmocka_unit_test(test_special_bytes),
        cmocka_unit_test(test_chained_and_long),
    };

    printf("# carry-less multiply: %s\n", crc_accelerated() ? "used" : "not available");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* crc_update() against zlib's crc32(), the reference: every length from 0 to
 * 4,096 bytes at every alignment mod 16, random lengths, seeds and unaligned
 * starts, chained calls, long runs; and against fixed values: the shared
 * vectors' block and image CRCs (made by Python's zlib) and the well-known
 * check value of "123456789". Built twice: with ISA-L where meson found it
 * (test "crc"), and on src/crc.c compiled without it, zlib's fallback (test
 * "crc-zlib"); EXPECT_ISAL says which, and the test checks it. */
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
#include "helpers.h"

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
    uint8_t *buf = random_bytes(4096 + 16, 1);

    (void)state;
    for (size_t off = 0; off < 16; off++) {
        for (size_t len = 0; len <= 4096; len++) {
            uint32_t seed = (uint32_t)(len * 2654435761u);

            assert_int_equal(crc_update(0, buf + off, len),
                             (uint32_t)crc32(0L, buf + off, (uInt)len));
            assert_int_equal(crc_update(seed, buf + off, len),
                             (uint32_t)crc32(seed, buf + off, (uInt)len));
        }
    }
    free(buf);
}

static void test_random_lengths_and_starts(void **state)
{
    uint8_t *buf = random_bytes(4096 + 64, 3);

    (void)state;
    srand(4);
    for (int i = 0; i < 20000; i++) {
        size_t off = (size_t)rand() % 64, len = (size_t)rand() % 4097;
        uint32_t seed = (uint32_t)rand() * 2654435761u;

        assert_int_equal(crc_update(seed, buf + off, len),
                         (uint32_t)crc32(seed, buf + off, (uInt)len));
    }
    free(buf);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Each expected block's last 4 bytes are the CRC of its first 256 (data,
 * then 0xFF padding), and the header's are the image's. */
static void test_shared_vectors(void **state)
{
    size_t len, hlen, blen;
    uint8_t *img = vector("vec.bin", &len);
    uint8_t *hdr = vector("expected/header.bin", &hlen);
    uint32_t chained = 0;

    (void)state;
    assert_int_equal(len, 1000);
    assert_int_equal(hlen, 20);
    for (int i = 0; i < 4; i++) {
        char name[64];
        uint8_t *block;
        size_t n = len - (size_t)i * 256 < 256 ? len - (size_t)i * 256 : 256;

        snprintf(name, sizeof(name), "expected/block-%d.bin", i);
        block = vector(name, &blen);
        assert_int_equal(blen, 260);
        assert_int_equal(crc_update(0, block, 256), le32(block + 256));
        chained = crc_update(chained, img + i * 256, n);
        free(block);
    }
    assert_int_equal(crc_update(0, img, len), le32(hdr + 4));
    assert_int_equal(chained, le32(hdr + 4));
    free(img);
    free(hdr);
}

static void test_implementation(void **state)
{
    (void)state;
    assert_int_equal(crc_accelerated(), EXPECT_ISAL);
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
        cmocka_unit_test(test_random_lengths_and_starts),
        cmocka_unit_test(test_shared_vectors),
        cmocka_unit_test(test_implementation),
        cmocka_unit_test(test_special_bytes),
        cmocka_unit_test(test_chained_and_long),
    };

    printf("# crc_update(): %s\n", crc_accelerated() ? "ISA-L" : "zlib");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The block CRC table against the independent vectors in tests/vectors,
 * and it and the combined image CRC against zlib over many sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <zlib.h>

#include "helpers.h"
#include "wire.h"

static void test_vectors_blocks(void **state)
{
    size_t len, elen;
    uint8_t *img = vector("vec.bin", &len);
    uint8_t *out = malloc(4 * WIRE_CRC_SIZE);
    uint8_t *hdr = vector("expected/header.bin", &elen);
    struct ota_header h;

    (void)state;
    assert_int_equal(len, 1000);
    assert_int_equal(ota_block_count((uint32_t)len), 4);
    uint32_t crc = wire_block_crcs(img, (uint32_t)len, out);
    for (int i = 0; i < 4; i++) {
        char name[64];
        uint8_t *expected;
        size_t data = i < 3 ? 256 : 1000 - 3 * 256;

        snprintf(name, sizeof(name), "expected/block-%d.bin", i);
        expected = vector(name, &elen);
        assert_int_equal(elen, OTA_BLOCK_WIRE);
        /* The vector is data, then padding, then the CRC as the table holds it. */
        assert_memory_equal(expected, img + i * 256, data);
        for (size_t j = data; j < 256; j++)
            assert_int_equal(expected[j], 0xFF);
        assert_memory_equal(expected + 256, out + i * WIRE_CRC_SIZE, WIRE_CRC_SIZE);
        free(expected);
    }
    /* The header's checksum field is the whole-image CRC. */
    ota_header_decode(hdr, &h);
    assert_int_equal(crc, h.checksum);
    assert_int_equal(h.blocknum, 4);
    assert_int_equal(h.blocksize, 256);
    assert_int_equal(h.binsize, 1000);
    free(hdr);
    free(img);
    free(out);
}

static void test_vectors_header(void **state)
{
    size_t len, elen;
    uint8_t *img = vector("vec.bin", &len);
    uint8_t *expected = vector("expected/header.bin", &elen);
    uint8_t *out = malloc(4 * WIRE_CRC_SIZE);
    uint8_t hdr[OTA_HEADER_WIRE];

    (void)state;
    ota_header_encode(&(struct ota_header){.version = 7,
                                           .checksum = wire_block_crcs(img, 1000, out),
                                           .blocknum = 4,
                                           .blocksize = OTA_BLOCK_DATA,
                                           .binsize = 1000},
                      hdr);
    assert_int_equal(elen, OTA_HEADER_WIRE);
    assert_memory_equal(hdr, expected, OTA_HEADER_WIRE);
    free(img);
    free(expected);
    free(out);
}

/* The combined CRC must equal zlib's one-pass CRC for every shape of last
 * block, and each block's entry zlib's CRC of its padded 256 bytes. */
static void test_crc_matches_zlib(void **state)
{
    static const uint32_t sizes[] = {1, 2, 255, 256, 257, 511, 512, 513, 1000, 4096, 65537};
    uint8_t *img = malloc(65537);
    uint8_t *out = malloc(ota_block_count(65537) * WIRE_CRC_SIZE);
    uint8_t block[256];

    (void)state;
    fill_random(img, 65537, 42);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint32_t size = sizes[k], n = ota_block_count(size);
        uint32_t crc = wire_block_crcs(img, size, out);

        assert_int_equal(crc, (uint32_t)crc32(0, img, size));
        for (uint32_t i = 0; i < n; i++) {
            uint32_t data = size - i * 256 > 256 ? 256 : size - i * 256;

            memset(block, 0xFF, sizeof(block));
            memcpy(block, img + (size_t)i * 256, data);
            assert_int_equal(ota_get_le32(out + (size_t)i * 4), (uint32_t)crc32(0, block, 256));
        }
    }
    free(img);
    free(out);
}

static void test_block_count(void **state)
{
    (void)state;
    assert_int_equal(ota_block_count(1), 1);
    assert_int_equal(ota_block_count(256), 1);
    assert_int_equal(ota_block_count(257), 2);
    assert_int_equal(ota_block_count(UINT32_MAX), 16777216);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_blocks),
        cmocka_unit_test(test_vectors_header),
        cmocka_unit_test(test_crc_matches_zlib),
        cmocka_unit_test(test_block_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

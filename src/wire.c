/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include "crc.h"

#define PAD4 OTA_PAD_BYTE, OTA_PAD_BYTE, OTA_PAD_BYTE, OTA_PAD_BYTE
#define PAD32 PAD4, PAD4, PAD4, PAD4, PAD4, PAD4, PAD4, PAD4
/* What a short last block is padded with, for its CRC. */
static const uint8_t pad[OTA_BLOCK_DATA] = {PAD32, PAD32, PAD32, PAD32,
                                            PAD32, PAD32, PAD32, PAD32};

uint32_t wire_block_crcs(const uint8_t *data, uint32_t size, uint8_t *out)
{
    uint32_t nblocks = ota_block_count(size);
    uint32_t image_crc = 0;

    for (uint32_t i = 0; i < nblocks; i++) {
        const uint8_t *src = data + (size_t)i * OTA_BLOCK_DATA;
        uint32_t len = size - i * OTA_BLOCK_DATA, crc;

        if (len > OTA_BLOCK_DATA)
            len = OTA_BLOCK_DATA;
        crc = crc_update(0, src, len);
        /* The short last block is padded with the erased-flash value so the
         * device can program all 256 bytes without a special case; its CRC
         * covers the padding. */
        if (len < OTA_BLOCK_DATA)
            crc = crc_update(crc, pad, OTA_BLOCK_DATA - len);
        ota_put_le32(out + (size_t)i * WIRE_CRC_SIZE, crc);
        /* The image CRC covers the real bytes only, not the padding. It runs
         * over the block again while it is in the cache: cheaper than
         * combining the block CRCs with zlib's crc32_combine_op(). */
        image_crc = crc_update(image_crc, src, len);
    }
    return image_crc;
}

/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <string.h>

#include "crc.h"

uint32_t wire_encode_blocks(const uint8_t *data, uint32_t size, uint8_t *out)
{
    uint32_t nblocks = ota_block_count(size);
    uint32_t image_crc = 0;

    for (uint32_t i = 0; i < nblocks; i++) {
        const uint8_t *src = data + (size_t)i * OTA_BLOCK_DATA;
        uint8_t *dst = out + (size_t)i * OTA_BLOCK_WIRE;
        uint32_t len = size - i * OTA_BLOCK_DATA;

        if (len > OTA_BLOCK_DATA)
            len = OTA_BLOCK_DATA;
        memcpy(dst, src, len);
        /* The short last block is padded with the erased-flash value so the
         * device can program all 256 bytes without a special case. */
        memset(dst + len, OTA_PAD_BYTE, OTA_BLOCK_DATA - len);
        ota_put_le32(dst + OTA_BLOCK_DATA, crc_update(0, dst, OTA_BLOCK_DATA));
        /* The image CRC covers the real bytes only, not the padding. It runs
         * over the block again while it is in the cache: cheaper than
         * combining the block CRCs with zlib's crc32_combine_op(). */
        image_crc = crc_update(image_crc, src, len);
    }
    return image_crc;
}

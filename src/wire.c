#include "wire.h"

#include <string.h>
#include <zlib.h>

uint32_t wire_encode_blocks(const uint8_t *data, uint32_t size, uint8_t *out)
{
    /* The operator that shifts a CRC over 256 bytes, computed once. */
    const uLong shift = crc32_combine_gen(OTA_BLOCK_DATA);
    uint32_t nblocks = ota_block_count(size);
    uLong image_crc = crc32(0L, Z_NULL, 0);

    for (uint32_t i = 0; i < nblocks; i++) {
        const uint8_t *src = data + (size_t)i * OTA_BLOCK_DATA;
        uint8_t *dst = out + (size_t)i * OTA_BLOCK_WIRE;
        uint32_t len = size - i * OTA_BLOCK_DATA;
        uLong block_crc;

        if (len > OTA_BLOCK_DATA)
            len = OTA_BLOCK_DATA;
        memcpy(dst, src, len);
        /* The short last block is padded with the erased-flash value so the
         * device can program all 256 bytes without a special case. */
        memset(dst + len, OTA_PAD_BYTE, OTA_BLOCK_DATA - len);
        block_crc = crc32(0L, dst, OTA_BLOCK_DATA);
        ota_put_le32(dst + OTA_BLOCK_DATA, (uint32_t)block_crc);
        if (len == OTA_BLOCK_DATA)
            image_crc = crc32_combine_op(image_crc, block_crc, shift);
        else /* the image CRC covers the real bytes only, not the padding */
            image_crc = crc32(image_crc, src, len);
    }
    return (uint32_t)image_crc;
}

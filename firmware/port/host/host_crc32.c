/* SPDX-License-Identifier: MIT */
/* The core's CRC-32 on the host: zlib's, which is the same function
 * (IEEE 802.3, reflected) several times faster than the core's 64-byte
 * table, and not instrumented by the sanitizers. The power-cut sweeps
 * verify images hundreds of thousands of times. tests/firmware/test-crc32
 * checks the core's own implementation, which the devices run, against
 * zlib. */
#include <zlib.h>

#include "ota_crc32.h"

uint32_t ota_crc32(uint32_t crc, const void *data, uint32_t len)
{
    return (uint32_t)crc32(crc, data, len);
}

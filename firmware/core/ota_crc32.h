/* SPDX-License-Identifier: MIT */
/* CRC-32 as zlib computes it (IEEE 802.3, reflected polynomial 0xEDB88320,
 * initial and final XOR 0xFFFFFFFF): the checksum of the block protocol. */
#ifndef OTA_CRC32_H
#define OTA_CRC32_H

#include <stdint.h>

/* Continues @crc (0 to start) over @len bytes at @data, as zlib's crc32(). */
uint32_t ota_crc32(uint32_t crc, const void *data, uint32_t len);

#endif

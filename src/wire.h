/* SPDX-License-Identifier: MIT */
/* Encoding of images into the protocol's wire forms (see include/otad/proto.h). */
#ifndef OTAD_WIRE_H
#define OTAD_WIRE_H

#include <stdint.h>

#include "otad/proto.h"

/* Bytes of a block CRC in a CRC table: the 4 bytes that end the block on the
 * wire, little-endian. */
#define WIRE_CRC_SIZE 4u

/* Writes the CRC-32 of every block of the @size-byte image at @data, as the
 * block carries it on the wire (of the 256 bytes, 0xFF-padded), into @out
 * (ota_block_count(size) * WIRE_CRC_SIZE bytes, caller-owned) and returns the
 * CRC-32 of the whole image, block by block while each is in the cache. */
uint32_t wire_block_crcs(const uint8_t *data, uint32_t size, uint8_t *out);

#endif

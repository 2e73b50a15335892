/* SPDX-License-Identifier: MIT */
/* Encoding of images into the protocol's wire forms (see include/otad/proto.h). */
#ifndef OTAD_WIRE_H
#define OTAD_WIRE_H

#include <stdint.h>

#include "otad/proto.h"

/* Writes the wire form of every block of the @size-byte image at @data into
 * @out (ota_block_count(size) * OTA_BLOCK_WIRE bytes, caller-owned) and
 * returns the CRC-32 of the whole image, block by block while each is in the
 * cache. */
uint32_t wire_encode_blocks(const uint8_t *data, uint32_t size, uint8_t *out);

#endif

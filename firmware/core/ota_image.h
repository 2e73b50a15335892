/* SPDX-License-Identifier: MIT */
/* An application image in a flash area: whether its bytes match a recorded
 * CRC, and whether its vector table can be an application's. */
#ifndef OTA_IMAGE_H
#define OTA_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"

/* Verifies the first @size bytes of @area against @crc (false for a size of
 * 0 or one larger than the area). */
bool ota_image_verify(const struct ota_flash_map *m, enum ota_area area, uint32_t size,
                      uint32_t crc);

/* True if the vector table at the start of the primary area looks like a
 * Cortex-M application's: an initial stack pointer inside @ram (above its
 * base, at most its end, word-aligned) and a Thumb reset vector inside the
 * primary area, past the table's start. */
bool ota_app_plausible(const struct ota_flash_map *m, const struct ota_ram *ram);

#endif

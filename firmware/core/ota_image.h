/* The application image in flash: where it lives, whether its bytes match
 * the recorded CRC, and whether its vector table can be an application's. */
#ifndef OTA_IMAGE_H
#define OTA_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"

/* Address and size of the application area. */
uint32_t ota_app_addr(const struct ota_flash_layout *fl);
uint32_t ota_app_area_size(const struct ota_flash_layout *fl);

/* Verifies @size bytes of the application area against @crc. */
bool ota_app_verify(const struct ota_flash_layout *fl, uint32_t size, uint32_t crc);

/* True if the vector table at the start of the application area looks like
 * a Cortex-M application's: an initial stack pointer inside @ram (above its
 * base, at most its end, word-aligned) and a Thumb reset vector inside the
 * application area, past the table's start. */
bool ota_app_plausible(const struct ota_flash_layout *fl, const struct ota_ram *ram);

#endif

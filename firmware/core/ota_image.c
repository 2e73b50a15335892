/* SPDX-License-Identifier: MIT */
#include "ota_image.h"

#include "ota_flash.h"
#include "otad/proto.h"

bool ota_image_verify(const struct ota_flash_map *m, enum ota_area area, uint32_t size,
                      uint32_t crc)
{
    uint32_t c;

    return size != 0 && ota_area_crc(m, area, size, &c) && c == crc;
}

bool ota_app_plausible(const struct ota_flash_map *m, const struct ota_ram *ram)
{
    uint32_t first = m->area[OTA_AREA_PRIMARY].addr;
    uint32_t end = first + ota_area_size(m, OTA_AREA_PRIMARY);
    uint8_t vt[8];
    uint32_t sp, pc;

    if (ota_port_flash_read(OTA_AREA_PRIMARY, 0, vt, sizeof(vt)) < 0)
        return false;
    sp = ota_get_le32(vt);
    pc = ota_get_le32(vt + 4);
    /* The stack grows down from its initial value, so the end of the RAM is
     * the usual choice; the base would leave no stack at all. An erased
     * vector (0xFFFFFFFF) fails both tests. */
    if (sp <= ram->base || sp - ram->base > ram->size || (sp & 3u) != 0)
        return false;
    /* A BX to an address without the Thumb bit faults on Cortex-M. */
    return (pc & 1u) == 1 && pc > first && pc < end;
}

/* SPDX-License-Identifier: MIT */
#include "ota_flash.h"

#include <string.h>

#include "ota_crc32.h"
#include "ota_err.h"

uint32_t ota_area_size(const struct ota_flash_map *m, enum ota_area area)
{
    const struct ota_flash_area *a;
    uint32_t size = 0;

    if ((unsigned)area >= OTA_AREA_COUNT)
        return 0;
    a = &m->area[area];
    for (uint32_t i = 0; i < a->nsectors; i++)
        size += a->sector_size[i];
    return size;
}

bool ota_map_dual(const struct ota_flash_map *m)
{
    return m->area[OTA_AREA_SECONDARY].nsectors > 0;
}

bool ota_area_sector(const struct ota_flash_map *m, enum ota_area area, uint32_t off,
                     uint32_t *start, uint32_t *size)
{
    const struct ota_flash_area *a;
    uint32_t at = 0;

    if ((unsigned)area >= OTA_AREA_COUNT)
        return false;
    a = &m->area[area];
    for (uint32_t i = 0; i < a->nsectors; i++) {
        if (off - at < a->sector_size[i]) {
            *start = at;
            *size = a->sector_size[i];
            return true;
        }
        at += a->sector_size[i];
    }
    return false;
}

bool ota_area_span(const struct ota_flash_map *m, enum ota_area area, uint32_t off,
                   uint32_t len, uint32_t *addr)
{
    uint32_t size = ota_area_size(m, area);

    if (size == 0 || off > size || len > size - off)
        return false;
    *addr = m->area[area].addr + off;
    return true;
}

bool ota_area_crc(const struct ota_flash_map *m, enum ota_area area, uint32_t size,
                  uint32_t *crc)
{
    uint8_t buf[256];
    uint32_t c = 0;

    if (size > ota_area_size(m, area))
        return false;
    for (uint32_t off = 0; off < size; off += sizeof(buf)) {
        uint32_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

        if ((off & 0x3FFFu) == 0)
            ota_port_watchdog_feed();
        if (ota_port_flash_read(area, off, buf, n) < 0)
            return false;
        c = ota_crc32(c, buf, n);
    }
    *crc = c;
    return true;
}

int ota_flash_write_verified(enum ota_area area, uint32_t off, const uint8_t *data,
                             uint32_t len)
{
    uint8_t back[256];

    for (uint32_t done = 0; done < len; done += sizeof(back)) {
        uint32_t n = len - done < sizeof(back) ? len - done : sizeof(back);

        if (ota_port_flash_program(area, off + done, data + done, n) < 0 ||
            ota_port_flash_read(area, off + done, back, n) < 0 || memcmp(back, data + done, n) != 0)
            return OTA_ERR_FLASH;
    }
    return OTA_OK;
}

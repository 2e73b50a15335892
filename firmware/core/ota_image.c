#include "ota_image.h"

#include "ota_crc32.h"
#include "ota_state.h"
#include "otad/proto.h"

uint32_t ota_app_addr(const struct ota_flash_layout *fl)
{
    return ota_flash_sector_addr(fl, fl->app_first_sector);
}

uint32_t ota_app_area_size(const struct ota_flash_layout *fl)
{
    uint32_t size = 0;

    for (uint32_t s = fl->app_first_sector; s <= fl->app_last_sector; s++)
        size += fl->sector_size[s];
    return size;
}

bool ota_app_verify(const struct ota_flash_layout *fl, uint32_t size, uint32_t crc)
{
    uint8_t buf[256];
    uint32_t addr = ota_app_addr(fl), c = 0;

    if (size == 0 || size > ota_app_area_size(fl))
        return false;
    for (uint32_t off = 0; off < size; off += sizeof(buf)) {
        uint32_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

        if (ota_port_flash_read(addr + off, buf, n) < 0)
            return false;
        c = ota_crc32(c, buf, n);
    }
    return c == crc;
}

bool ota_app_plausible(const struct ota_flash_layout *fl, const struct ota_ram *ram)
{
    uint32_t first = ota_app_addr(fl), end = first + ota_app_area_size(fl);
    uint8_t vt[8];
    uint32_t sp, pc;

    if (ota_port_flash_read(first, vt, sizeof(vt)) < 0)
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

/* SPDX-License-Identifier: MIT */
/* The STM32F401RE (RM0368): 512 KiB of flash, 96 KiB of SRAM, the
 * single-slot map of f4_layouts.h (application at 0x08010000, downloaded
 * over in place). */
#include "f4_layouts.h"
#include "layout.h"
#include "ota_port.h"
#include "regs.h"

const struct layout layout = {
    .name = "f401",
    .flash_size = F401_FLASH_SIZE,
    .keep_out = 1u << 0 | 1u << 1, /* the bootloader */
};

static const struct ota_flash_map map = F401_MAP(FLASH_BASE_ADDR);

const struct ota_flash_map *ota_port_flash_map(void)
{
    return &map;
}

const struct ota_ram *ota_port_ram(void)
{
    static const struct ota_ram ram = {.base = SRAM_BASE_ADDR, .size = 96u * 1024u};

    return &ram;
}

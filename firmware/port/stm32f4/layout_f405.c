/* SPDX-License-Identifier: MIT */
/* The STM32F405/F407 (RM0090): 1 MiB of flash and the dual-slot map of
 * f4_layouts.h (application at 0x08020000, downloads beside it in sectors
 * 8-10, sector 11 for the swap). The RAM is SRAM1 and SRAM2, contiguous at
 * 0x20000000 (112 + 16 KiB); the 64 KiB core-coupled RAM at 0x10000000 is
 * not offered to applications' stacks. */
#include "f4_layouts.h"
#include "layout.h"
#include "ota_port.h"
#include "regs.h"

const struct layout layout = {
    .name = "f405",
    .flash_size = F405_FLASH_SIZE,
    /* The bootloader, and sector 4, which the map leaves to the application
     * for its own data: an update must never erase it. */
    .keep_out = 1u << 0 | 1u << 1 | 1u << 4,
};

static const struct ota_flash_map map = F405_MAP(FLASH_BASE_ADDR);

const struct ota_flash_map *ota_port_flash_map(void)
{
    return &map;
}

const struct ota_ram *ota_port_ram(void)
{
    static const struct ota_ram ram = {.base = SRAM_BASE_ADDR, .size = 128u * 1024u};

    return &ram;
}

/* SPDX-License-Identifier: MIT */
/* The f401 board: the 512 KiB single-slot map, and no watchdog (the single-
 * slot bootloader waits out multi-second back-offs; devices in the field run
 * it without one). */
#include "f4_layouts.h"
#include "mps2.h"
#include "qemu_port.h"

static const struct ota_flash_map map = F401_MAP(FLASH_BASE);

const uint32_t qemu_flash_size = F401_FLASH_SIZE;
const bool qemu_has_watchdog = false;

const struct ota_flash_map *ota_port_flash_map(void)
{
    return &map;
}

void qemu_watchdog_start(void)
{
}

void ota_port_watchdog_feed(void)
{
}

/* SPDX-License-Identifier: MIT */
/* The f405 board: the 1 MiB dual-slot map, and the CMSDK APB watchdog of the
 * mps2-an386 (QEMU models it at 0x40008000, its interrupt on the NMI), so
 * that an application that hangs before confirming itself is reset and its
 * trial boot counts as failed, as on a device. */
#include "f4_layouts.h"
#include "mps2.h"
#include "qemu_port.h"

static const struct ota_flash_map map = F405_MAP(FLASH_BASE);

const uint32_t qemu_flash_size = F405_FLASH_SIZE;
const bool qemu_has_watchdog = true;

const struct ota_flash_map *ota_port_flash_map(void)
{
    return &map;
}

/* The counter runs down from LOAD twice: the first time it raises the NMI
 * (a warning, see startup.c), the second time it resets the chip, 3 s after
 * the last feed. The core feeds it between flash operations, copy chunks and
 * requests, and the port through the waits the core bounds (receive, drain,
 * back-off), so only a hang goes 3 s unfed. */
#define WDOG_PERIOD_MS 1500u

void qemu_watchdog_start(void)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_LOAD = SYSCLK_HZ / 1000u * WDOG_PERIOD_MS;
    WDOG_CTRL = WDOG_CTRL_INTEN | WDOG_CTRL_RESEN;
    WDOG_LOCK = 0;
}

void ota_port_watchdog_feed(void)
{
    /* Any write to INTCLR clears the interrupt and reloads the counter. */
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_INTCLR = 1;
    WDOG_LOCK = 0;
}

/* SPDX-License-Identifier: MIT */
/* No watchdog (the f401 build). The IWDG cannot be stopped once started, so
 * a bootloader that started it would oblige every application to feed it,
 * including the applications already built for this bootloader, which do
 * not; and on the single-slot layout there is no trial boot for a
 * watchdog reset to end. README.md has the details. */
#include "ota_port.h"
#include "watchdog.h"

void watchdog_start(void)
{
}

RAMFUNC void watchdog_feed(void)
{
}

void ota_port_watchdog_feed(void)
{
}

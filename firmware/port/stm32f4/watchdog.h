/* SPDX-License-Identifier: MIT */
/* The watchdog of a build: the independent watchdog (IWDG) on the f405
 * build (watchdog_iwdg.c), none on the f401 build (watchdog_none.c). The
 * Makefile links one of them; README.md says why they differ.
 *
 * Every wait of the port (sleep, the ESP8266 receive loops, the flash
 * controller's busy wait) feeds the watchdog as it polls: each of those
 * waits is bounded, so feeding there hides no hang, and the watchdog is left
 * to catch what is not a wait at all (code spinning where it should not, a
 * fault handler that hangs). ota_port_watchdog_feed() (for the core) calls
 * watchdog_feed(). */
#ifndef STM32F4_WATCHDOG_H
#define STM32F4_WATCHDOG_H

#include "regs.h"

/* Starts the watchdog, if the build has one; once started it runs until the
 * next reset, through the jump into the application. Reports, and clears,
 * a previous reset by the watchdog. Call once, early in the bootloader. */
void watchdog_start(void);

/* Restarts the watchdog's count. In SRAM (RAMFUNC), so the flash busy wait
 * can call it while an erase stalls every fetch from the flash. */
RAMFUNC void watchdog_feed(void);

#endif

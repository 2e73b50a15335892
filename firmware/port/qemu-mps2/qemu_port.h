/* SPDX-License-Identifier: MIT */
/* The QEMU mps2-an386 port: shared by the bootloader and the demo
 * application, which both need the emulated flash (the application to
 * record its update request). */
#ifndef QEMU_PORT_H
#define QEMU_PORT_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes of a QEMU run, for the test runner. */
#define EXIT_FLASH_VIOLATION 3  /* a program tried to set a bit */
#define EXIT_NOTHING_TO_DO 4    /* the bootloader returned */
#define EXIT_FAULT 5            /* a fault handler ran */
#define EXIT_POWER_CUT 99       /* cut=N reached */
#define EXIT_APP_BASE 100       /* the demo app exits with 100 + its version */

/* Sets up the UARTs and the millisecond tick, and opens the flash file named
 * by the "flash=" argument. With @load, the flash contents are read from the
 * file into the code RAM that emulates it (the bootloader does this at every
 * boot: after a power cut the RAM is gone). */
void qemu_port_init(bool load);

/* Writes @s to the log UART as it is. */
void qemu_log_raw(const char *s);

/* Microseconds since boot (SysTick and its counter): the time stamps of the
 * flash trace. Wraps after 71 minutes. */
uint32_t qemu_micros(void);

/* Set by an application whose faults should reset the chip, as a device's
 * fault handler would, rather than end the QEMU run with EXIT_FAULT. */
extern volatile bool qemu_fault_resets;

/* ---- The board: board_f401.c or board_f405.c, chosen by the build ------ */

/* Bytes of the emulated flash, and of its host file. */
extern const uint32_t qemu_flash_size;

/* Whether the bootloader runs the watchdog (applications inherit it). */
extern const bool qemu_has_watchdog;

/* Starts the watchdog if the board has one (the bootloader calls it; the
 * application inherits it running, and the core's calls of
 * ota_port_watchdog_feed() keep it fed). */
void qemu_watchdog_start(void);

#endif

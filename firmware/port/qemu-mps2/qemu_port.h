/* The QEMU mps2-an386 port: shared by the bootloader and the demo
 * application, which both need the emulated flash (the application to
 * record its update request). */
#ifndef QEMU_PORT_H
#define QEMU_PORT_H

#include <stdbool.h>

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

#endif

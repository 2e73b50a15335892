/* SPDX-License-Identifier: MIT */
/* Start-up for the bootloader and the demo application alike: each links
 * its own copy with its own vector table at the start of its image. */
#include <stdint.h>
#include <string.h>

#include "ota_port.h"
#include "qemu_port.h"
#include "semihost.h"

extern uint32_t __stack_top[], __data_load[], __data_start[], __data_end[], __bss_start[],
    __bss_end[];

int main(void);
void SysTick_Handler(void);

void Reset_Handler(void)
{
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    main();
    semihost_exit(EXIT_NOTHING_TO_DO);
}

volatile bool qemu_fault_resets;

/* A fault ends the run with a code the test runner reports, rather than a
 * hang that only a timeout would catch; unless the image asked for what a
 * device does, a reset. */
static void Fault_Handler(void)
{
    if (qemu_fault_resets) {
        qemu_log_raw("fault: resetting\n");
        ota_port_reset();
    }
    qemu_log_raw("fault\n");
    semihost_exit(EXIT_FAULT);
}

/* The watchdog's first expiry (f405 board): a warning only. Returning
 * leaves its interrupt pending, and the second expiry resets the chip unless
 * the watchdog is fed in between. */
static void NMI_Handler(void)
{
    qemu_log_raw("watchdog: expired once, resetting at the next expiry\n");
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    __stack_top,     Reset_Handler,   NMI_Handler,   Fault_Handler,
    Fault_Handler,   Fault_Handler,   Fault_Handler, 0,
    0,               0,               0,             Fault_Handler,
    Fault_Handler,   0,               Fault_Handler, SysTick_Handler,
};

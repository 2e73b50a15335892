/* SPDX-License-Identifier: MIT */
/* The board as a whole: bring-up, the server configuration, and the hand-over
 * to the application (jump, reset). The RAM its stack must be in depends on
 * the chip: layout_*.c. */
#include "board.h"

#include <board_config.h> /* <>: the CONFIG_DIR copy wins, see Makefile */
#include "clock.h"
#include "ota_fmt.h"
#include "ota_port.h"
#include "regs.h"
#include "uart.h"

void board_init(void)
{
    clock_init();
    uart_init();
}

/* The device is known to the server by the chip's 96-bit unique ID, as 24
 * hex digits in the order of its bytes in memory, unless the configuration
 * names it (QEMU's STM32F405 has no ID: reading it faults). */
#ifdef BOARD_DEVICE_ID
static const char *device_id(void)
{
    return BOARD_DEVICE_ID;
}
#else
static const char *device_id(void)
{
    static char id[2 * UID_BYTES + 1];

    ota_fmt_hex(id, (const uint8_t *)UID_BASE, UID_BYTES);
    return id;
}
#endif

const struct ota_server *ota_port_server(void)
{
    static struct ota_server server = {
        .host = BOARD_SERVER_HOST,
        .port = BOARD_SERVER_PORT,
        .name = BOARD_FIRMWARE_NAME,
    };

    if (server.device_id == NULL)
        server.device_id = device_id();
    return &server;
}

/* Leaves the machine as the application expects it after a reset: no
 * interrupt enabled or pending, SysTick off, the USARTs and GPIOA in their
 * reset state, the clock untouched (it is the reset clock, see clock.c), the
 * flash locked (flash.c locks it after every operation), PRIMASK clear.
 * All but the watchdog of the f405 build, which nothing but a reset stops:
 * the application inherits it running, just fed (watchdog_iwdg.c). */
void ota_port_jump(uint32_t app_addr)
{
    const volatile uint32_t *vt = (const volatile uint32_t *)app_addr;
    uint32_t sp = vt[0], pc = vt[1];

    if (!(pc & 1u)) /* the core checked; a BX to an ARM address would fault */
        ota_port_reset();
    uart_log_flush();

    irq_disable();
    clock_deinit();
    uart_deinit();
    for (uint32_t i = 0; i < (NVIC_IRQS + 31u) / 32u; i++) {
        NVIC_ICER(i) = 0xFFFFFFFFu;
        NVIC_ICPR(i) = 0xFFFFFFFFu;
    }
    SCB_ICSR = SCB_ICSR_PENDSTCLR | SCB_ICSR_PENDSVCLR;
    SCB_VTOR = app_addr;
    dsb();
    isb();

    /* With nothing enabled, clearing PRIMASK before the branch is safe, and
     * an application that never executes "cpsie i" (most do not: it is the
     * reset state) still gets its interrupts. */
    __asm volatile("msr msp, %0\n\t"
                   "cpsie i\n\t"
                   "bx %1"
                   :
                   : "r"(sp), "r"(pc)
                   : "memory");
    __builtin_unreachable();
}

void ota_port_reset(void)
{
    uart_log_flush();
    dsb();
    SCB_AIRCR = SCB_AIRCR_VECTKEY | (SCB_AIRCR & SCB_AIRCR_PRIGROUP_MASK) |
                SCB_AIRCR_SYSRESETREQ;
    dsb();
    for (;;) /* the reset takes effect within a few cycles */
        ;
}

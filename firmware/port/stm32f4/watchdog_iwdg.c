/* SPDX-License-Identifier: MIT */
/* The independent watchdog (RM0090, "Independent watchdog (IWDG)") of the
 * f405 build. It counts down from its own RC oscillator (LSI) and resets the
 * chip at zero unless fed; nothing but a reset stops it, so the application
 * the bootloader starts inherits it and must feed it too (app/app.c does).
 * That is the point on the dual-slot layout: an application on trial that
 * hangs before it calls ota_confirm() is reset, and the bootloader counts
 * the failed trial boot and reverts it.
 *
 * Timeout: LSI / 64 = 500 Hz, reload 4000: 8 s at the nominal 32 kHz. The
 * LSI is only specified within 17-47 kHz (STM32F405xx/F407xx datasheet, LSI
 * oscillator characteristics), so the real timeout lies between 5.4 s and
 * 15 s. The worst single steps of the core between two feeds are one 128 KiB
 * sector erase, up to 2 s at x32 (datasheet, flash memory programming), and
 * one block request, bounded by the 10 s receive timeout; the waits inside
 * both feed (flash busy wait, ESP8266 receive loop), and what is left
 * between feeds is tens of milliseconds of computation at most (a CRC over
 * 16 KiB, one 256-byte program). The 5.4 s floor keeps more than twice the
 * erase time even if no wait fed; a longer timeout would only delay the
 * recovery of a hung application, and the application gets the same 5.4 s
 * to feed.
 */
#include <stdbool.h>

#include "ota_port.h"
#include "regs.h"
#include "watchdog.h"

#define IWDG_PRESCALER IWDG_PR_DIV64
#define IWDG_RELOAD 4000u /* of 4095 at most */
/* Register updates cross into the LSI domain: up to 5 LSI periods (RM0090,
 * IWDG_SR), well under 1 ms; a generous bound in loop turns keeps this
 * independent of the millisecond clock. */
#define IWDG_UPDATE_SPINS 1000000u

void watchdog_start(void)
{
    bool by_watchdog = RCC_CSR & RCC_CSR_IWDGRSTF;

    /* The reset flags survive every reset but a power-on one: cleared here,
     * so the next boot reports only its own cause. */
    RCC_CSR |= RCC_CSR_RMVF;
    /* A core halted by a debugger stops the count too, so a breakpoint
     * does not end in a reset. No effect without a debugger. */
    DBGMCU_APB1_FZ |= DBGMCU_APB1_FZ_IWDG_STOP;

    /* Starting first also starts the LSI, which the prescaler and reload
     * updates need to complete; meanwhile the reset values give 512 ms. */
    IWDG_KR = IWDG_KEY_START;
    IWDG_KR = IWDG_KEY_ACCESS;
    IWDG_PR = IWDG_PRESCALER;
    IWDG_RLR = IWDG_RELOAD;
    for (uint32_t n = 0; n < IWDG_UPDATE_SPINS && (IWDG_SR & (IWDG_SR_PVU | IWDG_SR_RVU)); n++)
        ;
    IWDG_KR = IWDG_KEY_RELOAD;
    if (by_watchdog)
        ota_port_log("stm32f4: the last reset was by the watchdog");
}

RAMFUNC void watchdog_feed(void)
{
    IWDG_KR = IWDG_KEY_RELOAD;
}

void ota_port_watchdog_feed(void)
{
    watchdog_feed();
}

/* SPDX-License-Identifier: MIT */
/* Clock: the HSI at 16 MHz, which is also the reset state.
 *
 * Why not the PLL (84 MHz on the F401, 168 MHz on the F405): the bottleneck
 * is the ESP8266's 115200-baud link (11.5 KB/s), and at 16 MHz a block's
 * CRC-32 takes well under a millisecond. Staying on the reset clock means
 * zero flash wait states at any supply voltage (RM0368 and RM0090, "number
 * of wait states according to CPU clock": up to 16 MHz at 1.7 V on the
 * F401, 20 MHz at 1.8 V on the F405, 30 MHz at 2.7 V on both), no ready-bit
 * waits that could hang, and an application that starts with the clock tree
 * exactly as after a reset. Its +-1 % (factory trim, 25 C) keeps the UARTs
 * well inside their +-3 % tolerance. */
#include "clock.h"

#include "ota_port.h"
#include "regs.h"
#include "watchdog.h"

volatile uint32_t clock_ms;

/* In SRAM, so time keeps counting while an erase stalls the flash. */
RAMFUNC void SysTick_Handler(void)
{
    clock_ms++;
}

void clock_init(void)
{
    /* After a reset all of this already holds; it is written out so the
     * bootloader does not depend on who ran before it (a debugger script, an
     * application that jumped here). The loop bounds are generous counts
     * because there is no time base yet. */
    RCC_CR |= RCC_CR_HSION;
    for (uint32_t n = 0; n < 100000u && !(RCC_CR & RCC_CR_HSIRDY); n++)
        ;
    RCC_CFGR &= ~(RCC_CFGR_SW_MASK | RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK |
                  RCC_CFGR_PPRE2_MASK);
    for (uint32_t n = 0; n < 100000u && (RCC_CFGR & RCC_CFGR_SWS_MASK); n++)
        ;
    /* Lower the wait states only once running from the slower clock. */
    FLASH_ACR &= ~FLASH_ACR_LATENCY_MASK;

    clock_ms = 0;
    SYST_CSR = 0;
    SYST_RVR = CLOCK_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

void clock_deinit(void)
{
    SYST_CSR = 0;
    SYST_RVR = 0;
    SYST_CVR = 0;
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
}

uint32_t ota_port_millis(void)
{
    return clock_ms;
}

/* Feeds the watchdog while it waits: the core's back-off between update
 * attempts grows to minutes. */
void ota_port_sleep_ms(uint32_t ms)
{
    uint32_t start = clock_ms;

    while (clock_ms - start < ms)
        watchdog_feed();
}

/* SPDX-License-Identifier: MIT */
/* The system clock and the millisecond tick. */
#ifndef STM32F4_CLOCK_H
#define STM32F4_CLOCK_H

#include <stdint.h>

/* SYSCLK = HCLK = PCLK1 = PCLK2: the internal 16 MHz RC oscillator. */
#define CLOCK_HZ 16000000u

/* Selects the HSI with no prescalers and zero flash wait states, and starts
 * the 1 kHz SysTick behind ota_port_millis(). */
void clock_init(void);

/* Stops the SysTick and clears its pending request (before a jump). */
void clock_deinit(void);

/* Milliseconds since clock_init(). Only for code running from SRAM while the
 * flash is busy; everything else calls ota_port_millis(). */
extern volatile uint32_t clock_ms;

#endif

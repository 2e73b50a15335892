/* SPDX-License-Identifier: MIT */
/* Reset and exception entry for the bootloader and for applications built
 * with this port: the vector table, the C run-time set-up, and handlers that
 * reset the chip instead of hanging, so that any fault brings the bootloader
 * back. */
#include <stdint.h>

#include "regs.h"

/* From the linker script. */
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
/* Provided by clock.c and uart.c (in SRAM, see RAMFUNC). A program that does
 * not link them gets the resetting default. */
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void USART1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

#define VECTORS (16u + NVIC_IRQS)
#define D ((uintptr_t)Default_Handler)

__attribute__((section(".isr_vector"), used)) static const uintptr_t vector_table[VECTORS] = {
    [0] = (uintptr_t)&_estack,
    [1] = (uintptr_t)Reset_Handler,
    [2 ... 6] = D,   /* NMI, HardFault, MemManage, BusFault, UsageFault */
    [11 ... 12] = D, /* SVCall, DebugMonitor */
    [14] = D,        /* PendSV */
    [15] = (uintptr_t)SysTick_Handler,
    [16 ... 16 + USART1_IRQN - 1] = D,
    [16 + USART1_IRQN] = (uintptr_t)USART1_IRQHandler,
    [16 + USART1_IRQN + 1 ... VECTORS - 1] = D,
};

/* The table the CPU uses once running. A sector erase stalls every read of the
 * flash for up to two seconds; with the table (and the SysTick and USART1
 * handlers) in SRAM, the clock keeps ticking and no received byte is lost
 * meanwhile. VTOR needs the table aligned to its size rounded up to a power
 * of two: 101 words -> 512 bytes. */
static uint32_t ram_vectors[128] __attribute__((aligned(512)));

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;

    while (dst < &_edata) /* .data and .ramfunc */
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; dst++)
        *dst = 0;

    for (uint32_t i = 0; i < VECTORS; i++)
        ram_vectors[i] = vector_table[i];
    SCB_VTOR = (uint32_t)(uintptr_t)ram_vectors;
    dsb();
    isb();

    main();
    Default_Handler();
}

/* Any unexpected exception or interrupt: reset rather than spin, so a device
 * in the field recovers by itself. */
void Default_Handler(void)
{
    dsb();
    SCB_AIRCR = SCB_AIRCR_VECTKEY | (SCB_AIRCR & SCB_AIRCR_PRIGROUP_MASK) |
                SCB_AIRCR_SYSRESETREQ;
    dsb();
    for (;;) /* the reset takes effect within a few cycles */
        ;
}

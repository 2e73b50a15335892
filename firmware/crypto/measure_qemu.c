/* SPDX-License-Identifier: MIT */
/* The measurement program on QEMU's mps2-an386 (Cortex-M4): start-up,
 * SysTick as the clock, output and exit code through semihosting. Run with
 * -icount shift=0, QEMU counts one nanosecond of guest time per
 * instruction; the 25 MHz SysTick then advances once per 40 instructions. */
#include <stdbool.h>
#include <string.h>

#include "measure.h"

#define REG(a) (*(volatile uint32_t *)(a))
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SYSCLK_HZ 25000000u
#define NS_PER_TICK (1000000000u / SYSCLK_HZ)
#define STACK_MARK 0xA5A5A5A5u

extern uint32_t __stack_top[], __stack_limit[], __data_load[], __data_start[], __data_end[],
    __bss_start[], __bss_end[], __slot_start[], __slot_end[];

const char measure_unit[] = "instructions";

static volatile uint32_t wraps;

static void SysTick_Handler(void)
{
    wraps++;
}

uint64_t measure_now(void)
{
    uint32_t w, cvr;

    /* A wrap between the two reads shows as a changed count: read again. */
    do {
        w = wraps;
        cvr = SYST_CVR;
    } while (w != wraps);
    return ((uint64_t)w * (SYST_RVR + 1) + (SYST_RVR - cvr)) * NS_PER_TICK;
}

static int semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

void measure_print(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

static void __attribute__((noreturn)) exit_with(uint32_t code)
{
    uint32_t args[2] = {0x20026, code}; /* ADP_Stopped_ApplicationExit */

    for (;;)
        semihost(0x20, args); /* SYS_EXIT_EXTENDED */
}

uint8_t *measure_slot(uint32_t size)
{
    if ((uint32_t)((char *)__slot_end - (char *)__slot_start) < size) {
        measure_print("slot area too small\n");
        exit_with(2);
    }
    return (uint8_t *)__slot_start;
}

static uint32_t *frame, *painted_to;

void measure_stack_paint(void)
{
    uint32_t *p;

    /* The stack pointer here is a few words below the caller's, where what
     * it calls next starts its frames; the marker starts 256 bytes lower,
     * out of the way of this function's own frame. */
    __asm__ volatile("mov %0, sp" : "=r"(frame));
    painted_to = frame - 64;
    for (p = __stack_limit; p < painted_to; p++)
        *p = STACK_MARK;
}

uint32_t measure_stack_used(void)
{
    uint32_t *p = __stack_limit;

    while (p < painted_to && *p == STACK_MARK)
        p++;
    return (uint32_t)((char *)frame - (char *)p);
}

/* A loop of two instructions per turn, to show what the clock counts. */
static void spin(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void)
{
    uint64_t t;

    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 0x7; /* processor clock, interrupt, enabled */
    /* The counter reads 0 until its first reload: start from there. */
    while (SYST_CVR == 0)
        ;
    t = measure_now();
    spin(1000000);
    measure_figure("calibration: a loop of 2000000 instructions", measure_now() - t, measure_unit);
    exit_with((uint32_t)measure_run(false));
}

static void Fault_Handler(void)
{
    measure_print("fault\n");
    exit_with(5);
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    __stack_top,   Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0,             0,             0,             0,             Fault_Handler,
    Fault_Handler, 0,             Fault_Handler, SysTick_Handler,
};

/* SPDX-License-Identifier: MIT */
/* The few STM32F4 and Cortex-M4 registers this port touches, with the
 * addresses of RM0368 (STM32F401), which RM0090 (STM32F405/F407) shares for
 * every register here, and the ARMv7-M architecture manual. Written
 * out by hand so the port needs no vendor or CMSIS header: every register the
 * bootloader can change is listed here, which is also the list of what
 * ota_port_jump() must put back. */
#ifndef STM32F4_REGS_H
#define STM32F4_REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- Memory map (the sizes differ by chip: layout_*.c) ------------------- */
#define FLASH_BASE_ADDR 0x08000000u
#define SRAM_BASE_ADDR 0x20000000u
/* The 96-bit unique device ID (RM0368 30.2, RM0090 39.1), read-only. */
#define UID_BASE 0x1FFF7A10u
#define UID_BYTES 12u

/* ---- RCC (RM0368, RCC registers) ---------------------------------------- */
#define RCC_BASE 0x40023800u
#define RCC_CR REG32(RCC_BASE + 0x00)
#define RCC_CFGR REG32(RCC_BASE + 0x08)
#define RCC_AHB1RSTR REG32(RCC_BASE + 0x10)
#define RCC_APB1RSTR REG32(RCC_BASE + 0x20)
#define RCC_APB2RSTR REG32(RCC_BASE + 0x24)
#define RCC_AHB1ENR REG32(RCC_BASE + 0x30)
#define RCC_APB1ENR REG32(RCC_BASE + 0x40)
#define RCC_APB2ENR REG32(RCC_BASE + 0x44)
#define RCC_CSR REG32(RCC_BASE + 0x74)

#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 1)
#define RCC_CFGR_SW_MASK (3u << 0)  /* 00: HSI is SYSCLK */
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)  /* AHB prescaler, 0: /1 */
#define RCC_CFGR_PPRE1_MASK (7u << 10)  /* APB1 prescaler, 0: /1 */
#define RCC_CFGR_PPRE2_MASK (7u << 13)  /* APB2 prescaler, 0: /1 */
#define RCC_AHB1_GPIOA (1u << 0)        /* same bit in AHB1ENR and AHB1RSTR */
#define RCC_AHB1_GPIOC (1u << 2)
#define RCC_APB1_USART2 (1u << 17)      /* same bit in APB1ENR and APB1RSTR */
#define RCC_APB2_USART1 (1u << 4)       /* same bit in APB2ENR and APB2RSTR */
#define RCC_CSR_RMVF (1u << 24)         /* write 1: clear the reset flags */
#define RCC_CSR_IWDGRSTF (1u << 29)     /* the last reset was the IWDG's */

/* ---- Independent watchdog (RM0090, IWDG registers) -----------------------
 * The one thing ota_port_jump() cannot put back: once started (f405 build)
 * it runs on in the application. */
#define IWDG_BASE 0x40003000u
#define IWDG_KR REG32(IWDG_BASE + 0x00)
#define IWDG_PR REG32(IWDG_BASE + 0x04)
#define IWDG_RLR REG32(IWDG_BASE + 0x08)
#define IWDG_SR REG32(IWDG_BASE + 0x0C)

#define IWDG_KEY_RELOAD 0xAAAAu /* restart the count from IWDG_RLR */
#define IWDG_KEY_ACCESS 0x5555u /* unlock IWDG_PR and IWDG_RLR */
#define IWDG_KEY_START 0xCCCCu  /* start: cannot be undone but by a reset */
#define IWDG_PR_DIV64 4u        /* LSI / 64 */
#define IWDG_SR_PVU (1u << 0)   /* a prescaler update is in progress */
#define IWDG_SR_RVU (1u << 1)   /* a reload value update is in progress */

/* ---- Debug support (RM0090, DBGMCU): left as set, it only acts under a
 * debugger ------------------------------------------------------------------ */
#define DBGMCU_APB1_FZ REG32(0xE0042008u)
#define DBGMCU_APB1_FZ_IWDG_STOP (1u << 12) /* IWDG frozen while the core is halted */

/* ---- Embedded flash interface (RM0368, flash interface registers) ------------- */
#define FLASH_IF_BASE 0x40023C00u
#define FLASH_ACR REG32(FLASH_IF_BASE + 0x00)
#define FLASH_KEYR REG32(FLASH_IF_BASE + 0x04)
#define FLASH_SR REG32(FLASH_IF_BASE + 0x0C)
#define FLASH_CR REG32(FLASH_IF_BASE + 0x10)

#define FLASH_ACR_LATENCY_MASK (0xFu << 0)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_ICRST (1u << 11)
#define FLASH_ACR_DCRST (1u << 12)

#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu

#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_WRPERR (1u << 4)
#define FLASH_SR_PGAERR (1u << 5)
#define FLASH_SR_PGPERR (1u << 6)
#define FLASH_SR_PGSERR (1u << 7)
#define FLASH_SR_RDERR (1u << 8)
#define FLASH_SR_BSY (1u << 16)
#define FLASH_SR_ERRORS                                                        \
    (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR |    \
     FLASH_SR_PGSERR | FLASH_SR_RDERR)

#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_SNB(n) ((uint32_t)(n) << 3) /* bits 6:3 */
#define FLASH_CR_PSIZE_X8 (0u << 8)
#define FLASH_CR_PSIZE_X32 (2u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_LOCK (1u << 31)

/* ---- GPIO (RM0368, GPIO registers) --------------------------------------- */
#define GPIOA_BASE 0x40020000u
#define GPIOC_BASE 0x40020800u
#define GPIO_MODER(port) REG32((port) + 0x00)
#define GPIO_PUPDR(port) REG32((port) + 0x0C)
#define GPIO_IDR(port) REG32((port) + 0x10)
#define GPIO_AFR(port, pin) REG32((port) + 0x20 + 4u * ((pin) >> 3))

#define GPIO_MODE_INPUT 0u
#define GPIO_MODE_AF 2u
#define GPIO_PULL_UP 1u
#define GPIO_AF7_USART 7u /* USART1 and USART2 on PA2/3/9/10 */

/* ---- USART (RM0368, USART registers) --------------------------------------- */
#define USART1_BASE 0x40011000u
#define USART2_BASE 0x40004400u
#define USART_SR(u) REG32((u) + 0x00)
#define USART_DR(u) REG32((u) + 0x04)
#define USART_BRR(u) REG32((u) + 0x08)
#define USART_CR1(u) REG32((u) + 0x0C)

#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NF (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE (1u << 13)

#define USART1_IRQN 37u /* position in RM0368's vector table */

/* ---- Cortex-M4 system control space ---------------------------------------- */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* the processor clock, not HCLK/8 */

#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) REG32(0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) REG32(0xE000E280u + 4u * (n))
#define NVIC_IPR_BASE 0xE000E400u /* one priority byte per interrupt */
#define NVIC_IRQS 85u             /* the F401's interrupts 0..84; the F405
                                     has 82, and the rest are ignored */

#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define SCB_SHPR3 REG32(0xE000ED20u)
#define SCB_ICSR_PENDSTCLR (1u << 25)
#define SCB_ICSR_PENDSVCLR (1u << 27)
#define SCB_AIRCR_VECTKEY (0x05FAu << 16)
#define SCB_AIRCR_PRIGROUP_MASK (7u << 8)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)

/* Code that must keep running while the flash is busy (erasing stalls every
 * fetch from it for up to seconds): placed in SRAM by the linker script and
 * copied there by the reset handler. long_call because SRAM is out of reach
 * of a BL from flash. Such code must call nothing that lives in flash. */
#define RAMFUNC __attribute__((section(".ramfunc"), noinline, long_call))

#define ALWAYS_INLINE static inline __attribute__((always_inline))
ALWAYS_INLINE void dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
ALWAYS_INLINE void isb(void) { __asm volatile("isb 0xF" ::: "memory"); }
ALWAYS_INLINE void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
ALWAYS_INLINE void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }

#endif

/* SPDX-License-Identifier: MIT */
/* The few registers of QEMU's mps2-an386 (Cortex-M4) that the port uses. */
#ifndef QEMU_MPS2_H
#define QEMU_MPS2_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UARTs: UART0 is the log, UART1 the network link. */
#define UART0_BASE 0x40004000u
#define UART1_BASE 0x40005000u
#define UART_DATA(b) REG((b) + 0x00)
#define UART_STATE(b) REG((b) + 0x04)
#define UART_CTRL(b) REG((b) + 0x08)
#define UART_BAUDDIV(b) REG((b) + 0x10)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u

/* The CMSDK APB watchdog (its interrupt is the NMI). Writes are ignored
 * unless LOCK holds the key. */
#define WDOG_BASE 0x40008000u
#define WDOG_LOAD REG(WDOG_BASE + 0x000)
#define WDOG_CTRL REG(WDOG_BASE + 0x008)
#define WDOG_INTCLR REG(WDOG_BASE + 0x00C)
#define WDOG_LOCK REG(WDOG_BASE + 0xC00)
#define WDOG_CTRL_INTEN 0x1u   /* counts, and interrupts at the first expiry */
#define WDOG_CTRL_RESEN 0x2u   /* resets at the second */
#define WDOG_UNLOCK_KEY 0x1ACCE551u

/* SysTick and the System Control Block. */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_VTOR REG(0xE000ED08u)
#define SCB_AIRCR REG(0xE000ED0Cu)
#define AIRCR_SYSRESETREQ 0x05FA0004u

/* The system clock of the AN386 image. */
#define SYSCLK_HZ 25000000u

/* Code RAM at 0 (4 MiB) holds the emulated flash: the bootloader (loaded
 * by QEMU from the ELF), then what the board's map puts there. SRAM at
 * 0x20000000. */
#define FLASH_BASE 0x00000000u
#define BOOT_SIZE 0x8000u
#define SRAM_BASE 0x20000000u
#define SRAM_END 0x20400000u

#endif

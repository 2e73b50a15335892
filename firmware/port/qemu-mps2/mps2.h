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

/* SysTick and the System Control Block. */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_VTOR REG(0xE000ED08u)
#define SCB_AIRCR REG(0xE000ED0Cu)
#define AIRCR_SYSRESETREQ 0x05FA0004u

/* The system clock of the AN386 image. */
#define SYSCLK_HZ 25000000u

/* Code RAM at 0 holds the emulated flash: the bootloader (loaded by QEMU
 * from the ELF), the boot state and the application. SRAM at 0x20000000. */
#define FLASH_BASE 0x00000000u
#define FLASH_SIZE (512u * 1024u)
#define APP_ADDR 0x00010000u
#define SRAM_BASE 0x20000000u
#define SRAM_END 0x20400000u

#endif

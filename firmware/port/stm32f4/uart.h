/* SPDX-License-Identifier: MIT */
/* The two serial ports: USART2 (PA2/PA3, the ST-LINK virtual COM port on
 * Nucleo boards) carries the log; USART1 (PA9 TX, PA10 RX) talks to the
 * ESP8266. Both 115200 baud, 8N1. */
#ifndef STM32F4_UART_H
#define STM32F4_UART_H

#include <stdint.h>

#define UART_BAUD 115200u

/* Configures both ports and their pins and starts receiving from the ESP8266
 * into an interrupt-driven ring buffer. Needs clock_init() first. */
void uart_init(void);

/* Puts both USARTs, GPIOA and the USART1 interrupt back to their reset state
 * (before a jump). */
void uart_deinit(void);

/* Sends @len bytes to the ESP8266. 0, or negative if the transmitter stalls. */
int uart_esp_write(const void *data, uint32_t len);

/* Moves up to @len bytes already received from the ESP8266 into @buf and
 * returns their count (0 if none); never waits. */
uint32_t uart_esp_read(void *buf, uint32_t len);

/* Discards every byte received so far. */
void uart_esp_discard(void);

/* Received bytes lost so far (ring full, overrun, framing or parity error). */
uint32_t uart_esp_lost(void);

/* Waits (bounded) until the last log byte has left the wire, so a reset does
 * not cut the last line. */
void uart_log_flush(void);

#endif

/* SPDX-License-Identifier: MIT */
/* USART drivers. Transmission is polled: the log is short and the ESP8266
 * requests are a few dozen bytes. Reception from the ESP8266 is not: a block
 * response arrives at 11.5 KB/s while the core may be programming flash or
 * writing a log line, and the USART holds a single byte, so an interrupt moves
 * every byte into a ring buffer as it arrives. The ring (2 KiB) holds a whole
 * ESP8266 TCP segment burst (it forwards at most 2048 bytes at a time in
 * transparent mode) plus margin. */
#include "uart.h"

#include <stdbool.h>

#include "clock.h"
#include "ota_port.h"
#include "regs.h"

#define ESP_USART USART1_BASE
#define LOG_USART USART2_BASE
#define ESP_TX_PIN 9u
#define ESP_RX_PIN 10u
#define LOG_TX_PIN 2u
#define LOG_RX_PIN 3u

/* Longest time the transmitter may stay full: one byte takes 87 us. */
#define TX_TIMEOUT_MS 5u

#define RX_SIZE 2048u /* a power of two: the free-running indices wrap */
_Static_assert((RX_SIZE & (RX_SIZE - 1)) == 0, "RX_SIZE must be a power of two");

/* rx_head is written only by the interrupt, rx_tail only by the main loop;
 * both are 32-bit, so each side reads the other's index atomically. */
static volatile uint8_t rx_buf[RX_SIZE];
static volatile uint32_t rx_head, rx_tail, rx_lost;

/* In SRAM (RAMFUNC) so bytes keep arriving while an erase stalls the flash. */
RAMFUNC void USART1_IRQHandler(void)
{
    uint32_t sr = USART_SR(ESP_USART);

    if (!(sr & (USART_SR_RXNE | USART_SR_ORE | USART_SR_FE | USART_SR_NF | USART_SR_PE)))
        return;
    /* Reading DR after SR clears RXNE and the error flags. */
    uint8_t byte = (uint8_t)USART_DR(ESP_USART);

    if (sr & USART_SR_ORE) /* the byte in DR is good; the one after it was lost */
        rx_lost++;
    if (sr & (USART_SR_FE | USART_SR_PE)) {
        rx_lost++;
        return;
    }
    if (rx_head - rx_tail >= RX_SIZE) {
        rx_lost++;
        return;
    }
    rx_buf[rx_head & (RX_SIZE - 1)] = byte;
    rx_head++;
}

static void pin_af(uint32_t pin, bool pull_up)
{
    uint32_t shift = 2u * pin;

    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(3u << shift)) | GPIO_MODE_AF << shift;
    GPIO_PUPDR(GPIOA_BASE) = (GPIO_PUPDR(GPIOA_BASE) & ~(3u << shift)) |
                             (pull_up ? GPIO_PULL_UP << shift : 0u);
    uint32_t afshift = 4u * (pin & 7u);
    GPIO_AFR(GPIOA_BASE, pin) = (GPIO_AFR(GPIOA_BASE, pin) & ~(0xFu << afshift)) |
                                GPIO_AF7_USART << afshift;
}

static void usart_start(uint32_t usart, uint32_t cr1)
{
    USART_CR1(usart) = 0;
    /* Oversampling by 16: BRR = f_PCLK / baud, rounded (16 MHz: 139, 0.08 % off). */
    USART_BRR(usart) = (CLOCK_HZ + UART_BAUD / 2u) / UART_BAUD;
    USART_CR1(usart) = USART_CR1_UE | cr1;
}

void uart_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1_GPIOA;
    RCC_APB1ENR |= RCC_APB1_USART2;
    RCC_APB2ENR |= RCC_APB2_USART1;
    dsb(); /* the clocks must be running before the registers are written */

    /* Pull-ups on the RX lines: an unpowered or resetting ESP8266 must not
     * look like a stream of zero bytes. */
    pin_af(LOG_TX_PIN, false);
    pin_af(LOG_RX_PIN, true);
    pin_af(ESP_TX_PIN, false);
    pin_af(ESP_RX_PIN, true);

    rx_head = rx_tail = rx_lost = 0;
    usart_start(LOG_USART, USART_CR1_TE);
    usart_start(ESP_USART, USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE);
    NVIC_ISER(USART1_IRQN / 32u) = 1u << (USART1_IRQN % 32u);
}

void uart_deinit(void)
{
    NVIC_ICER(USART1_IRQN / 32u) = 1u << (USART1_IRQN % 32u);
    NVIC_ICPR(USART1_IRQN / 32u) = 1u << (USART1_IRQN % 32u);

    RCC_APB2RSTR |= RCC_APB2_USART1;
    RCC_APB2RSTR &= ~RCC_APB2_USART1;
    RCC_APB1RSTR |= RCC_APB1_USART2;
    RCC_APB1RSTR &= ~RCC_APB1_USART2;
    RCC_AHB1RSTR |= RCC_AHB1_GPIOA; /* PA13/PA14 return to SWD, as after reset */
    RCC_AHB1RSTR &= ~RCC_AHB1_GPIOA;
    RCC_APB2ENR &= ~RCC_APB2_USART1;
    RCC_APB1ENR &= ~RCC_APB1_USART2;
    RCC_AHB1ENR &= ~RCC_AHB1_GPIOA;
}

static int usart_putc(uint32_t usart, uint8_t c)
{
    uint32_t start = ota_port_millis();

    while (!(USART_SR(usart) & USART_SR_TXE))
        if (ota_port_millis() - start > TX_TIMEOUT_MS)
            return -1;
    USART_DR(usart) = c;
    return 0;
}

int uart_esp_write(const void *data, uint32_t len)
{
    const uint8_t *p = data;

    for (uint32_t i = 0; i < len; i++)
        if (usart_putc(ESP_USART, p[i]) < 0)
            return -1;
    return 0;
}

uint32_t uart_esp_read(void *buf, uint32_t len)
{
    uint8_t *out = buf;
    uint32_t tail = rx_tail, avail = rx_head - tail, n = len < avail ? len : avail;

    for (uint32_t i = 0; i < n; i++)
        out[i] = rx_buf[(tail + i) & (RX_SIZE - 1)];
    rx_tail = tail + n;
    return n;
}

void uart_esp_discard(void)
{
    rx_tail = rx_head;
}

uint32_t uart_esp_lost(void)
{
    return rx_lost;
}

void ota_port_log(const char *line)
{
    /* A stalled log port drops the line: the log must never stop the update. */
    for (; *line; line++)
        if (usart_putc(LOG_USART, (uint8_t)*line) < 0)
            return;
    usart_putc(LOG_USART, '\r');
    usart_putc(LOG_USART, '\n');
}

void uart_log_flush(void)
{
    uint32_t start = ota_port_millis();

    while (!(USART_SR(LOG_USART) & USART_SR_TC) && ota_port_millis() - start <= TX_TIMEOUT_MS)
        ;
}

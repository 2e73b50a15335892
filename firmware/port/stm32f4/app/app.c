/* An example application for the bootloader: it does nothing but wait for
 * the user button and then ask the bootloader for an update, which is all an
 * application needs to do to be updatable over the air.
 *
 * Built with the same startup, port and core as the bootloader (see the
 * Makefile), linked at 0x08010000 by app.ld. Publish $(BUILD)/app.bin on the
 * server as NAME.bin with a higher version in NAME.txt, press B1, and the
 * bootloader downloads and starts it. */
#include <stdbool.h>

#include "board.h"
#include "ota_boot.h"
#include "ota_port.h"
#include "regs.h"

/* PC13: the blue user button B1 of Nucleo-64 boards, pulled up on the board
 * and low while pressed. */
#define BUTTON_PIN 13u
#define DEBOUNCE_MS 30u

static bool button_down(void)
{
    return !(GPIO_IDR(GPIOC_BASE) & (1u << BUTTON_PIN));
}

int main(void)
{
    board_init();
    RCC_AHB1ENR |= RCC_AHB1_GPIOC;
    dsb();
    /* Input is PC13's reset mode; the pull-up only helps boards without one. */
    GPIO_MODER(GPIOC_BASE) &= ~(3u << (2u * BUTTON_PIN));
    GPIO_PUPDR(GPIOC_BASE) = (GPIO_PUPDR(GPIOC_BASE) & ~(3u << (2u * BUTTON_PIN))) |
                             GPIO_PULL_UP << (2u * BUTTON_PIN);

    ota_port_log("app: running; press B1 (PC13) to look for an update");
    for (;;) {
        if (!button_down())
            continue;
        ota_port_sleep_ms(DEBOUNCE_MS);
        if (!button_down())
            continue;
        ota_port_log("app: update requested, restarting into the bootloader");
        /* Records the request in the boot state and resets: returns only if
         * the request could not be recorded. */
        if (ota_request_update() < 0)
            ota_port_log("app: could not record the update request");
        while (button_down())
            ;
    }
}

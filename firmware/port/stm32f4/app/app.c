/* SPDX-License-Identifier: MIT */
/* An example application for the bootloader: it does nothing but wait for
 * the user button and then ask the bootloader for an update, which is all an
 * application needs to do to be updatable over the air. On the f405 build
 * (dual slot, with the watchdog) it also does the two things an application
 * owes that bootloader: it feeds the watchdog the bootloader started, and
 * once it has shown it runs it confirms the image, which otherwise is
 * reverted at the next reset. On the f401 build both calls do nothing.
 *
 * Built with the same startup, port and core as the bootloader (see the
 * Makefile), linked at the layout's application address by app_f401.ld or
 * app_f405.ld. Publish app.bin on the server as NAME.bin with a higher
 * version in NAME.txt, press B1, and the bootloader downloads and starts
 * it. */
#include <stdbool.h>

#include "board.h"
#include "ota_boot.h"
#include "ota_log.h"
#include "ota_port.h"
#include "regs.h"

/* PC13: the blue user button B1 of Nucleo-64 boards, pulled up on the board
 * and low while pressed. */
#define BUTTON_PIN 13u
#define DEBOUNCE_MS 30u
/* How long the main loop must have run before the image counts as working.
 * A real application would rather wait for proof of its own (it reached
 * its server, its sensors answered); this one has nothing else to show. */
#define CONFIRM_AFTER_MS 1000u

static bool button_down(void)
{
    return !(GPIO_IDR(GPIOC_BASE) & (1u << BUTTON_PIN));
}

/* True once per press: when the button is found down, and still down after
 * the bounce time, having been up before. Never waits for the release, so
 * a button held down keeps nothing else from running. */
static bool button_pressed(void)
{
    static bool was_down;
    bool down = button_down();

    if (down && !was_down) {
        ota_port_sleep_ms(DEBOUNCE_MS);
        down = button_down();
        was_down = down;
        return down;
    }
    was_down = down;
    return false;
}

/* Once, when the loop has run CONFIRM_AFTER_MS: keeps this image installed. */
static void confirm_once(uint32_t started)
{
    static bool done;
    int r;

    if (done || ota_port_millis() - started < CONFIRM_AFTER_MS)
        return;
    done = true;
    r = ota_confirm();
    if (r < 0)
        ota_logf("app: could not confirm the image (%d)", (int32_t)r);
    else
        ota_logf("app: image confirmed");
}

int main(void)
{
    uint32_t started;

    board_init();
    RCC_AHB1ENR |= RCC_AHB1_GPIOC;
    dsb();
    /* Input is PC13's reset mode; the pull-up only helps boards without one. */
    GPIO_MODER(GPIOC_BASE) &= ~(3u << (2u * BUTTON_PIN));
    GPIO_PUPDR(GPIOC_BASE) = (GPIO_PUPDR(GPIOC_BASE) & ~(3u << (2u * BUTTON_PIN))) |
                             GPIO_PULL_UP << (2u * BUTTON_PIN);

    ota_port_log("app: running; press B1 (PC13) to look for an update");
    started = ota_port_millis();
    for (;;) {
        /* The bootloader's watchdog (f405) fires within 5.4 s without this:
         * every turn of the loop passes here. */
        ota_port_watchdog_feed();
        confirm_once(started);
        if (!button_pressed())
            continue;
        ota_port_log("app: update requested, restarting into the bootloader");
        /* Records the request in the boot state and resets: returns only if
         * the request could not be recorded. */
        if (ota_request_update() < 0)
            ota_port_log("app: could not record the update request");
    }
}

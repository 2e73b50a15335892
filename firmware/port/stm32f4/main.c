/* SPDX-License-Identifier: MIT */
/* The bootloader: brings the board up and hands over to the portable core. */
#include "board.h"
#include "layout.h"
#include "ota_boot.h"
#include "ota_log.h"
#include "ota_port.h"
#include "watchdog.h"

/* Timing for an ESP8266 on a 115200-baud link and a home Wi-Fi network. */
static const struct ota_config config = {
    /* The module forwards data every 20 ms, but a Wi-Fi retransmission or a
     * busy access point can hold a response back for seconds. */
    .recv_timeout_ms = 10000,
    /* Each retry closes and reopens the connection (about 3 s with the
     * "+++" guard times), so a few are cheap compared to a failed update. */
    .block_retries = 5,
    .backoff_first_ms = 2000,
    /* A device whose server is down asks again every 5 minutes at most. */
    .backoff_max_ms = 300000,
    .attempts_with_app = 3,
    /* f405 (dual slot): a new application that resets before it calls
     * ota_confirm() (the watchdog, a fault) is reverted at once. An
     * application that needs a reset or two to come up would ask for more. */
    .trial_boots = 1,
    /* make OTA_REQUIRE_SIGNATURE=0: a server without manifests can update too. */
    .require_signature = OTA_REQUIRE_SIGNATURE,
    /* A report is one exchange that nothing waits for: a server that does
     * not answer it within 3 s is not waited for any longer. */
    .report_timeout_ms = 3000,
};

int main(void)
{
    board_init();
    ota_logf("otad bootloader, stm32f4 port, %s layout", layout.name);
    /* As early as it can report a watchdog reset: from here on, a hang
     * anywhere resets the chip (on a build with a watchdog). */
    watchdog_start();
    ota_boot_main(&config);
    /* Only a simulator comes back here; on a device, start over. */
    ota_port_reset();
    return 0;
}

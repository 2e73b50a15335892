/* SPDX-License-Identifier: MIT */
/* The bootloader in QEMU: timings short enough for tests, long enough for a
 * 15 KB/s link. The same for both boards (the single-slot one ignores
 * trial_boots, the dual-slot one attempts_with_app). */
#include "ota_boot.h"
#include "qemu_port.h"
#include "semihost.h"

int main(void)
{
    static const struct ota_config cfg = {
        .recv_timeout_ms = 1500,
        .block_retries = 3,
        .backoff_first_ms = 500,
        .backoff_max_ms = 4000,
        .attempts_with_app = 3,
        .trial_boots = 1,
        .require_signature = OTA_REQUIRE_SIGNATURE,
        .report_timeout_ms = 1000,
    };

    qemu_port_init(true);
    qemu_watchdog_start();
    ota_boot_main(&cfg);
    semihost_exit(EXIT_NOTHING_TO_DO);
}

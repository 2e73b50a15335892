/* SPDX-License-Identifier: MIT */
/* The bootloader: decides at every boot between running the application and
 * updating it, and updates it safely. The only entry point a port calls. */
#ifndef OTA_BOOT_H
#define OTA_BOOT_H

#include <stdbool.h>
#include <stdint.h>

/* Timing and persistence of the update; a port passes its own values. */
struct ota_config {
    uint32_t recv_timeout_ms;      /* longest wait for any byte of a response */
    uint32_t block_retries;        /* attempts per request, reconnecting between */
    uint32_t backoff_first_ms;     /* wait after a failed update attempt ... */
    uint32_t backoff_max_ms;       /* ... doubling up to this */
    uint32_t attempts_with_app;    /* single-slot: failed attempts before a valid app is
                                      run anyway (dual-slot: always 1, no back-off) */
    uint32_t trial_boots;          /* dual-slot: boots a new app gets to confirm itself
                                      before it is reverted (0 counts as 1) */
    bool require_signature;        /* only images with a manifest that verifies are
                                      installed and booted; false also takes a server
                                      without manifests (as legacy devices do) */
    uint32_t report_timeout_ms;    /* longest wait for the answer to a report
                                      (0: recv_timeout_ms); a report is tried once */
    bool anonymous;                /* as a legacy device: no X-Device-Id or
                                      X-Device-Version, no reports */
};

/* Sensible values for a device behind a serial Wi-Fi module. */
#define OTA_CONFIG_DEFAULT                                                    \
    {                                                                         \
        .recv_timeout_ms = 5000, .block_retries = 5, .backoff_first_ms = 1000, \
        .backoff_max_ms = 60000, .attempts_with_app = 3, .trial_boots = 1,     \
        .require_signature = true, .report_timeout_ms = 2000,                 \
    }

/* Runs the bootloader: reads the boot state, finishes an install or revert
 * in progress, reverts an application that failed its trial, updates if the
 * state asks for it (or there is no valid application), and jumps to the
 * verified application. Returns only when ota_port_jump() returns (a
 * simulator) or when there is nothing to boot and the port asked it to give
 * up (never on a device). */
void ota_boot_main(const struct ota_config *cfg);

/* For the application: asks the bootloader to look for an update at the next
 * boot, and resets. Returns only if the request could not be recorded
 * (negative) or the port's reset returns (a simulator: 0). */
int ota_request_update(void);

/* For the application on a dual-slot layout: confirms that the image it
 * runs from works, so it stays. Until it is called, every reset (watchdog,
 * fault, power) counts as a failed trial boot, and after trial_boots of them
 * the bootloader reverts to the previous image. Call it once the application
 * has shown it works (for example, it reached the network). Does nothing if
 * the image is not on trial, or on a single-slot layout. 0 or negative. */
int ota_confirm(void);

#endif

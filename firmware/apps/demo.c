/* SPDX-License-Identifier: MIT */
/* The demo application, built once per version and variant: it says which
 * version it is, and on request (the "update" argument, once per QEMU run)
 * asks the bootloader for an update through the documented call. Its exit
 * code tells the test runner which version booted.
 *
 * Variants (VARIANT, for the dual-slot f405 board; the f401 builds are
 * DEMO_PLAIN):
 *   DEMO_PLAIN      as above
 *   DEMO_CONFIRM    confirms its image first (ota_confirm()), then as above
 *   DEMO_NOCONFIRM  never confirms: waits forever, until the watchdog resets
 *                   it (or, without one, resets at once)
 *   DEMO_CRASH      jumps to an address that faults, and its fault handler
 *                   resets the chip as a device's would */
#include <stdint.h>

#include "ota_boot.h"
#include "ota_port.h"
#include "qemu_port.h"
#include "semihost.h"

#define DEMO_PLAIN 0
#define DEMO_CONFIRM 1
#define DEMO_NOCONFIRM 2
#define DEMO_CRASH 3

#ifndef VERSION
#error "build with -DVERSION=N"
#endif
#ifndef PAD
#define PAD 1
#endif
#ifndef VARIANT
#define VARIANT DEMO_PLAIN
#endif

/* Outside every image and both .bss: survives a reset within a QEMU run,
 * so the update is requested once, not again by the new version. */
#define REQUESTED (*(volatile uint32_t *)0x203FFF00u)
#define REQUESTED_MAGIC 0x55504454u

/* Makes each version a distinct image of a chosen size. */
__attribute__((used, section(".rodata.keep"))) static const uint8_t ballast[PAD] = {VERSION, 0xA5, VERSION * 3};

static void say(const char *s)
{
    qemu_log_raw("app: ");
    qemu_log_raw(s);
    qemu_log_raw("\n");
}

/* What a broken build does: a call through a pointer to the system region,
 * which is never executable (a MemManage fault, escalated to HardFault). */
static void crash(void)
{
    void (*volatile bad)(void) = (void (*)(void))0xE00FF001u;

    qemu_fault_resets = true;
    say("jumping to 0xe00ff000");
    bad();
}

static void never_confirm(void)
{
    say("not confirming");
    if (!qemu_has_watchdog) {
        /* Nothing would ever reset a hang: reset now, unconfirmed. */
        ota_port_reset();
    }
    for (;;)
        __asm__ volatile("wfi");
}

int main(void)
{
    char line[] = "version ?";

    qemu_port_init(false);
    line[8] = (char)('0' + VERSION % 10);
    say(line);
    if (VARIANT == DEMO_CRASH)
        crash();
    if (VARIANT == DEMO_NOCONFIRM)
        never_confirm();
    if (VARIANT == DEMO_CONFIRM) {
        int r = ota_confirm();

        say(r == 0 ? "confirmed" : "ota_confirm failed");
    }
    if (semihost_arg("update") != 0 && REQUESTED != REQUESTED_MAGIC) {
        REQUESTED = REQUESTED_MAGIC;
        say("requesting update");
        ota_request_update();
        say("the update request failed");
        semihost_exit(EXIT_NOTHING_TO_DO);
    }
    semihost_exit(EXIT_APP_BASE + VERSION);
}

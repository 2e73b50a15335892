/* The demo application, built once per version: it says which version it
 * is, and on request (the "update" argument, once per QEMU run) asks the
 * bootloader for an update through the documented call. Its exit code tells
 * the test runner which version booted. */
#include <stdint.h>

#include "ota_boot.h"
#include "qemu_port.h"
#include "semihost.h"

#ifndef VERSION
#error "build with -DVERSION=N"
#endif
#ifndef PAD
#define PAD 1
#endif

/* Outside every image and both .bss: survives a reset within a QEMU run,
 * so the update is requested once, not again by the new version. */
#define REQUESTED (*(volatile uint32_t *)0x203FFF00u)
#define REQUESTED_MAGIC 0x55504454u

/* Makes each version a distinct image of a chosen size. */
__attribute__((used, section(".rodata.keep"))) static const uint8_t ballast[PAD] = {VERSION, 0xA5, VERSION * 3};

int main(void)
{
    char line[] = "app: version ?";

    qemu_port_init(false);
    line[13] = (char)('0' + VERSION % 10);
    qemu_log_raw(line);
    qemu_log_raw("\n");
    if (semihost_arg("update") != 0 && REQUESTED != REQUESTED_MAGIC) {
        REQUESTED = REQUESTED_MAGIC;
        qemu_log_raw("app: requesting update\n");
        ota_request_update();
        qemu_log_raw("app: the update request failed\n");
        semihost_exit(EXIT_NOTHING_TO_DO);
    }
    semihost_exit(EXIT_APP_BASE + VERSION);
}

/* SPDX-License-Identifier: MIT */
/* The code-size probe: a program that calls only what PROBE selects, linked
 * like measure.elf with --gc-sections, so that the difference in size to
 * the PROBE=0 build is what a bootloader adds by calling it. Inputs come
 * through volatile pointers so that nothing is folded away.
 *   PROBE=0: nothing but the C library functions a bootloader has anyway
 *   PROBE=1: ota_p256_verify   PROBE=2: SHA-256   PROBE=3: both */
#include <string.h>

#include "ota_verify.h"

#define PROBE_VERIFY (PROBE & 1)
#define PROBE_SHA (PROBE & 2)

static uint8_t buf[OTA_P256_PUB_SIZE];
static uint8_t *volatile in = buf;
static volatile int result;

static int read_in(void *ctx, uint32_t off, void *out, uint32_t len)
{
    (void)ctx;
    (void)off;
    memcpy(out, in, len);
    return 0;
}

extern uint32_t __stack_top[];
void Reset_Handler(void) __attribute__((noreturn));

/* Never run, only linked: no data to copy, no bss to clear. */
void Reset_Handler(void)
{
    uint8_t digest[OTA_SHA256_SIZE];

    /* Every probe has the C library functions a bootloader has anyway. */
    memcpy(digest, in, sizeof(digest));
    memmove(buf, in + 1, 8);
    memset(in, digest[1], 4);
    result = memcmp(in, digest, 8);
    (void)read_in;
    if (PROBE_SHA) {
        struct ota_sha256 h;

        ota_sha256_init(&h);
        ota_sha256_update(&h, in, 16);
        ota_sha256_final(&h, digest);
        result = ota_sha256(read_in, 0, 16, digest) + digest[0];
    }
    if (PROBE_VERIFY)
        result = ota_p256_verify(in, in, in);
    for (;;)
        ;
}

__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {
    __stack_top,
    Reset_Handler,
};

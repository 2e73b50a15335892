/* SPDX-License-Identifier: MIT */
/* SHA-256 and ECDSA P-256 signature verification for the bootloader (and
 * for host tests of the same code), on BearSSL 0.6 as Debian packages it
 * (scripts/bearssl-source.sh, firmware/crypto/Makefile).
 *
 * Freestanding: no allocation, no I/O, nothing from the C library beyond
 * memcpy/memset/memcmp/memmove. This header needs no BearSSL header: the
 * hash state is opaque storage that ota_verify.c checks is large enough.
 * Nothing here keeps state between calls; every function is reentrant. */
#ifndef OTA_VERIFY_H
#define OTA_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The same definitions as in otad/proto.h, token for token, so that a file
 * may include both. */
#define OTA_SHA256_SIZE 32u
#define OTA_P256_SIG_SIZE 64u /* r || s, 32 bytes each, big-endian */
#define OTA_P256_PUB_SIZE 64u /* X || Y, 32 bytes each, big-endian */

/* A SHA-256 in progress, owned by the caller (stack or static). */
struct ota_sha256 {
    uint64_t opaque[14];
};

/* Starts a hash. */
void ota_sha256_init(struct ota_sha256 *h);

/* Adds @len bytes at @data (memory-mapped flash may be hashed in place). */
void ota_sha256_update(struct ota_sha256 *h, const void *data, size_t len);

/* Writes the digest of everything added to @out; @h must be started again
 * before any further use. */
void ota_sha256_final(struct ota_sha256 *h, uint8_t out[OTA_SHA256_SIZE]);

/* Reads @len bytes at offset @off into @buf: 0, or negative on error. */
typedef int (*ota_verify_read_fn)(void *ctx, uint32_t off, void *buf, uint32_t len);

/* The SHA-256 of the @size bytes that @read returns from offset 0 on, read
 * in chunks of 256 bytes into a buffer on the stack, so a port's flash read
 * (ota_port_flash_read) can be used for flash that is not memory-mapped,
 * and a read callback can feed the watchdog. Returns true and writes @out,
 * or false (@out untouched) if a read failed. Uses about 850 bytes of
 * stack. */
bool ota_sha256(ota_verify_read_fn read, void *ctx, uint32_t size,
                uint8_t out[OTA_SHA256_SIZE]);

/* Whether @sig (r || s) is a valid ECDSA P-256 signature of the digest
 * @hash under the public key @pub (X || Y, the uncompressed point without
 * its 0x04 prefix). False for a point off the curve, r or s zero or not
 * below the group order, or any mismatch. Uses about 2.2 KiB of stack
 * (3.7 KiB with br_ec_prime_i31), as measure.c measures it. */
bool ota_p256_verify(const uint8_t pub[OTA_P256_PUB_SIZE], const uint8_t hash[OTA_SHA256_SIZE],
                     const uint8_t sig[OTA_P256_SIG_SIZE]);

#endif

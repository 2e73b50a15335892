/* SPDX-License-Identifier: MIT */
/* The thin layer between the bootloader's types and BearSSL's: the
 * cryptography itself is BearSSL's (i31 ECDSA, the P-256 curve
 * implementation chosen by the build, SHA-256 from sha2small.c). */
#include "ota_verify.h"

#include <string.h>

#include "bearssl_ec.h"
#include "bearssl_hash.h"

/* The build may pick the generic i31 implementation (br_ec_prime_i31)
 * instead of the P-256 specific one; both are constant-time. */
#ifndef OTA_VERIFY_EC
#define OTA_VERIFY_EC br_ec_p256_m31
#endif

_Static_assert(sizeof(br_sha256_context) <= sizeof(struct ota_sha256),
               "struct ota_sha256 too small for br_sha256_context");
_Static_assert(_Alignof(br_sha256_context) <= _Alignof(struct ota_sha256),
               "struct ota_sha256 under-aligned for br_sha256_context");

void ota_sha256_init(struct ota_sha256 *h)
{
    br_sha256_init((br_sha256_context *)h);
}

void ota_sha256_update(struct ota_sha256 *h, const void *data, size_t len)
{
    br_sha256_update((br_sha256_context *)h, data, len);
}

void ota_sha256_final(struct ota_sha256 *h, uint8_t out[OTA_SHA256_SIZE])
{
    br_sha256_out((const br_sha256_context *)h, out);
}

bool ota_sha256(ota_verify_read_fn read, void *ctx, uint32_t size, uint8_t out[OTA_SHA256_SIZE])
{
    struct ota_sha256 h;
    uint8_t buf[256];
    uint32_t off;

    ota_sha256_init(&h);
    for (off = 0; off < size;) {
        uint32_t n = size - off < sizeof(buf) ? size - off : (uint32_t)sizeof(buf);

        if (read(ctx, off, buf, n) != 0)
            return false;
        ota_sha256_update(&h, buf, n);
        off += n;
    }
    ota_sha256_final(&h, out);
    return true;
}

bool ota_p256_verify(const uint8_t pub[OTA_P256_PUB_SIZE], const uint8_t hash[OTA_SHA256_SIZE],
                     const uint8_t sig[OTA_P256_SIG_SIZE])
{
    /* BearSSL takes the point in SEC 1 uncompressed form; the manifest and
     * the key table keep X || Y, so the 0x04 is added here. The muladd
     * decodes the point and fails on one that is not on the curve. */
    uint8_t q[1 + OTA_P256_PUB_SIZE];
    br_ec_public_key pk = {BR_EC_secp256r1, q, sizeof(q)};

    q[0] = 0x04;
    memcpy(q + 1, pub, OTA_P256_PUB_SIZE);
    return br_ecdsa_i31_vrfy_raw(&OTA_VERIFY_EC, hash, OTA_SHA256_SIZE, &pk, sig,
                                 OTA_P256_SIG_SIZE) == 1;
}

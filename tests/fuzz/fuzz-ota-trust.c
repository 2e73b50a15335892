/* SPDX-License-Identifier: MIT */
/* Fuzz target: a manifest as the bootloader receives it from
 * GET /NAME/manifest, through ota_trust_check() (ota_manifest_decode and
 * BearSSL's P-256 verify) with the two keys of tests/unit/sign, differential
 * against otad's sign_check() (GnuTLS) on the same bytes. The seeds are those
 * of fuzz-manifest (seeds/ota-trust/known is a genuine manifest of "sensor"
 * version 42). Aborts when the two disagree on the verdict, or when a
 * manifest passes that does not describe the header. */
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>

#include "host.h"
#include "ota_trust.h"
#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/unit/sign/a.pub (signed known.sig) and b.pub. */
static const char *const pubs[2] = {
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEASQINtQgrbTvpkWO0/VKJarzHJTE\n"
    "SQBAi8zgO0Pbta8CvjBI/IrmGtvd3AlEtkSBHlOhfzL9eatty6+47N3cpA==\n"
    "-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENgj0qRhQFroSHY9zVuJUAlLKAzKS\n"
    "4PjK8LiINfQ8zEH414pyA6tPoLVF072bHZ3LlV/I5obJeRr6h2Ob6z8coQ==\n"
    "-----END PUBLIC KEY-----\n",
};

/* The firmware of known.sig: "sensor" version 42, bytes i*7+3. */
#define NAME "sensor"
#define VERSION 42u
#define SIZE 1000u
#define CRC 0x17bc2a46u

static struct sign_key keys[2];
static struct ota_key table[2];
static uint8_t image[SIZE];

static void init(void)
{
    for (int i = 0; i < 2; i++) {
        gnutls_datum_t x, y;

        if (sign_key_import(&keys[i], (const uint8_t *)pubs[i], strlen(pubs[i])) != 0 ||
            gnutls_pubkey_export_ecc_raw2(keys[i].pub, NULL, &x, &y,
                                          GNUTLS_EXPORT_FLAG_NO_LZ) < 0 ||
            x.size != 32 || y.size != 32)
            abort();
        memcpy(table[i].xy, x.data, 32);
        memcpy(table[i].xy + 32, y.data, 32);
        memcpy(table[i].id, keys[i].id, 8);
        gnutls_free(x.data);
        gnutls_free(y.data);
    }
    for (size_t i = 0; i < SIZE; i++)
        image[i] = (uint8_t)(i * 7 + 3);
    host_set_keys(table, 2);
    host_set_server("127.0.0.1", 8000, NAME);
}

/* What the bootloader must say for otad's verdict @v (the image's SHA-256
 * is checked later, after the download, so it is no verdict here). */
static enum ota_trust_verdict expected(enum sign_verdict v)
{
    switch (v) {
    case SIGN_OK:
    case SIGN_SHA256_MISMATCH:
        return OTA_TRUST_OK;
    case SIGN_MALFORMED:
        return OTA_TRUST_MALFORMED;
    case SIGN_UNKNOWN_KEY:
        return OTA_TRUST_UNKNOWN_KEY;
    case SIGN_BAD_SIGNATURE:
        return OTA_TRUST_BAD_SIGNATURE;
    case SIGN_OTHER_NAME:
        return OTA_TRUST_OTHER_NAME;
    default:
        return OTA_TRUST_MISMATCH;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    const struct ota_header h = {.version = VERSION, .checksum = CRC, .binsize = SIZE};
    struct ota_manifest m;
    enum ota_trust_verdict t;
    size_t by;

    if (!ready) {
        init();
        ready = 1;
    }
    if (size > UINT32_MAX)
        return 0;
    t = ota_trust_check(data, (uint32_t)size, &h, 0, &m);
    if (t != expected(sign_check(data, size, keys, 2, NAME, VERSION, image, SIZE, CRC, &by)))
        abort();
    if (ota_trust_str(t) == NULL)
        abort();
    if (t == OTA_TRUST_OK &&
        (m.version != VERSION || m.size != SIZE || m.crc != CRC || memcmp(m.name, NAME, 7) != 0))
        abort();
    /* The floor: the same manifest is a downgrade above its version. */
    if (t == OTA_TRUST_OK && ota_trust_check(data, (uint32_t)size, &h, VERSION + 1, &m) !=
                                 OTA_TRUST_DOWNGRADE)
        abort();
    return 0;
}

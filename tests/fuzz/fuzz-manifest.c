/* SPDX-License-Identifier: MIT */
/* Fuzz target: a NAME.sig as otad reads it, through ota_manifest_decode()
 * and sign_check() against two trusted keys and one firmware. The input is
 * the file's bytes. The seed seeds/manifest/known is a genuine manifest of
 * that firmware (tests/unit/sign/known.sig), so mutations start from one
 * that verifies. Aborts when the verdict and the decoder disagree, when a
 * decoded manifest does not encode back to its bytes, or when a manifest
 * verifies that does not describe the firmware. */
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/unit/sign/a.pub (signed known.sig) and b.pub. */
static const char a_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEASQINtQgrbTvpkWO0/VKJarzHJTE\n"
    "SQBAi8zgO0Pbta8CvjBI/IrmGtvd3AlEtkSBHlOhfzL9eatty6+47N3cpA==\n"
    "-----END PUBLIC KEY-----\n";
static const char b_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENgj0qRhQFroSHY9zVuJUAlLKAzKS\n"
    "4PjK8LiINfQ8zEH414pyA6tPoLVF072bHZ3LlV/I5obJeRr6h2Ob6z8coQ==\n"
    "-----END PUBLIC KEY-----\n";

/* The firmware of known.sig: "sensor" version 42, bytes i*7+3. */
#define NAME "sensor"
#define VERSION 42u
#define SIZE 1000u
#define CRC 0x17bc2a46u

static struct sign_key keys[2];
static uint8_t image[SIZE];

static void init(void)
{
    if (sign_key_import(&keys[0], (const uint8_t *)a_pub, sizeof(a_pub) - 1) != 0 ||
        sign_key_import(&keys[1], (const uint8_t *)b_pub, sizeof(b_pub) - 1) != 0)
        abort();
    for (size_t i = 0; i < SIZE; i++)
        image[i] = (uint8_t)(i * 7 + 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    uint8_t again[OTA_MANIFEST_SIZE];
    struct ota_manifest m;
    enum sign_verdict v;
    size_t by = 99;
    int decoded;

    if (!ready) {
        init();
        ready = 1;
    }
    decoded = ota_manifest_decode(data, size, &m) == 0;
    if (decoded) {
        ota_manifest_encode(&m, again);
        if (memcmp(again, data, OTA_MANIFEST_SIZE) != 0)
            abort();
    }
    v = sign_check(data, size, keys, 2, NAME, VERSION, image, SIZE, CRC, &by);
    if ((v == SIGN_MALFORMED) == decoded || v > SIGN_SHA256_MISMATCH ||
        sign_verdict_str(v) == NULL)
        abort();
    if (v != SIGN_OK) {
        if (by != 99)
            abort(); /* written only on SIGN_OK */
        return 0;
    }
    if (by > 1 || memcmp(m.key_id, keys[by].id, OTA_MANIFEST_KEY_ID) != 0 ||
        memcmp(m.name, NAME, sizeof(NAME)) != 0 || m.version != VERSION || m.size != SIZE ||
        m.crc != CRC)
        abort();
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Signed manifests for the firmware tests, made by otad's signing module
 * (GnuTLS) with the fixed keys of tests/unit/sign (OpenSSL's): apart from
 * the core's BearSSL, so nothing expected comes from the code under test.
 * A test that runs both ways calls signing_args() from main() and the rest
 * does nothing in an unsigned run. */
#ifndef OTA_TEST_SIGNING_H
#define OTA_TEST_SIGNING_H

#include <gnutls/abstract.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "fake_server.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_trust.h"
#include "sign.h"

#define SIGNING_KEY_A SIGN_KEYS_DIR "/a.key"
#define SIGNING_KEY_B SIGN_KEYS_DIR "/b.key"

static bool signing_on;
static struct ota_key signing_a, signing_b, signing_table[2];

/* X || Y and the key id of a public key file, through GnuTLS. */
static inline void signing_load_key(const char *pub, struct ota_key *k)
{
    struct sign_key sk = {0};
    gnutls_datum_t x, y;

    assert_int_equal(sign_key_load(&sk, pub), 0);
    assert_int_equal(gnutls_pubkey_export_ecc_raw2(sk.pub, NULL, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
    assert_int_equal(x.size, 32);
    assert_int_equal(y.size, 32);
    memcpy(k->xy, x.data, 32);
    memcpy(k->xy + 32, y.data, 32);
    memcpy(k->id, sk.id, sizeof(k->id));
    gnutls_free(x.data);
    gnutls_free(y.data);
    sign_key_free(&sk);
}

/* The device trusts @a and @b (either may be NULL). */
static inline void signing_trust(const struct ota_key *a, const struct ota_key *b)
{
    uint32_t n = 0;

    if (a != NULL)
        signing_table[n++] = *a;
    if (b != NULL)
        signing_table[n++] = *b;
    host_set_keys(signing_table, n);
}

/* Loads both keys and trusts them; with "--signed" as the first argument,
 * turns signing on for @cfg. */
static inline void signing_args(int argc, char **argv, struct ota_config *cfg)
{
    signing_load_key(SIGN_KEYS_DIR "/a.pub", &signing_a);
    signing_load_key(SIGN_KEYS_DIR "/b.pub", &signing_b);
    signing_trust(&signing_a, &signing_b);
    signing_on = argc > 1 && strcmp(argv[1], "--signed") == 0;
    if (cfg != NULL)
        cfg->require_signature = signing_on;
}

/* The manifest of @img as firmware @name at @version, signed with @key. */
static inline void signing_make(const char *key, const char *name, const uint8_t *img,
                                uint32_t size, uint32_t version, uint8_t out[OTA_MANIFEST_SIZE])
{
    assert_int_equal(sign_make(key, name, version, img, size, (uint32_t)crc32(0, img, size),
                               out), 0);
}

/* The same, signed with a for "firmware", and kept for the next calls
 * about the same image: the power-cut sweeps serve one image many times. */
static inline const uint8_t *signing_cached(const uint8_t *img, uint32_t size, uint32_t version)
{
    static struct {
        const uint8_t *img;
        uint32_t size, version;
        uint8_t m[OTA_MANIFEST_SIZE];
    } cache[8];
    static unsigned next;

    for (unsigned i = 0; i < 8; i++)
        if (cache[i].img == img && cache[i].size == size && cache[i].version == version)
            return cache[i].m;
    next = (next + 1) % 8;
    signing_make(SIGNING_KEY_A, "firmware", img, size, version, cache[next].m);
    cache[next].img = img;
    cache[next].size = size;
    cache[next].version = version;
    return cache[next].m;
}

/* In a signed run, @s serves the manifest of what it serves. */
static inline void signing_serve(struct fake_server *s)
{
    if (!signing_on)
        return;
    s->manifest = signing_cached(s->image, s->size, s->version);
    s->manifest_len = OTA_MANIFEST_SIZE;
}

/* In a signed run, the manifest of @img is put beside it in @area, as a
 * signed update would have left it. */
static inline void signing_keep(enum ota_area area, const uint8_t *img, uint32_t size,
                                uint32_t version)
{
    if (signing_on)
        memcpy(host_area_mem(area) + ota_trust_manifest_off(size),
               signing_cached(img, size, version), OTA_MANIFEST_SIZE);
}

#endif

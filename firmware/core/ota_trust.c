/* SPDX-License-Identifier: MIT */
#include "ota_trust.h"

#include <string.h>

#include "ota_err.h"
#include "ota_verify.h"

const char *ota_trust_str(enum ota_trust_verdict v)
{
    static const char *const str[] = {
        "ok", "malformed manifest", "unknown key", "bad signature", "wrong name",
        "manifest does not match the header", "downgrade", "hash mismatch",
        "no room for the manifest after the image",
    };

    return (uint32_t)v < sizeof(str) / sizeof(str[0]) ? str[v] : "?";
}

static const struct ota_key *find_key(const uint8_t id[OTA_MANIFEST_KEY_ID])
{
    uint32_t n;
    const struct ota_key *k = ota_port_keys(&n);

    for (uint32_t i = 0; i < n; i++)
        if (memcmp(k[i].id, id, OTA_MANIFEST_KEY_ID) == 0)
            return &k[i];
    return NULL;
}

static bool same_name(const struct ota_manifest *m, const char *name)
{
    uint32_t n = 0;

    for (; name[n] != '\0'; n++)
        if (n >= OTA_MANIFEST_NAME_MAX || m->name[n] != (uint8_t)name[n])
            return false;
    return n == OTA_MANIFEST_NAME_MAX || m->name[n] == 0;
}

enum ota_trust_verdict ota_trust_check(const uint8_t *raw, uint32_t len,
                                       const struct ota_header *h, uint32_t floor,
                                       struct ota_manifest *out)
{
    struct ota_manifest m;
    struct ota_sha256 sha;
    uint8_t digest[OTA_SHA256_SIZE];
    const struct ota_key *key;

    if (ota_manifest_decode(raw, len, &m) < 0)
        return OTA_TRUST_MALFORMED;
    key = find_key(m.key_id);
    if (key == NULL)
        return OTA_TRUST_UNKNOWN_KEY;
    ota_sha256_init(&sha);
    ota_sha256_update(&sha, raw, OTA_MANIFEST_SIGNED);
    ota_sha256_final(&sha, digest);
    if (!ota_p256_verify(key->xy, digest, m.signature))
        return OTA_TRUST_BAD_SIGNATURE;
    /* Nothing the manifest says counts before its signature verified. */
    if (!same_name(&m, ota_port_server()->name))
        return OTA_TRUST_OTHER_NAME;
    if (m.version != h->version || m.size != h->binsize || m.crc != h->checksum)
        return OTA_TRUST_MISMATCH;
    if (m.version < floor)
        return OTA_TRUST_DOWNGRADE;
    *out = m;
    return OTA_TRUST_OK;
}

/* ota_sha256()'s reads, from one area; the watchdog is fed every 16 KiB. */
static int read_area(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    if ((off & 0x3FFFu) == 0)
        ota_port_watchdog_feed();
    return ota_port_flash_read(*(const enum ota_area *)ctx, off, buf, len);
}

bool ota_trust_image(enum ota_area area, uint32_t size, const uint8_t sha256[OTA_SHA256_SIZE])
{
    uint8_t digest[OTA_SHA256_SIZE];

    return ota_sha256(read_area, &area, size, digest) &&
           memcmp(digest, sha256, OTA_SHA256_SIZE) == 0;
}

uint32_t ota_trust_manifest_off(uint32_t size)
{
    return (size + 255u) & ~255u;
}

uint32_t ota_trust_extent(uint32_t size)
{
    return ota_trust_manifest_off(size) + 256u;
}

int ota_trust_read(enum ota_area area, uint32_t size, uint8_t raw[OTA_MANIFEST_SIZE])
{
    return ota_port_flash_read(area, ota_trust_manifest_off(size), raw, OTA_MANIFEST_SIZE) < 0
               ? OTA_ERR_FLASH
               : OTA_OK;
}

bool ota_trust_boot(enum ota_area area, uint32_t size, uint32_t crc, uint32_t version)
{
    uint8_t raw[OTA_MANIFEST_SIZE];
    struct ota_manifest m;

    if (ota_trust_read(area, size, raw) < 0 || ota_manifest_decode(raw, sizeof(raw), &m) < 0)
        return false;
    if (m.size != size || m.crc != crc || m.version != version)
        return false;
    return ota_trust_image(area, size, m.sha256);
}

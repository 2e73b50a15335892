/* Signed manifests: see sign.h. (Stubs while the module is written.) */
#include "sign.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int sign_key_load(struct sign_key *k, const char *path)
{
    (void)k;
    (void)path;
    return -ENOSYS;
}

void sign_key_free(struct sign_key *k)
{
    if (k->pub)
        gnutls_pubkey_deinit(k->pub);
    k->pub = NULL;
}

void sign_key_id_hex(const uint8_t id[OTA_MANIFEST_KEY_ID], char out[2 * OTA_MANIFEST_KEY_ID + 1])
{
    for (size_t i = 0; i < OTA_MANIFEST_KEY_ID; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

const char *sign_verdict_str(enum sign_verdict v)
{
    (void)v;
    return "malformed manifest";
}

enum sign_verdict sign_check(const uint8_t *sig, size_t len, const struct sign_key *keys, size_t nkeys,
                             const char *name, uint32_t version, const uint8_t *image, size_t size,
                             uint32_t crc, size_t *by)
{
    (void)sig, (void)len, (void)keys, (void)nkeys, (void)name, (void)version;
    (void)image, (void)size, (void)crc, (void)by;
    return SIGN_MALFORMED;
}

int sign_keygen(const char *key_path)
{
    (void)key_path;
    return -ENOSYS;
}

int sign_make(const char *key_path, const char *name, uint32_t version, const uint8_t *image, size_t size,
              uint32_t crc, uint8_t out[OTA_MANIFEST_SIZE])
{
    (void)key_path, (void)name, (void)version, (void)image, (void)size, (void)crc, (void)out;
    return -ENOSYS;
}

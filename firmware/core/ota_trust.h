/* SPDX-License-Identifier: MIT */
/* Signed firmware on the device: whether a manifest (include/otad/proto.h)
 * was signed by a key the port trusts and describes the server's image, and
 * whether an image in flash is the one its manifest hashes.
 *
 * The verified manifest is kept in flash beside its image, at
 * ota_trust_manifest_off(size) of the image's slot (the next 256-byte
 * boundary after the image); it travels with the image through a swap, and
 * every boot checks the image against it. */
#ifndef OTA_TRUST_H
#define OTA_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"
#include "otad/proto.h"

enum ota_trust_verdict {
    OTA_TRUST_OK = 0,
    OTA_TRUST_MALFORMED,      /* not a manifest of this format, or the wrong length */
    OTA_TRUST_UNKNOWN_KEY,    /* its key id is none of ota_port_keys() */
    OTA_TRUST_BAD_SIGNATURE,  /* the signature does not verify with that key */
    OTA_TRUST_OTHER_NAME,     /* it names another firmware */
    OTA_TRUST_MISMATCH,       /* its version, size or CRC is not the header's */
    OTA_TRUST_DOWNGRADE,      /* below the highest version ever installed */
    OTA_TRUST_HASH_MISMATCH,  /* the image in flash is not the one it hashes */
    OTA_TRUST_NO_ROOM,        /* image and manifest do not fit the slot together */
};

/* A short phrase for @v ("bad signature", ...), static. */
const char *ota_trust_str(enum ota_trust_verdict v);

/* Checks the @len bytes at @raw, in this order: they decode, the key id is
 * a trusted key's, the signature over the first OTA_MANIFEST_SIGNED bytes
 * verifies with it, the name is ota_port_server()->name, version, size and
 * CRC are @h's, and the version is not below @floor. On OTA_TRUST_OK the
 * decoded manifest is in @out. */
enum ota_trust_verdict ota_trust_check(const uint8_t *raw, uint32_t len,
                                       const struct ota_header *h, uint32_t floor,
                                       struct ota_manifest *out);

/* Whether the SHA-256 of the first @size bytes of @area, read back from
 * flash (feeding the watchdog), is @sha256. */
bool ota_trust_image(enum ota_area area, uint32_t size, const uint8_t sha256[OTA_SHA256_SIZE]);

/* Where the manifest of an image of @size bytes is kept in its slot, and the
 * bytes image and manifest take together. */
uint32_t ota_trust_manifest_off(uint32_t size);
uint32_t ota_trust_extent(uint32_t size);

/* Reads the manifest kept beside the @size-byte image of @area into @raw. */
int ota_trust_read(enum ota_area area, uint32_t size, uint8_t raw[OTA_MANIFEST_SIZE]);

/* The boot-time check of the image in @area (@size bytes, @crc, @version):
 * its kept manifest decodes, describes it, and hashes it. */
bool ota_trust_boot(enum ota_area area, uint32_t size, uint32_t crc, uint32_t version);

#endif

/* SPDX-License-Identifier: MIT */
/* The block OTA protocol's wire formats, declared once for the daemon and the
 * firmware. Every integer on the wire is little-endian; otad(8), section
 * HTTP INTERFACE (man/otad.8), specifies the endpoints that carry them.
 *
 * Freestanding: only <stdint.h> and <stddef.h>, so firmware/core can include it. */
#ifndef OTAD_PROTO_H
#define OTAD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of image data carried by one block. */
#define OTA_BLOCK_DATA 256u
/* A block on the wire: data (the last block padded with 0xFF, the erased-flash
 * state, so a device can program it as is) followed by the CRC-32 of those
 * 256 bytes. */
#define OTA_BLOCK_WIRE (OTA_BLOCK_DATA + 4u)
/* Padding byte of a short last block. */
#define OTA_PAD_BYTE 0xFFu
/* Size of the /NAME/header response. */
#define OTA_HEADER_WIRE 20u

/* The header's fields, in wire order. A device may overlay this struct on the
 * 20 received bytes only on a little-endian CPU; portable code uses
 * ota_header_decode(). */
struct ota_header {
    uint32_t version;   /* from NAME.txt */
    uint32_t checksum;  /* CRC-32 of the whole image, exact size */
    uint32_t blocknum;  /* ceil(binsize / 256) */
    uint32_t blocksize; /* always OTA_BLOCK_DATA */
    uint32_t binsize;   /* image size in bytes */
};

_Static_assert(sizeof(struct ota_header) == OTA_HEADER_WIRE,
               "the header is five packed uint32 fields");
_Static_assert(OTA_BLOCK_WIRE == 260, "a block is 256 data bytes + CRC-32");

static inline void ota_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ota_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Serialises @h into @out (OTA_HEADER_WIRE bytes). */
static inline void ota_header_encode(const struct ota_header *h, uint8_t *out)
{
    ota_put_le32(out + 0, h->version);
    ota_put_le32(out + 4, h->checksum);
    ota_put_le32(out + 8, h->blocknum);
    ota_put_le32(out + 12, h->blocksize);
    ota_put_le32(out + 16, h->binsize);
}

/* Parses OTA_HEADER_WIRE bytes at @in into @h. */
static inline void ota_header_decode(const uint8_t *in, struct ota_header *h)
{
    h->version = ota_get_le32(in + 0);
    h->checksum = ota_get_le32(in + 4);
    h->blocknum = ota_get_le32(in + 8);
    h->blocksize = ota_get_le32(in + 12);
    h->binsize = ota_get_le32(in + 16);
}

/* ---- The signed manifest: GET /NAME/manifest, the bytes of NAME.sig ----
 *
 * A fixed 192-byte record that binds an image to a firmware name and a
 * version, signed with ECDSA P-256 over SHA-256. Offsets in bytes:
 *
 *     0  4   magic OTA_MANIFEST_MAGIC ("OTAM")
 *     4  4   format OTA_MANIFEST_FORMAT (1)
 *     8  4   version (as in NAME.txt)
 *    12  4   image size in bytes
 *    16  4   CRC-32 of the image (as in the header)
 *    20  4   flags: 0 (others are refused)
 *    24  8   key id: the first 8 bytes of SHA-256(X || Y), the signing
 *            key's public point as two 32-byte big-endian coordinates
 *    32  64  firmware NAME, UTF-8, padded with NUL bytes (at most 64 bytes;
 *            no NUL inside)
 *    96  32  SHA-256 of the image
 *   128  64  signature: r || s, each 32 bytes big-endian, ECDSA P-256 over
 *            SHA-256 of bytes 0..127
 *
 * Integers are little-endian like the rest of the protocol; the hash,
 * the key point and the signature are byte strings as the algorithms
 * define them. */
#define OTA_MANIFEST_MAGIC 0x4D41544Fu /* "OTAM" */
#define OTA_MANIFEST_FORMAT 1u
#define OTA_MANIFEST_SIZE 192u
#define OTA_MANIFEST_SIGNED 128u      /* bytes covered by the signature */
#define OTA_MANIFEST_NAME_MAX 64u
#define OTA_MANIFEST_KEY_ID 8u
#define OTA_SHA256_SIZE 32u
#define OTA_P256_SIG_SIZE 64u

struct ota_manifest {
    uint32_t magic;
    uint32_t format;
    uint32_t version;
    uint32_t size;
    uint32_t crc;
    uint32_t flags;
    uint8_t key_id[OTA_MANIFEST_KEY_ID];
    uint8_t name[OTA_MANIFEST_NAME_MAX];
    uint8_t sha256[OTA_SHA256_SIZE];
    uint8_t signature[OTA_P256_SIG_SIZE];
};

_Static_assert(sizeof(struct ota_manifest) == OTA_MANIFEST_SIZE,
               "the manifest is six uint32 fields and four byte strings, packed");
_Static_assert(OTA_MANIFEST_SIGNED + OTA_P256_SIG_SIZE == OTA_MANIFEST_SIZE,
               "the signature ends the manifest");

static inline void ota_bytes_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Serialises @m into @out (OTA_MANIFEST_SIZE bytes). */
static inline void ota_manifest_encode(const struct ota_manifest *m, uint8_t *out)
{
    ota_put_le32(out + 0, m->magic);
    ota_put_le32(out + 4, m->format);
    ota_put_le32(out + 8, m->version);
    ota_put_le32(out + 12, m->size);
    ota_put_le32(out + 16, m->crc);
    ota_put_le32(out + 20, m->flags);
    ota_bytes_copy(out + 24, m->key_id, OTA_MANIFEST_KEY_ID);
    ota_bytes_copy(out + 32, m->name, OTA_MANIFEST_NAME_MAX);
    ota_bytes_copy(out + 96, m->sha256, OTA_SHA256_SIZE);
    ota_bytes_copy(out + 128, m->signature, OTA_P256_SIG_SIZE);
}

/* Parses @len bytes at @in into @m. Returns 0, or -1 if they are not a
 * manifest of this format: the wrong size, magic, format or flags, or a
 * name that is empty, has a NUL inside, or is not padded with NULs. The
 * signature is not checked here. */
static inline int ota_manifest_decode(const uint8_t *in, size_t len, struct ota_manifest *m)
{
    size_t n = 0;

    if (len != OTA_MANIFEST_SIZE)
        return -1;
    m->magic = ota_get_le32(in + 0);
    m->format = ota_get_le32(in + 4);
    m->version = ota_get_le32(in + 8);
    m->size = ota_get_le32(in + 12);
    m->crc = ota_get_le32(in + 16);
    m->flags = ota_get_le32(in + 20);
    ota_bytes_copy(m->key_id, in + 24, OTA_MANIFEST_KEY_ID);
    ota_bytes_copy(m->name, in + 32, OTA_MANIFEST_NAME_MAX);
    ota_bytes_copy(m->sha256, in + 96, OTA_SHA256_SIZE);
    ota_bytes_copy(m->signature, in + 128, OTA_P256_SIG_SIZE);
    if (m->magic != OTA_MANIFEST_MAGIC || m->format != OTA_MANIFEST_FORMAT || m->flags != 0)
        return -1;
    while (n < OTA_MANIFEST_NAME_MAX && m->name[n] != 0)
        n++;
    if (n == 0)
        return -1;
    for (size_t i = n; i < OTA_MANIFEST_NAME_MAX; i++)
        if (m->name[i] != 0)
            return -1;
    return 0;
}

/* Number of blocks for an image of @size bytes. */
static inline uint32_t ota_block_count(uint32_t size)
{
    return (uint32_t)(((uint64_t)size + OTA_BLOCK_DATA - 1) / OTA_BLOCK_DATA);
}

#endif

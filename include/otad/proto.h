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

/* Number of blocks for an image of @size bytes. */
static inline uint32_t ota_block_count(uint32_t size)
{
    return (uint32_t)(((uint64_t)size + OTA_BLOCK_DATA - 1) / OTA_BLOCK_DATA);
}

#endif

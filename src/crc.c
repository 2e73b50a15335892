/* SPDX-License-Identifier: MIT */
#include "crc.h"

#ifdef OTAD_HAVE_ISAL
#include <isa-l/crc.h>
#else
#include <zlib.h>
#endif

int crc_accelerated(void)
{
#ifdef OTAD_HAVE_ISAL
    return 1;
#else
    return 0;
#endif
}

uint32_t crc_update(uint32_t crc, const uint8_t *data, size_t len)
{
    if (len == 0) /* @data may be NULL then, as zlib allows */
        return crc;
#ifdef OTAD_HAVE_ISAL
    /* crc32_gzip_refl() inverts the register before and after, as zlib
     * does, so its seed and result are zlib's CRC values as they are. */
    return crc32_gzip_refl(crc, data, len);
#else
    return (uint32_t)crc32_z(crc, data, len); /* size_t lengths, zlib >= 1.2.9 */
#endif
}

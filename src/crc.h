/* SPDX-License-Identifier: MIT */
/* CRC-32 as zlib computes it (the protocol's checksum), fast on long runs.
 *
 * With ISA-L (Intel's storage acceleration library, built in when meson
 * finds it) crc_update() is its crc32_gzip_refl(), which picks the
 * processor's carry-less multiply at run time on x86-64 and aarch64: 15 to
 * 19 times zlib's speed on 256-byte blocks (docs/PERFORMANCE.md). Without
 * it, zlib's crc32(). Results are identical. */
#ifndef OTAD_CRC_H
#define OTAD_CRC_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(@crc, @data, @len): @crc is 0 to start, or the CRC of the
 * bytes before @data. Safe from any thread. */
uint32_t crc_update(uint32_t crc, const uint8_t *data, size_t len);

/* True when crc_update() is ISA-L's rather than zlib's (for the tests and
 * the benchmarks). */
int crc_accelerated(void);

#endif

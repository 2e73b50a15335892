/* SPDX-License-Identifier: MIT */
/* CRC-32 as zlib computes it (the protocol's checksum), fast on long runs.
 *
 * zlib's crc32() runs at about 0.9 GB/s when called once per 256-byte block,
 * which was most of otad's start-up time. On x86-64 processors with the
 * carry-less multiply instruction (every one since 2010) crc_update() folds
 * 64 bytes per step with it instead; elsewhere, and for the few bytes that
 * do not fill a 16-byte step, it calls zlib. Results are identical. */
#ifndef OTAD_CRC_H
#define OTAD_CRC_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(@crc, @data, @len): @crc is 0 to start, or the CRC of the
 * bytes before @data. Safe from any thread. */
uint32_t crc_update(uint32_t crc, const uint8_t *data, size_t len);

/* True when crc_update() uses the carry-less multiply (for the logs and
 * the benchmarks). */
int crc_accelerated(void);

#endif

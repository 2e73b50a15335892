/* SPDX-License-Identifier: MIT */
/* Numbers as text without stdio, for log lines, request lines and paths. */
#ifndef OTA_FMT_H
#define OTA_FMT_H

#include <stdint.h>

/* Longest decimal uint32_t: "4294967295". */
#define OTA_FMT_DEC_MAX 10u

/* Writes @v in decimal into @buf (at most @max bytes, no NUL; digits that do
 * not fit are dropped from the end). Returns the bytes written. */
uint32_t ota_fmt_dec(char *buf, uint32_t max, uint32_t v);

/* Writes the @n bytes at @bytes as 2 * @n lowercase hex digits and a NUL
 * into @buf (2 * @n + 1 bytes): a chip's unique ID as its X-Device-Id. */
void ota_fmt_hex(char *buf, const uint8_t *bytes, uint32_t n);

#endif

/* SPDX-License-Identifier: MIT */
/* Log lines without stdio: a printf subset formatted into a small buffer and
 * handed to ota_port_log(). */
#ifndef OTA_LOG_H
#define OTA_LOG_H

#include <stdint.h>

/* Formats one line. Conversions: %s (string), %u (uint32_t as decimal),
 * %x (uint32_t as 8 hex digits), %d (int32_t), %% ; nothing else. */
void ota_logf(const char *fmt, ...);

#endif

/* SPDX-License-Identifier: MIT */
/* Firmware version files (NAME.txt): a decimal uint32 with optional white
 * space around it. */
#ifndef OTAD_VERSION_H
#define OTAD_VERSION_H

#include <stddef.h>
#include <stdint.h>

/* Version used when the file is missing or invalid, as the reference server did. */
#define VERSION_DEFAULT 1u

/* A version file is read up to this many bytes; a longer one is invalid, so a
 * huge or endless file costs nothing. */
#define VERSION_MAX_FILE 64u

/* Parses @len bytes at @buf. Returns 0 and writes @ret; -EINVAL for anything
 * that is not white space + digits + white space (empty included); -ERANGE
 * for a value above UINT32_MAX. */
int version_parse(const char *buf, size_t len, uint32_t *ret);

/* Reads and parses the file @name relative to @dirfd without blocking on
 * FIFOs. Returns 0 and writes @ret; -ENOENT if missing; -ENODEV if not a
 * regular file; -EFBIG if longer than VERSION_MAX_FILE; the errors of
 * version_parse(); or another negative errno from open/read. */
int version_read(int dirfd, const char *name, uint32_t *ret);

#endif

/* SPDX-License-Identifier: MIT */
/* Words for why a file of the firmware directory is not served as it is,
 * for the reports scan.c makes: short phrases, with numbers where the
 * reader needs them to act. */
#ifndef OTAD_REASON_H
#define OTAD_REASON_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"

/* Why a file could not be read (the errno of open or read, or -ENODEV for
 * what is not a regular file). Static. */
const char *reason_file(int error);

/* Why NAME.txt gave no version (version_read()'s error). Static. */
const char *reason_version(int error);

/* Why a load within @lim of a file of @size bytes failed (generation_load()'s
 * error): static, or written into @buf (@len bytes) when it needs numbers. */
const char *reason_load(int error, const struct generation_limits *lim, uint64_t size, char *buf,
                        size_t len);

#endif

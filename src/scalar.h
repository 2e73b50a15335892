/* SPDX-License-Identifier: MIT */
/* The words of the configuration's scalar values: decimal integers, byte
 * sizes with a K/M/G suffix, and booleans. Pure string work, for conf.c. */
#ifndef OTAD_SCALAR_H
#define OTAD_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal digits only. Returns 0 and writes @ret; -EINVAL for anything else
 * (empty included); -ERANGE far beyond any setting's range. */
int scalar_uint(const char *s, uint64_t *ret);

/* A byte count: digits, optionally followed by K, M or G (powers of 1024,
 * either case). Returns 0, -EINVAL or -ERANGE (past 64 bits). */
int scalar_size(const char *s, uint64_t *ret);

/* true/yes/on or false/no/off, in any letter case. Returns 0 or -EINVAL. */
int scalar_bool(const char *s, bool *ret);

/* @v as the shortest exact form scalar_size() reads: 1024 -> "1K". Returns
 * @buf. */
const char *scalar_size_text(uint64_t v, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* The keys otad trusts and what it asks of a firmware before publishing it
 * (the configuration's signing section): with keys, a firmware's NAME.sig
 * must verify with one of them against its bytes, name and version; with
 * require, a firmware without NAME.sig is refused too. Loaded once at
 * start-up; read-only afterwards, by the thread that changes the catalog. */
#ifndef OTAD_TRUST_H
#define OTAD_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "image.h"

/* At most this many trusted keys: two or three for a rotation, a few to spare. */
#define TRUST_KEYS_MAX 8

struct trust;

/* Loads the @n (at most TRUST_KEYS_MAX) public keys at @paths. Returns 0 and
 * the rules in @ret (free with trust_close()); or -EINVAL (not a P-256
 * public key), -E2BIG (too many), -ENOMEM or the errno of reading, with the
 * index of the path at fault in @ret_bad. */
int trust_open(char *const *paths, size_t n, bool require, struct trust **ret, size_t *ret_bad);

/* Frees @t; NULL is ignored. */
void trust_close(struct trust *t);

/* Decides whether @img may be published under @t (NULL: no keys, nothing
 * required). Returns NULL and sets img->verified and img->key_id; or why not,
 * static or written into @buf (@len bytes), and in @ret_file the file to
 * name: NAME.sig, or the .bin when there is no manifest (@file_buf, NAME_MAX
 * + 1 bytes, holds the former). Only the size of a manifest is checked
 * without keys: served, a .sig is always OTA_MANIFEST_SIZE bytes. */
const char *trust_check(const struct trust *t, struct image *img, char *buf, size_t len,
                        char *file_buf, const char **ret_file);

#endif

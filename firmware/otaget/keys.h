/* SPDX-License-Identifier: MIT */
/* otaget's trusted keys: the --pub files, as the table a bootloader build
 * compiles in (struct ota_key), through otad's signing module (GnuTLS). */
#ifndef OTAGET_KEYS_H
#define OTAGET_KEYS_H

#include "ota_port.h"

/* Reads the P-256 public key (PEM SubjectPublicKeyInfo) at @path into @ret:
 * 0, -errno if it cannot be read, or -EINVAL if it is not a P-256 key. */
int keys_load(const char *path, struct ota_key *ret);

#endif

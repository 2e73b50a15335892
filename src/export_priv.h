/* SPDX-License-Identifier: MIT */
/* What export.c and export_prune.c share; nothing else includes it. */
#ifndef OTAD_EXPORT_PRIV_H
#define OTAD_EXPORT_PRIV_H

#include <stdbool.h>
#include <time.h>

#include "export.h"

/* Temporary entries begin so: no firmware name does (scan.c ignores them). */
#define EXPORT_TMP ".tmp-"
/* Characters of a generation's key, "crc-size" in hexadecimal. */
#define EXPORT_KEY_LEN 17

/* For export.c: removes the symlinks of the names no longer current in
 * @cat, then what no symlink of the tree at @outfd points at and that was
 * let go of at least @retain seconds before @now (and the temporary entries
 * left by a writer that died). Sets rep->due. Returns 0 or a negative errno
 * with the path in @rep. */
int export_prune(int outfd, struct catalog *cat, unsigned retain, time_t now,
                 struct export_report *rep);

/* True when @name is one of the tree's own paths, which no firmware can be. */
bool export_reserved(const char *name);

/* Sets rep->path from @fmt; returns @r. */
int export_fail(struct export_report *rep, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For export_prune.c: marks the release @target ("n/NAME/REL") and its
 * generation as let go of now. */
void export_retire(int outfd, const char *target);

/* For both: removes @name in @dirfd and all under it. Returns 0 or -errno. */
int export_remove_tree(int dirfd, const char *name);

#endif

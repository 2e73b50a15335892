/* SPDX-License-Identifier: MIT */
/* The catalog as a static tree that nginx, an object store or a CDN serves
 * with the same body bytes as otad (otad(8), EXPORT, gives the layout):
 * generations under g/CRC-SIZE/ and releases under n/NAME/, immutable once
 * renamed into place, and per-name symlinks switched by renaming a new one
 * over the old.
 *
 * Runs on the thread that changes the catalog (the one-shot command's only
 * thread, or the daemon's main loop), which reads the catalog without a
 * lock; one writer per tree at a time. Names the tree cannot hold are told
 * to a callback, not logged; the first error that stops the export is
 * returned with the path it concerns. */
#ifndef OTAD_EXPORT_H
#define OTAD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "catalog.h"

/* The firmware @name is not in the tree: @why. */
typedef void export_refused_fn(void *ctx, const char *name, const char *why);

struct export_options {
    const char *out;            /* the tree's root; created if missing */
    unsigned retain_seconds;    /* how long a release let go of stays */
    export_refused_fn *refused; /* may be NULL */
    void *ctx;
    /* Asked between images and every EXPORT_STOP_BLOCKS blocks (NULL:
     * never): true stops the export with -EINTR, leaving what is switched
     * consistent and what was half-written removed. */
    bool (*stop)(void *stop_ctx);
    void *stop_ctx;
};

/* Blocks written between two questions to export_options.stop. */
#define EXPORT_STOP_BLOCKS 1024

/* What export_write() says besides its result. */
struct export_report {
    char path[512];             /* on failure: the path at fault, relative to
                                 * the root, or the root */
    long due;                   /* seconds until what was let go of is due for
                                 * removal; -1: nothing is */
};

/* Brings the tree at o->out up to date with every current image of @cat:
 * new generations and releases, switched symlinks, the listings last, then
 * the pruning of what was let go of more than retain_seconds ago. Returns
 * the number of firmwares refused (0 or more), or a negative errno with the
 * path at fault in @rep (-EINTR: stopped, see export_options.stop); the
 * symlinks switched before stay (each is consistent). */
int export_write(struct catalog *cat, const struct export_options *o, struct export_report *rep);

#endif

/* SPDX-License-Identifier: MIT */
/* Reading the firmware directory into the catalog: which entries are
 * images, loading them (on several threads when many are new), and bringing
 * the catalog up to date with what was read.
 *
 * Runs on the thread that changes the catalog; every change and every file
 * refused is told to the catalog's reporter, not logged. */
#ifndef OTAD_SCAN_H
#define OTAD_SCAN_H

#include <stdbool.h>

#include "catalog.h"

/* What a scan asks of the one who follows the directory's writers (main.c,
 * with pending.c). Both functions may be NULL. */
struct scan_hooks {
    /* True when a writer still has a file of the firmware @name open. */
    bool (*writing)(void *ctx, const char *name);
    /* @name could not be loaded for now (@error, as scan_reload() returns
     * it): it is to be read again later. */
    void (*retry)(void *ctx, const char *name, int error);
    void *ctx;
};

/* (Re)reads the whole directory of @cat, as a fresh start would: loads new
 * and changed images, keeps the unchanged ones without reading them, drops
 * removed ones. A name that a writer has open (@hooks, NULL: none) keeps its
 * state, to be loaded when the writer closes it. Returns the number of
 * images served. If the directory is gone (-ENOENT, -ENOTDIR) the catalog is
 * emptied and that error returned; on other errors it is left unchanged. */
int scan_all(struct catalog *cat, const struct scan_hooks *hooks);

/* Reloads the single firmware @name from its files: added, replaced, version
 * changed, removed or unchanged. Returns 0; -EAGAIN if the file changed while
 * being read (the old image stays; try again on the next change); -ENOENT if
 * the directory is gone; -ENOMEM. Problems with the files themselves are
 * reported, not returned. */
int scan_reload(struct catalog *cat, const char *name);

#endif

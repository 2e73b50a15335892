/* The daemon's log lines for what the catalog tells: the words of each line,
 * with every file name escaped (they are anyone's bytes, see escape.h).
 * Called by main.c, which decides whether and at which level to log. */
#ifndef OTAD_REPORT_H
#define OTAD_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"

/* Writes into @buf (@len bytes) the line that tells @change and returns its
 * level (a LOG_LEVEL_*), or 0 if there is nothing to tell. @listing: the
 * first scan, which lists each image ("image NAME: ...") rather than saying
 * what changed. */
int report_change(const struct catalog_change *change, bool listing, char *buf, size_t len);

/* Writes the warning about the version file of @change's image into @buf, if
 * it has a problem: returns LOG_LEVEL_WARNING then, 0 otherwise. */
int report_version(const struct catalog_change *change, char *buf, size_t len);

#endif

/* The catalog: the set of images served, by name, loaded from the firmware
 * directory.
 *
 * Lookups come from the HTTP threads and take a read lock only long enough to
 * find the image and take a reference; the caller owns that reference and
 * drops it when its response is gone. A scan builds the new set aside and
 * swaps it in under the write lock, so a lookup sees either the old or the
 * new set, never a mix. */
#ifndef OTAD_CATALOG_H
#define OTAD_CATALOG_H

#include <stddef.h>

#include "image.h"

struct catalog;

/* Creates an empty catalog for the directory @dir (the path is copied).
 * Returns 0, -ENOMEM, or the error of opening @dir (-ENOENT, -ENOTDIR,
 * -EACCES...) so a bad directory is reported before anything else starts. */
int catalog_open(const char *dir, struct catalog **ret);

/* Frees the catalog; images still referenced elsewhere stay alive. */
void catalog_close(struct catalog *cat);

/* (Re)reads the directory: loads new and changed images, keeps unchanged ones
 * without reading them again, drops removed ones, and logs each change (or,
 * on the first scan, each image). Returns the number of images served, or a
 * negative errno if the directory could not be read (the catalog is then
 * unchanged). */
int catalog_scan(struct catalog *cat);

/* Finds the image called @name (@len bytes, not NUL-terminated). Returns a new
 * reference, or NULL. */
struct image *catalog_lookup(struct catalog *cat, const char *name, size_t len);

/* Takes a reference to every image, sorted by name, into a new array
 * (@ret, free with catalog_release()). Returns the count or -ENOMEM. */
int catalog_list(struct catalog *cat, struct image ***ret);

/* Drops the references taken by catalog_list() and frees the array. */
void catalog_release(struct image **list, size_t n);

#endif

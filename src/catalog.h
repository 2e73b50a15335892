/* The catalog: the images served, by name, loaded from the firmware
 * directory, and the older generations retained so that downloads started
 * before a change can finish.
 *
 * Lookups come from the HTTP threads and take a read lock only long enough to
 * find an image or generation and take a reference; the caller owns that
 * reference. Changes (scans, reloads, expiry) come from one thread, the main
 * loop, and take the write lock only to swap pointers: files are read before.
 * Memory stays within max_memory by dropping the oldest retained generations;
 * current images are never dropped. */
#ifndef OTAD_CATALOG_H
#define OTAD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct catalog_limits {
    unsigned retain_seconds;  /* how long a replaced generation stays */
    uint64_t max_memory;      /* bytes of all generations, current + retained */
};

/* One row of catalog_list(). */
struct catalog_item {
    struct image *img;        /* a reference */
    unsigned retained;        /* older generations of this name still held */
};

struct catalog;

/* Creates an empty catalog for the directory @dir (the path is copied).
 * Returns 0, -ENOMEM, or the error of opening @dir (-ENOENT, -ENOTDIR,
 * -EACCES...) so a bad directory is reported before anything else starts. */
int catalog_open(const char *dir, const struct catalog_limits *limits, struct catalog **ret);

/* Frees the catalog; images still referenced elsewhere stay alive. */
void catalog_close(struct catalog *cat);

/* The directory path, as given. */
const char *catalog_dir(const struct catalog *cat);

/* (Re)reads the whole directory, as a fresh start would: loads new and
 * changed images, keeps the unchanged ones without reading them, drops
 * removed ones, and logs each change (or, on the first scan, each image).
 * Returns the number of images served. If the directory is gone (-ENOENT,
 * -ENOTDIR) the catalog is emptied and that error returned; on other errors
 * it is left unchanged. */
int catalog_scan(struct catalog *cat);

/* Reloads the single firmware @name from its files: added, replaced, version
 * changed, removed or unchanged. Returns 0; -EAGAIN if the file changed while
 * being read (the old image stays; try again on the next change); -ENOENT if
 * the directory is gone; -ENOMEM. Problems with the files themselves are
 * logged, not returned. */
int catalog_reload(struct catalog *cat, const char *name);

/* Drops retained generations older than retain_seconds. Returns the
 * milliseconds until the next one expires, or -1 if none is retained. */
long catalog_expire(struct catalog *cat);

/* Finds the image called @name (@len bytes, not NUL-terminated). Returns a new
 * reference, or NULL. */
struct image *catalog_lookup(struct catalog *cat, const char *name, size_t len);

/* Finds the generation numbered @id of @name, current or retained. Returns a
 * new reference, or NULL. */
struct generation *catalog_find_generation(struct catalog *cat, const char *name, size_t len,
                                           uint64_t id);

/* Finds a generation of @name, current first, whose ETag (quoted) equals
 * @etag (@etag_len bytes). Returns a new reference, or NULL. */
struct generation *catalog_find_etag(struct catalog *cat, const char *name, size_t len,
                                     const char *etag, size_t etag_len);

/* Lists every current image, sorted by name, into a new array (@ret, free
 * with catalog_release()). Returns the count or -ENOMEM. */
int catalog_list(struct catalog *cat, struct catalog_item **ret);

/* Drops the references taken by catalog_list() and frees the array. */
void catalog_release(struct catalog_item *items, size_t n);

/* Bytes held by all generations, current and retained. */
uint64_t catalog_memory(struct catalog *cat);

#endif

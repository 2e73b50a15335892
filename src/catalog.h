/* SPDX-License-Identifier: MIT */
/* The catalog: the images served, by name, and the older generations
 * retained so that downloads started before a change can finish. scan.c
 * fills it from the firmware directory.
 *
 * Lookups come from the HTTP threads and take a read lock only long enough to
 * find an image or generation and take a reference; the caller owns that
 * reference. Changes (scans, reloads, expiry) come from one thread, the main
 * loop, and take the write lock only to swap pointers: files are read before.
 * Memory stays within max_memory: every generation alive counts, also one
 * that the catalog let go of but a response still sends, until its last
 * reference goes. A new generation is loaded only if it fits, counting what
 * the catalog can let go of; then the oldest retained generations are
 * dropped while over. Current images are never dropped.
 *
 * What changes is told to a reporter function given to catalog_open(), called
 * on the changing thread, never under the lock: the catalog itself says
 * nothing. */
#ifndef OTAD_CATALOG_H
#define OTAD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct trust;

struct catalog_limits {
    unsigned retain_seconds;  /* how long a replaced generation stays */
    uint64_t max_memory;      /* bytes of all generations alive */
    uint64_t max_image_size;  /* bytes of one image; 0: no bound but the protocol's */
    /* What a firmware must show to be published (borrowed, outlives the
     * catalog); NULL: nothing but a well-formed .sig if it has one. */
    const struct trust *trust;
};

/* One row of catalog_list(). */
struct catalog_item {
    struct image *img;        /* a reference */
    unsigned retained;        /* older generations of this name still held */
};

/* What a reporter is told. */
enum catalog_event {
    CATALOG_ADDED,      /* @img: a new name */
    CATALOG_REPLACED,   /* @img: new bytes for a name */
    CATALOG_VERSION,    /* @img: same bytes, another version */
    CATALOG_REMOVED,    /* @name is served no more */
    CATALOG_SKIPPED,    /* @file of @name could not be loaded: @reason; @img, if
                         * not NULL, is what stays served */
    CATALOG_DUPLICATE,  /* @file: another spelling of @other's name, ignored */
    CATALOG_UNSETTLED,  /* @file of @name changed while being read; the old state stays */
    CATALOG_WRITING,    /* a rescan found @file of @name open by a writer; the old state stays */
    CATALOG_DROPPED,    /* the retained generation @gen of @name: @reason */
};

/* One change; the pointers are borrowed for the duration of the call. */
struct catalog_change {
    enum catalog_event event;
    const char *name;
    const struct image *img;        /* ADDED, REPLACED, VERSION, SKIPPED */
    /* ADDED, REPLACED, VERSION: why img->version_file was not used ("missing",
     * "not a decimal number"...), NULL if it was. */
    const char *version_problem;
    const char *file;               /* SKIPPED, DUPLICATE, UNSETTLED, WRITING */
    const char *other;              /* DUPLICATE: the file used instead */
    const struct generation *gen;   /* DROPPED */
    bool in_use;                    /* DROPPED: responses still hold it */
    const char *reason;             /* SKIPPED, DROPPED */
};

/* Told each change, with the @ctx given to catalog_open(). */
typedef void catalog_report_fn(void *ctx, const struct catalog_change *change);

struct catalog;

/* Creates an empty catalog for the directory @dir (the path is copied) that
 * tells its changes to @report (NULL: to no one). Returns 0, -ENOMEM, or the
 * error of opening @dir (-ENOENT, -ENOTDIR, -EACCES...) so a bad directory is
 * reported before anything else starts. */
int catalog_open(const char *dir, const struct catalog_limits *limits,
                 catalog_report_fn *report, void *ctx, struct catalog **ret);

/* Frees the catalog; images still referenced elsewhere stay alive. */
void catalog_close(struct catalog *cat);

/* The directory path, as given. */
const char *catalog_dir(const struct catalog *cat);

/* The publishing rules given to catalog_open() (NULL: none). */
const struct trust *catalog_trust(const struct catalog *cat);

/* Tells @change to the reporter. */
void catalog_report(struct catalog *cat, const struct catalog_change *change);

/* For the thread that changes the catalog, which reads it without a lock:
 * the current image of @name (borrowed), or NULL. */
struct image *catalog_current(struct catalog *cat, const char *name);

/* For the changing thread: the number of current images. */
size_t catalog_count(const struct catalog *cat);

/* For the changing thread: a generation of @name already held, current or
 * retained, with the same bytes as @gen (borrowed), or NULL. */
struct generation *catalog_held(struct catalog *cat, const char *name,
                                const struct generation *gen);

/* Makes @img (one reference, consumed; NULL removes @name) the current image
 * of @name. The generation it replaces is retained, then the oldest retained
 * ones are dropped (and reported) while over max_memory. Returns 0 or
 * -ENOMEM (nothing changed). */
int catalog_set(struct catalog *cat, const char *name, struct image *img);

/* Drops (and reports) retained generations older than retain_seconds.
 * Returns the milliseconds until the next one expires, or -1 if none is
 * retained. */
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

/* Bytes held by all generations alive: current, retained, and those let go
 * of that responses still hold. */
uint64_t catalog_memory(struct catalog *cat);

/* For the changing thread: the limits a new generation of @name must keep
 * (generation_load()): max_image_size, max_memory, and the room left now
 * under max_memory by every generation alive, less those the catalog can let
 * go of (the retained ones no response holds, and the current one of @name
 * if none holds it: it is replaced). */
void catalog_load_limits(struct catalog *cat, const char *name, struct generation_limits *ret);

#endif

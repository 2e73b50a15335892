/* SPDX-License-Identifier: MIT */
/* An image: a firmware as served now, by name: its generation (the bytes),
 * its version from NAME.txt and the 20-byte header built from both.
 *
 * A change of NAME.txt alone makes a new image sharing the generation, so
 * the bytes are not read again. Images are reference counted and read-only
 * once made; any thread holding a reference may read them. */
#ifndef OTAD_IMAGE_H
#define OTAD_IMAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "generation.h"
#include "otad/proto.h"

enum version_source {
    VERSION_FROM_FILE,     /* NAME.txt held a valid version */
    VERSION_FILE_MISSING,  /* no NAME.txt: default version */
    VERSION_FILE_INVALID,  /* NAME.txt unusable: default version */
};

struct image {
    atomic_uint refs;
    char *name;                 /* NAME: the file name without ".bin" */
    char *bin_file;             /* the file name as found ("app.BIN") */
    char *version_file;         /* NAME.txt */
    uint32_t version;
    enum version_source version_source;
    int version_error;          /* why the default was used: negative errno */
    struct file_id version_id;  /* of NAME.txt when read; zero if missing */
    struct file_id bin_id;      /* of the .bin when its bytes were last checked */
    struct file_id sig_id;      /* of NAME.sig then; zero if there was none */
    /* Set before the image is published (trust.h): the manifest verified
     * with the trusted key key_id. */
    bool verified;
    uint8_t key_id[OTA_MANIFEST_KEY_ID];
    uint8_t header[OTA_HEADER_WIRE];
    struct generation *gen;     /* owned reference */
};

/* Loads @bin_file (relative to @dirfd) as the image @name, with the version
 * read from "NAME.txt" beside it. Returns 0 and a new image (one reference)
 * in @ret, or the errors of generation_load(). A version problem is not an
 * error: the image gets VERSION_DEFAULT and a version_source saying why. */
int image_load(int dirfd, const char *bin_file, const char *name, struct image **ret);

/* Makes a new image @name from @bin_file whose bytes and manifest are the
 * generation @gen (a reference is taken) as checked against the file
 * identities @bin_id and @sig_id (of NAME.sig), with the version read from
 * @dirfd. Returns 0 and the image in @ret, or -ENOMEM. */
int image_make(const char *name, const char *bin_file, struct generation *gen,
               const struct file_id *bin_id, const struct file_id *sig_id, int dirfd,
               struct image **ret);

/* True when NAME.txt differs from what @img was made from. */
int image_version_changed(const struct image *img, int dirfd);

/* Takes a reference; returns @img. */
struct image *image_ref(struct image *img);

/* Drops a reference; the last one frees the image. NULL is ignored. */
void image_unref(struct image *img);

#endif

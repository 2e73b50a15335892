/* An image: an immutable in-memory snapshot of one NAME.bin with its version,
 * its 20-byte header and every block's 260-byte wire form, all computed once
 * at load so that serving a request is a pointer lookup.
 *
 * The bytes are copied from the file into private anonymous memory (made
 * read-only) rather than mapped from it: a file overwritten or truncated in
 * place can then neither change what is served nor fault the daemon with
 * SIGBUS.
 *
 * Images are reference counted. Fields are read-only once image_load()
 * returned; any thread holding a reference may read them. */
#ifndef OTAD_IMAGE_H
#define OTAD_IMAGE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "otad/proto.h"

/* Largest image: binsize is a uint32 on the wire. */
#define IMAGE_MAX_SIZE UINT32_MAX

enum version_source {
    VERSION_FROM_FILE,     /* NAME.txt held a valid version */
    VERSION_FILE_MISSING,  /* no NAME.txt: default version */
    VERSION_FILE_INVALID,  /* NAME.txt unusable: default version */
};

/* Identity of the files an image was loaded from, to tell a changed file. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
};

struct image {
    atomic_uint refs;
    char *name;                 /* NAME: the file name without ".bin" */
    char *bin_file;             /* the file name as found ("app.BIN") */
    char *version_file;         /* NAME.txt */
    uint32_t version;
    enum version_source version_source;
    int version_error;          /* why the default was used: negative errno */
    uint32_t size;              /* bytes */
    uint32_t crc;               /* CRC-32 of the whole image */
    uint32_t nblocks;
    uint8_t header[OTA_HEADER_WIRE];
    const uint8_t *data;        /* size bytes: the image as in the file */
    const uint8_t *blocks;      /* nblocks * OTA_BLOCK_WIRE bytes */
    struct file_id bin_id, version_id;
    time_t loaded;              /* wall clock at load */
    void *map;                  /* one mapping holding data and blocks */
    size_t map_len;
};

/* Loads @bin_file (relative to @dirfd) as the image @name, with the version
 * read from "NAME.txt" beside it. Returns 0 and a new image (one reference)
 * in @ret; or -ENODEV (not a regular file), -ENODATA (empty), -EFBIG (over
 * IMAGE_MAX_SIZE), -EAGAIN (the file shrank while being read), -ENOMEM, or
 * the errno of open/read. A version problem is not an error: the image gets
 * VERSION_DEFAULT and a version_source saying why. */
int image_load(int dirfd, const char *bin_file, const char *name, struct image **ret);

/* Reads the identity of @file relative to @dirfd (following symlinks).
 * Returns 0 or a negative errno. */
int image_file_id(int dirfd, const char *file, struct file_id *ret);

/* True when two identities describe the same unchanged file. */
int file_id_equal(const struct file_id *a, const struct file_id *b);

/* Takes a reference; returns @img. */
struct image *image_ref(struct image *img);

/* Drops a reference; the last one frees the image. NULL is ignored. */
void image_unref(struct image *img);

/* The wire form of block @n (< nblocks): OTA_BLOCK_WIRE bytes. */
static inline const uint8_t *image_block(const struct image *img, uint32_t n)
{
    return img->blocks + (size_t)n * OTA_BLOCK_WIRE;
}

#endif

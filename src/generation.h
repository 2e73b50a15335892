/* SPDX-License-Identifier: MIT */
/* A generation: one load of an image file's bytes, held as an immutable
 * in-memory snapshot with the whole-image CRC-32 and every block's CRC-32
 * computed once. The bytes are held once: a block's 260 wire bytes are
 * gathered when it is served (generation_block_copy()) from its data in the
 * image, the 0xFF padding of a short last block and its CRC from the table,
 * so 1 GiB of images costs 1.016 GiB, not the 2 GiB of a block table.
 *
 * The bytes are copied from the file into memory of the daemon's own (private
 * anonymous memory made read-only, or for a small image a range of a
 * read-only pack, pack.h) rather than mapped from it: a file overwritten or
 * truncated in place can then neither change what is served nor fault the
 * daemon with SIGBUS.
 *
 * Generations are reference counted; their fields are read-only once
 * generation_load() returned, and any thread holding a reference may read
 * them. The memory they hold is counted from their load to their last
 * reference, wherever that is (a catalog, a response being sent), so that
 * max_memory bounds what is really held. */
#ifndef OTAD_GENERATION_H
#define OTAD_GENERATION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "file.h"
#include "otad/proto.h"
#include "pack.h"

/* Largest image: binsize is a uint32 on the wire. */
#define GENERATION_MAX_SIZE UINT32_MAX

/* Room for the quoted ETag "xxxxxxxx-xxxxxxxx" and its NUL. */
#define GENERATION_ETAG_MAX 22

/* Bytes of the digests of the whole image (see struct generation). */
#define GENERATION_MD5_SIZE 16
#define GENERATION_SHA256_SIZE 32
/* The first byte of every image the ESP bootloaders boot (esptool's image
 * header). */
#define GENERATION_ESP_MAGIC 0xE9

struct generation {
    atomic_uint refs;
    uint64_t id;                /* unique in this run, increasing */
    uint32_t size;              /* bytes */
    uint32_t crc;               /* CRC-32 of the whole image */
    uint32_t nblocks;
    const uint8_t *data;        /* size bytes: the image as in the file */
    const uint8_t *crcs;        /* nblocks * 4 bytes: each block's CRC-32 as
                                 * on the wire (little-endian) */
    /* Strong validator, quoted as on the wire: "crc-size" in lowercase hex.
     * It names the bytes: identical images share it, whenever loaded. */
    char etag[GENERATION_ETAG_MAX];
    /* Digests of the whole image, made once at load for the images an
     * Arduino ESP updater can be served (espota.h): those that start with
     * the ESP image magic 0xE9 and filesystem images (NAME.fs.bin). They
     * report their sketch's MD5 (and SHA-256) and check the x-MD5 they are
     * sent. Other images skip them: at 2 ms a MiB they would more than
     * double the start-up time (docs/PERFORMANCE.md). */
    bool has_digests;           /* md5, sha256 and sha256_appended are set */
    uint8_t md5[GENERATION_MD5_SIZE];
    uint8_t sha256[GENERATION_SHA256_SIZE];
    /* The last GENERATION_SHA256_SIZE bytes are the SHA-256 of those before
     * them: an ESP-IDF image's appended digest, which is what an ESP32
     * reports as its sketch's SHA-256. */
    bool sha256_appended;
    struct file_id file;        /* of the .bin, when read */
    /* NAME.sig, read with the .bin as one unit (see generation_load()): */
    int manifest_error;         /* 0: in manifest; -ENOENT: none; -EMSGSIZE: not
                                 * OTA_MANIFEST_SIZE bytes; or the errno of reading */
    uint32_t manifest_len;      /* bytes read, at most OTA_MANIFEST_SIZE + 1 */
    uint8_t manifest[OTA_MANIFEST_SIZE];
    struct file_id sig_file;    /* of NAME.sig when read; zero if there is none */
    time_t loaded;              /* wall clock */
    /* Where data and crcs are: an image whose bytes and CRC table take at
     * most PACK_MAX_SPAN bytes has a range of a pack shared with other small
     * generations (pack.h), any other a mapping of its own. */
    struct pack_slot slot;      /* slot.pack is NULL for a mapping of its own */
    void *map;                  /* the mapping of its own, if any (while a
                                 * small one loads, the buffer for its pack) */
    size_t map_len;             /* its bytes; 0 in a pack */
};

/* What a load may take, checked from the file's size before any byte is read
 * or any memory taken. */
struct generation_limits {
    uint64_t max_size;    /* bytes of the image: -EFBIG above */
    uint64_t max_memory;  /* bytes its generation may ever hold: -ENOSPC above */
    uint64_t room;        /* bytes its generation may hold now: -ENOBUFS above */
};

/* Reads @bin_file (relative to @dirfd) into a new generation (one reference)
 * in @ret, within @limits (NULL: only GENERATION_MAX_SIZE), with the manifest
 * NAME.sig beside it (@bin_file less its 4-byte suffix, plus ".sig"): a
 * missing or unusable .sig is not an error, manifest_error says what it was.
 * Both files are read as they are at one moment: either changing while read
 * gives -EAGAIN, so a new .bin never goes with an old .sig. Returns 0, or
 * -ENODEV (not a regular file), -ENODATA (empty), -EFBIG (over max_size or
 * GENERATION_MAX_SIZE), -ENOSPC, -ENOBUFS (see the limits), -EAGAIN (the
 * file changed while it was read), -ENOMEM, -EIO (no digest could be made),
 * or the errno of open/read (or of memfd_create/pwrite, for a pack). */
int generation_load(int dirfd, const char *bin_file, const struct generation_limits *limits,
                    struct generation **ret);

/* The most a generation of an image of @size bytes adds to
 * generation_memory(): the image and its CRC table (4 bytes a block), rounded
 * up to pages. A small one in a pack adds the pages of the pack it is the
 * first to write, which is on average its bytes and table, unrounded. */
uint64_t generation_footprint(uint64_t size);

/* The bytes that @g's last reference going would free now: its own mapping,
 * or the whole of its pack if it is the last generation in it; 0 while other
 * generations share its pack. */
uint64_t generation_release_size(const struct generation *g);

/* The name of the manifest of @bin_file ("app.BIN": "app.sig") into @buf of
 * @len bytes. Returns 0, or -ENAMETOOLONG. */
int generation_sig_name(const char *bin_file, char *buf, size_t len);

/* The identity of @bin_file's manifest now, zero if there is none. */
void generation_sig_id(int dirfd, const char *bin_file, struct file_id *ret);

/* True when @a and @b hold the same manifest, or both none. */
int generation_same_manifest(const struct generation *a, const struct generation *b);

/* The bytes held by every generation alive in the process, whoever holds it:
 * their own mappings and every page written of every pack that a live
 * generation is in (a pack's memory is freed with its last generation). */
uint64_t generation_memory(void);

/* Takes a reference; returns @g. */
struct generation *generation_ref(struct generation *g);

/* Drops a reference; the last one frees the memory. NULL is ignored. */
void generation_unref(struct generation *g);

/* Copies the wire form of block @n (< nblocks) into @out: OTA_BLOCK_WIRE
 * bytes, the data (0xFF-padded when the last block is short) and its CRC-32
 * from the table. The one way to a block's bytes, for serving as for code
 * that writes blocks elsewhere (an export). */
void generation_block_copy(const struct generation *g, uint32_t n, uint8_t out[OTA_BLOCK_WIRE]);

#endif

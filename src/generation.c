/* SPDX-License-Identifier: MIT */
#include "generation.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "pack.h"
#include "ref.h"
#include "wire.h"

static atomic_uint_fast64_t next_id = 1;
/* The map_len of every generation mapped and not yet unmapped, and the pages
 * of every live pack (pack.h). */
static atomic_uint_fast64_t held;

/* Where the CRC table starts in the mapping: after the image, on a cache
 * line of its own. */
static uint64_t crcs_offset(uint64_t size)
{
    return (size + 63) & ~(uint64_t)63;
}

/* The bytes of the image and its CRC table. */
static uint64_t span(uint64_t size)
{
    return crcs_offset(size) + (size + OTA_BLOCK_DATA - 1) / OTA_BLOCK_DATA * WIRE_CRC_SIZE;
}

uint64_t generation_footprint(uint64_t size)
{
    return (span(size) + 4095) & ~(uint64_t)4095; /* what a mapping of its own takes */
}

/* Takes the memory to write @g's image and CRC table in: for a small one a
 * buffer that seal() copies into a pack, else a mapping of its own.
 * Returns it, or NULL. */
static uint8_t *take_memory(struct generation *g)
{
    if (span(g->size) <= PACK_MAX_SPAN)
        return g->map = malloc(span(g->size));
    g->map_len = (size_t)generation_footprint(g->size);
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (g->map == MAP_FAILED)
        return NULL;
    atomic_fetch_add(&held, g->map_len);
    return g->map;
}

/* Makes @g's memory read-only for good. Returns 0 or a negative errno. */
static int seal(struct generation *g)
{
    uint64_t charge;
    int r;

    if (g->map_len == 0) {
        r = pack_put(g->map, span(g->size), &g->slot, &charge);
        if (r == 0)
            atomic_fetch_add(&held, charge);
        free(g->map);
        g->map = NULL;
        g->data = g->slot.data;
        return r;
    }
    if (mprotect(g->map, g->map_len, PROT_READ) < 0)
        return -errno;
    g->data = g->map;
    return 0;
}

uint64_t generation_release_size(const struct generation *g)
{
    return g->slot.pack != NULL ? pack_release_size(g->slot.pack) : g->map_len;
}

uint64_t generation_memory(void)
{
    return atomic_load(&held);
}

/* Checks the size in @st against @limits: an error, or 0. */
static int check_size(const struct stat *st, const struct generation_limits *limits)
{
    uint64_t size = (uint64_t)st->st_size, need = generation_footprint(size);

    if (size == 0)
        return -ENODATA;
    if (size > GENERATION_MAX_SIZE || (limits != NULL && size > limits->max_size))
        return -EFBIG;
    if (limits != NULL && need > limits->max_memory)
        return -ENOSPC;
    if (limits != NULL && need > limits->room)
        return -ENOBUFS;
    return 0;
}

int generation_sig_name(const char *bin_file, char *buf, size_t len)
{
    size_t n = strlen(bin_file);

    if (n < 4 || n + 1 > len)
        return -ENAMETOOLONG;
    memcpy(buf, bin_file, n - 4);
    memcpy(buf + n - 4, ".sig", 5);
    return 0;
}

void generation_sig_id(int dirfd, const char *bin_file, struct file_id *ret)
{
    char name[NAME_MAX + 1];

    if (generation_sig_name(bin_file, name, sizeof(name)) < 0 ||
        file_id_read(dirfd, name, ret) < 0)
        memset(ret, 0, sizeof(*ret));
}

int generation_same_manifest(const struct generation *a, const struct generation *b)
{
    return a->manifest_error == b->manifest_error && a->manifest_len == b->manifest_len &&
           memcmp(a->manifest, b->manifest, sizeof(a->manifest)) == 0;
}

/* Reads the manifest beside @bin_file into @g. What the file holds, or that
 * there is none, is not an error; -EAGAIN is (it changed while read). One
 * byte more than a manifest is read to tell an oversized file. */
static int read_manifest(int dirfd, const char *bin_file, struct generation *g)
{
    uint8_t buf[OTA_MANIFEST_SIZE + 1];
    char name[NAME_MAX + 1];
    struct file_id now;
    struct stat st;
    ssize_t n;
    int fd;

    /* Whatever stands at the name (nothing, a directory) is its identity. */
    generation_sig_id(dirfd, bin_file, &g->sig_file);
    g->manifest_error = generation_sig_name(bin_file, name, sizeof(name));
    if (g->manifest_error < 0)
        return 0;
    fd = file_open_regular(dirfd, name, &st);
    if (fd < 0) {
        g->manifest_error = fd;
        return 0;
    }
    file_id_from_stat(&st, &now);
    n = file_read_upto(fd, buf, sizeof(buf));
    if (!file_id_equal(&now, &g->sig_file) || (n >= 0 && fstat(fd, &st) < 0))
        n = -EAGAIN;
    else if (n >= 0)
        file_id_from_stat(&st, &now);
    close(fd);
    if (n == -EAGAIN || !file_id_equal(&now, &g->sig_file))
        return -EAGAIN;
    if (n < 0) {
        g->manifest_error = (int)n;
        return 0;
    }
    g->manifest_len = (uint32_t)n;
    if (n != OTA_MANIFEST_SIZE) {
        g->manifest_error = -EMSGSIZE;
        return 0;
    }
    memcpy(g->manifest, buf, OTA_MANIFEST_SIZE);
    return 0;
}

/* True for "NAME.fs.bin" (any case): the filesystem image an updater asks
 * for with x-*-mode: spiffs. */
static bool is_filesystem(const char *bin_file)
{
    size_t n = strlen(bin_file);

    return n > 7 && strncasecmp(bin_file + n - 7, ".fs", 3) == 0;
}

/* The digests of the @g->size bytes at @data, read from @bin_file, into @g
 * if it is an image they are made for (generation.h): MD5, SHA-256, and in
 * the same pass the SHA-256 of all but the last 32 bytes, to tell an
 * appended digest. Returns 0 or -EIO. */
static int digest(struct generation *g, const char *bin_file, const uint8_t *data)
{
    size_t tail = g->size > GENERATION_SHA256_SIZE ? GENERATION_SHA256_SIZE : 0;
    uint8_t before[GENERATION_SHA256_SIZE];
    gnutls_hash_hd_t sha = NULL, copy;
    int r = -EIO;

    g->has_digests = data[0] == GENERATION_ESP_MAGIC || is_filesystem(bin_file);
    if (!g->has_digests)
        return 0;
    if (gnutls_hash_fast(GNUTLS_DIG_MD5, data, g->size, g->md5) < 0 ||
        gnutls_hash_init(&sha, GNUTLS_DIG_SHA256) < 0) {
        sha = NULL;
        goto out;
    }
    if (gnutls_hash(sha, data, g->size - tail) < 0 || (copy = gnutls_hash_copy(sha)) == NULL)
        goto out;
    gnutls_hash_deinit(copy, before);
    if (gnutls_hash(sha, data + g->size - tail, tail) < 0)
        goto out;
    g->sha256_appended = tail > 0 && memcmp(before, data + g->size - tail, tail) == 0;
    r = 0;
out:
    if (sha != NULL)
        gnutls_hash_deinit(sha, g->sha256); /* the digest, whole on success */
    return r;
}

int generation_load(int dirfd, const char *bin_file, const struct generation_limits *limits,
                    struct generation **ret)
{
    struct generation *g = NULL;
    struct stat st, after;
    struct file_id now;
    uint8_t *map;
    ssize_t n;
    int fd = -1, r;

    fd = file_open_regular(dirfd, bin_file, &st);
    if (fd < 0) {
        r = fd;
        goto fail;
    }
    r = check_size(&st, limits);
    if (r < 0)
        goto fail;
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    atomic_init(&g->refs, 1);
    g->map = MAP_FAILED;
    g->size = (uint32_t)st.st_size;
    g->nblocks = ota_block_count(g->size);
    file_id_from_stat(&st, &g->file);
    r = read_manifest(dirfd, bin_file, g);
    if (r < 0)
        goto fail;

    /* The image's bytes first, then the CRC table. */
    map = take_memory(g);
    if (map == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    n = file_read_upto(fd, map, g->size);
    if (n < 0) {
        r = (int)n;
        goto fail;
    }
    /* A writer still at work: the bytes may be torn. Try again later (the
     * writer's own events will say when). */
    if (n != (ssize_t)g->size || fstat(fd, &after) < 0) {
        r = -EAGAIN;
        goto fail;
    }
    file_id_from_stat(&after, &now);
    if (!file_id_equal(&now, &g->file)) {
        r = -EAGAIN;
        goto fail;
    }
    /* The manifest read before must still be the one beside these bytes. */
    generation_sig_id(dirfd, bin_file, &now);
    if (!file_id_equal(&now, &g->sig_file)) {
        r = -EAGAIN;
        goto fail;
    }
    g->crc = wire_block_crcs(map, g->size, map + crcs_offset(g->size));
    r = digest(g, bin_file, map);
    if (r < 0)
        goto fail;
    /* From here on the snapshot is immutable; a stray write would fault. */
    r = seal(g);
    if (r < 0)
        goto fail;
    g->crcs = g->data + crcs_offset(g->size);
    snprintf(g->etag, sizeof(g->etag), "\"%08x-%x\"", g->crc, g->size);
    g->loaded = time(NULL);
    g->id = atomic_fetch_add(&next_id, 1);
    close(fd);
    *ret = g;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    generation_unref(g);
    return r;
}

struct generation *generation_ref(struct generation *g)
{
    ref_take(&g->refs);
    return g;
}

void generation_unref(struct generation *g)
{
    if (g == NULL || !ref_drop(&g->refs))
        return;
    if (g->map != MAP_FAILED && g->map != NULL && g->map_len == 0) {
        free(g->map); /* the buffer of a failed load bound for a pack */
    } else if (g->map != MAP_FAILED && g->map != NULL) {
        munmap(g->map, g->map_len);
        atomic_fetch_sub(&held, g->map_len);
    }
    if (g->slot.pack != NULL)
        atomic_fetch_sub(&held, pack_unref(&g->slot));
    free(g);
}

void generation_block_copy(const struct generation *g, uint32_t n, uint8_t out[OTA_BLOCK_WIRE])
{
    size_t off = (size_t)n * OTA_BLOCK_DATA, len = g->size - off;

    /* Constant sizes: the compiler copies a whole block without a call. */
    if (len >= OTA_BLOCK_DATA) {
        memcpy(out, g->data + off, OTA_BLOCK_DATA);
    } else {
        memcpy(out, g->data + off, len);
        memset(out + len, OTA_PAD_BYTE, OTA_BLOCK_DATA - len);
    }
    memcpy(out + OTA_BLOCK_DATA, g->crcs + (size_t)n * WIRE_CRC_SIZE, WIRE_CRC_SIZE);
}

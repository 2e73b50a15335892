/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the unit tests: temporary directories and files. */
#ifndef OTAD_TEST_HELPERS_H
#define OTAD_TEST_HELPERS_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh temporary directory; returns its malloc'ed path. A test
 * cannot go on without one: failure aborts. */
static inline char *tmpdir_create(void)
{
    char tmpl[] = "/tmp/otad-test-XXXXXX";
    char *d = mkdtemp(tmpl);

    d = d != NULL ? strdup(d) : NULL;
    if (d == NULL) {
        perror("mkdtemp");
        abort();
    }
    return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes @dir recursively and frees the path. */
static inline void tmpdir_remove(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Writes @len bytes to DIR/NAME; returns 0 or -1. */
static inline int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[8192];
    FILE *f;
    size_t n;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return -1;
    f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* Reads a whole file into a malloc'ed buffer; returns it (NULL on error). */
static inline uint8_t *read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
        *ret_len = (size_t)len;
    }
    fclose(f);
    return buf;
}

#ifdef VECTORS_DIR
/* The shared test vector VECTORS_DIR/@name, read whole (malloc'ed). A test
 * cannot go on without it: failure aborts. */
static inline uint8_t *vector(const char *name, size_t *len)
{
    char path[512];
    uint8_t *buf = NULL;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, name) < sizeof(path))
        buf = read_file(path, len);
    if (buf == NULL) {
        perror(name);
        abort();
    }
    return buf;
}
#endif

/* Deterministic pseudo-random bytes (xorshift), for repeatable images. */
static inline void fill_random(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

#endif

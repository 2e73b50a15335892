/* SPDX-License-Identifier: MIT */
/* Packs: shared read-only memory that small generations are carved from, so
 * that an image of a few KiB does not take a page-rounded mapping of its own
 * (10,000 images of 4-64 KiB lost 19.5 MiB to rounding, docs/PERFORMANCE.md).
 *
 * A pack is a memfd of PACK_SIZE bytes, sparse until written, mapped once
 * PROT_READ, and never mapped writable: a generation's bytes are made in a
 * private buffer of the loader (read, CRC table, digests, at most 64 KiB, so
 * the extra copy is from cache), then pwrite() copies them into the next
 * range of the pack (64-byte aligned, reserved under a mutex, so several
 * loader threads share one open pack and write side by side). A page shared
 * by two generations is never made writable to add the second: the kernel
 * writes the file, and the only mapping of it stays read-only from mmap to
 * munmap, so no stray write can reach a generation, and nothing ever writes
 * a range again while a generation is in it.
 *
 * A pack lives while any generation in it does: its memory (the pages
 * written, page_up(used)) is freed with the last one. An image replaced while
 * others in its pack stay keeps its range held until they go; that is counted
 * (generation_memory() includes every page of a live pack), and bounded by
 * PACK_SIZE for each live generation in the worst case. Each live pack keeps
 * its memfd open (the ranges are written with pwrite() outside the lock):
 * one descriptor per 2 MiB of small images, within the RLIMIT_NOFILE that
 * setup.c raises.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef OTAD_PACK_H
#define OTAD_PACK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of one pack's memfd and view. */
#define PACK_SIZE ((size_t)2 << 20)
/* The largest range taken from a pack; larger generations map their own
 * memory, where the rounding is at most 6 %. */
#define PACK_MAX_SPAN ((size_t)64 << 10)

struct pack;

/* One generation's range of a pack. */
struct pack_slot {
    struct pack *pack;  /* one reference, dropped by pack_unref() */
    const uint8_t *data;  /* @len bytes, read-only */
    size_t len;
};

/* Copies the @len (<= PACK_MAX_SPAN) bytes at @bytes into the next range of
 * the open pack, opening a new one when it is full, into @ret. The pages the
 * packs hold grow by @ret_charge bytes (0 when the range falls on pages
 * already written): at most @len rounded up to pages. Returns 0 or a
 * negative errno (that of memfd_create, mmap or pwrite). */
int pack_put(const void *bytes, size_t len, struct pack_slot *ret, uint64_t *ret_charge);

/* The bytes dropping the last generation of @p would free now: all of the
 * pack's memory when it holds one generation, else 0. */
uint64_t pack_release_size(struct pack *p);

/* Drops the reference of the generation in @slot; the last frees the pack.
 * The range of the last generation put in the open pack is reused by the
 * next one (a load that found its bytes already held leaves nothing held).
 * Returns the bytes freed. */
uint64_t pack_unref(const struct pack_slot *slot);

#endif

/* SPDX-License-Identifier: MIT */
/* Packs: shared read-only memory that small generations are carved from, so
 * that an image of a few KiB does not take a page-rounded mapping of its own
 * (10,000 images of 4-64 KiB lost 19.5 MiB to rounding, docs/PERFORMANCE.md).
 *
 * A pack is a memfd of PACK_SIZE bytes, sparse until written, mapped once
 * PROT_READ: the view every generation in it is read through, never writable
 * from its mmap to its munmap. A load reserves the next range of the pack
 * (64-byte aligned, under a mutex, so several loader threads share one open
 * pack), and writes its bytes through a second, writable mapping of just the
 * pages of that range, which pack_seal() unmaps before the generation is
 * handed out. The bytes of earlier generations on a shared boundary page are
 * mapped writable in that window too, but no code writes outside its own
 * range, and no reader ever goes through the window; mprotect() on the shared
 * view is never called, so readers never see a writable view of a
 * generation.
 *
 * A pack lives while any generation in it does: its memory (the pages
 * written, page_up(used)) is freed with the last one. An image replaced while
 * others in its pack stay keeps its range held until they go; that is counted
 * (generation_memory() includes every page of a live pack), and bounded by
 * PACK_SIZE for each live generation in the worst case.
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

/* One reserved range: @data (read-only, for ever) and @bytes (writable until
 * pack_seal()) are the same @len bytes. */
struct pack_slot {
    struct pack *pack;  /* one reference, dropped by pack_unref() */
    const uint8_t *data;
    uint8_t *bytes;
    size_t len;
    void *window;       /* the writable mapping, NULL once sealed */
    size_t window_len;
};

/* Reserves @len (<= PACK_MAX_SPAN) bytes in the open pack, opening a new one
 * when it is full, into @ret. The pages the pack holds grow by @ret_charge
 * bytes (0 when the range falls on pages already written): at most @len
 * rounded up to pages. Returns 0 or a negative errno (-ENOMEM, or that of
 * memfd_create). */
int pack_reserve(size_t len, struct pack_slot *ret, uint64_t *ret_charge);

/* Unmaps the writable window of @slot; its bytes are final from here on. */
void pack_seal(struct pack_slot *slot);

/* The bytes dropping the last generation of @p would free now: all of the
 * pack's memory when it holds one generation, else 0. */
uint64_t pack_release_size(struct pack *p);

/* Drops the reference of the generation in @slot (sealed first); the last
 * frees the pack. The range of the last generation reserved in the open pack
 * is reused by the next one (a load that found its bytes already held, or
 * failed, leaves nothing held). Returns the bytes freed. */
uint64_t pack_unref(const struct pack_slot *slot);

#endif

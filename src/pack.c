/* SPDX-License-Identifier: MIT */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE ((size_t)4096)

struct pack {
    int fd;          /* the memfd */
    uint8_t *view;   /* PACK_SIZE bytes, PROT_READ */
    size_t used;     /* bytes reserved, a multiple of 64 */
    unsigned refs;   /* generations in it; under lock */
};

/* Guards open_pack and every pack's used and refs. Taken once per load and
 * once per generation freed, for a few instructions: the system calls that
 * map, fill and free memory are made outside it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The pack ranges are reserved from; NULL until the first, or when the last
 * generation in it went. */
static struct pack *open_pack;

static size_t page_up(size_t n)
{
    return (n + PAGE - 1) & ~(PAGE - 1);
}

/* Frees @p, which no generation is in any more and which is no longer
 * open_pack. Returns the bytes freed. */
static uint64_t destroy(struct pack *p)
{
    uint64_t freed = page_up(p->used);

    close(p->fd);
    munmap(p->view, PACK_SIZE);
    free(p);
    return freed;
}

/* A new, empty pack, or NULL with errno set. */
static struct pack *create(void)
{
    struct pack *p = calloc(1, sizeof(*p));
    int e;

    if (p == NULL)
        return NULL;
    p->view = MAP_FAILED;
    p->fd = memfd_create("otad-pack", MFD_CLOEXEC);
    if (p->fd < 0 || ftruncate(p->fd, PACK_SIZE) < 0)
        goto fail;
    p->view = mmap(NULL, PACK_SIZE, PROT_READ, MAP_SHARED, p->fd, 0);
    if (p->view == MAP_FAILED)
        goto fail;
    return p;
fail:
    e = errno;
    if (p->fd >= 0)
        close(p->fd);
    free(p);
    errno = e;
    return NULL;
}

int pack_put(const void *bytes, size_t len, struct pack_slot *ret, uint64_t *ret_charge)
{
    size_t span = (len + 63) & ~(size_t)63, off = 0;
    struct pack_slot slot = {.len = len};
    uintptr_t first, last;
    ssize_t n;

    if (len == 0 || span > PACK_MAX_SPAN)
        return -EINVAL;
    pthread_mutex_lock(&lock);
    /* A full pack lives on only for the generations in it. */
    if (open_pack == NULL || open_pack->used + span > PACK_SIZE)
        open_pack = create();
    slot.pack = open_pack;
    if (slot.pack != NULL) {
        off = slot.pack->used;
        slot.pack->used = off + span;
        slot.pack->refs++;
    }
    pthread_mutex_unlock(&lock);
    if (slot.pack == NULL)
        return -errno;
    /* The range is ours: it is written while other loads reserve theirs. */
    slot.data = slot.pack->view + off;
    n = pwrite(slot.pack->fd, bytes, len, (off_t)off);
    if (n != (ssize_t)len) {
        pack_unref(&slot);
        return n < 0 ? -errno : -ENOSPC;
    }
    /* Map the pages in the shared view now, in one call, as MAP_POPULATE
     * does for a mapping of its own: what the generation holds is then in
     * the RSS from its load, not from its first request. */
    first = (uintptr_t)slot.data & ~(uintptr_t)(PAGE - 1);
    last = page_up((uintptr_t)slot.data + len);
    madvise((void *)first, last - first, MADV_POPULATE_READ);
    *ret_charge = page_up(off + span) - page_up(off);
    *ret = slot;
    return 0;
}

uint64_t pack_release_size(struct pack *p)
{
    uint64_t n;

    pthread_mutex_lock(&lock);
    n = p->refs == 1 ? page_up(p->used) : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Gives back the range of @slot if it is the last one reserved in the open
 * pack (a load that found its bytes already held, just before):
 * the next load reuses it, and the pages only it had written are freed.
 * Under lock. Returns the bytes freed. */
static uint64_t give_back(const struct pack_slot *slot)
{
    struct pack *p = slot->pack;
    size_t off = (size_t)(slot->data - p->view), end = off + ((slot->len + 63) & ~(size_t)63);

    if (p != open_pack || end != p->used)
        return 0;
    if (page_up(end) > page_up(off) &&
        fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)page_up(off),
                  (off_t)(page_up(end) - page_up(off))) < 0)
        return 0;
    p->used = off;
    return page_up(end) - page_up(off);
}

uint64_t pack_unref(const struct pack_slot *slot)
{
    struct pack *p = slot->pack;
    uint64_t freed = 0;
    bool last;

    pthread_mutex_lock(&lock);
    last = --p->refs == 0;
    if (last && open_pack == p)
        open_pack = NULL;
    else if (!last)
        freed = give_back(slot);
    pthread_mutex_unlock(&lock);
    return last ? destroy(p) : freed;
}

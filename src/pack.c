/* SPDX-License-Identifier: MIT */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE ((size_t)4096)

struct pack {
    int fd;          /* the memfd while the pack is open, else -1 */
    uint8_t *view;   /* PACK_SIZE bytes, PROT_READ */
    size_t used;     /* bytes reserved, a multiple of 64 */
    unsigned refs;   /* generations in it; under lock */
};

/* Guards open_pack and every pack's fd, used and refs. Taken once per load
 * and once per generation freed, for a few instructions (an mmap when a
 * window is made). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The pack ranges are reserved from; NULL until the first, or when the last
 * generation in it went. */
static struct pack *open_pack;

static size_t page_up(size_t n)
{
    return (n + PAGE - 1) & ~(PAGE - 1);
}

/* Frees @p, which no generation is in any more; under lock. Returns the
 * bytes freed. */
static uint64_t destroy(struct pack *p)
{
    uint64_t freed = page_up(p->used);

    if (open_pack == p)
        open_pack = NULL;
    if (p->fd >= 0)
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

int pack_reserve(size_t len, struct pack_slot *ret, uint64_t *ret_charge)
{
    size_t span = (len + 63) & ~(size_t)63, off, first;
    struct pack *p;
    void *window;
    int r = 0;

    if (len == 0 || span > PACK_MAX_SPAN)
        return -EINVAL;
    pthread_mutex_lock(&lock);
    p = open_pack;
    if (p == NULL || p->used + span > PACK_SIZE) {
        if (p != NULL) {
            /* Full: it lives on only for the generations in it. */
            close(p->fd);
            p->fd = -1;
            open_pack = NULL;
        }
        p = create();
        if (p == NULL) {
            r = -errno;
            goto out;
        }
        open_pack = p;
    }
    off = p->used;
    first = off & ~(PAGE - 1);
    window = mmap(NULL, page_up(off + span) - first, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd,
                  (off_t)first);
    if (window == MAP_FAILED) {
        r = -ENOMEM;
        if (p->refs == 0)
            destroy(p);
        goto out;
    }
    *ret_charge = page_up(off + span) - page_up(off);
    p->used = off + span;
    p->refs++;
    *ret = (struct pack_slot){
        .pack = p,
        .data = p->view + off,
        .bytes = (uint8_t *)window + (off - first),
        .len = len,
        .window = window,
        .window_len = page_up(off + span) - first,
    };
out:
    pthread_mutex_unlock(&lock);
    return r;
}

void pack_seal(struct pack_slot *slot)
{
    if (slot->window != NULL)
        munmap(slot->window, slot->window_len);
    /* Map the pages in the shared view now, in one call, as MAP_POPULATE
     * does for a mapping of its own: what the generation holds is then in
     * the RSS from its load, not from its first request. */
    madvise((void *)((uintptr_t)slot->data & ~(PAGE - 1)),
            page_up((uintptr_t)slot->data + slot->len) - ((uintptr_t)slot->data & ~(PAGE - 1)),
            MADV_POPULATE_READ);
    slot->window = NULL;
    slot->bytes = NULL;
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
 * pack (a load that failed, or found its bytes already held, just before):
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
    uint64_t freed;

    pthread_mutex_lock(&lock);
    if (--p->refs == 0)
        freed = destroy(p);
    else
        freed = give_back(slot);
    pthread_mutex_unlock(&lock);
    return freed;
}

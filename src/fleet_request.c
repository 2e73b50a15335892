/* SPDX-License-Identifier: MIT */
/* What the device port's requests tell the registry: fleet_header,
 * fleet_block, fleet_image, and the download they begin and finish.
 *
 * A download begins with the first block (or image bytes) when none is in
 * progress, or when the version offered or the block count (the image size)
 * changed since the one in progress; otherwise a device coming back (after a
 * new header, or stalled) resumes it, keeping the blocks already served. A
 * downloaded device asking for blocks of the same download again begins no
 * new one until it asks for the header again. */
#include "fleet_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fleet_header(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                 const char *name, size_t len, uint32_t offered, bool has_installed,
                 uint32_t installed, uint32_t blocks, int64_t now_ms)
{
    struct fleet_tag *d;
    int rc = 0;

    /* @blocks is not needed here: each block request brings its count. */
    (void)blocks;
    if (!f->o.track)
        return 0;
    if (id != NULL && !fleet_id_valid(id, strlen(id))) {
        rc = -EINVAL;
        id = NULL;
    }
    if ((d = fleet_locate(f, id != NULL ? id : address, id == NULL, name, len, now_ms)) == NULL)
        return -ENOMEM;
    snprintf(d->address, sizeof(d->address), "%s", address);
    fleet_touch(d, now_ms);
    d->offered = offered;
    d->has_offered = true;
    if (has_installed) {
        d->has_installed = true;
        d->installed = installed;
    }
    fleet_set_state(f, d, has_installed && installed >= offered ? FLEET_UP_TO_DATE
                                                                : FLEET_CHECKING, now_ms);
    fleet_mark(d);
    fleet_settle(d, tag);
    return rc;
}

/* The device of a block or image request, its shard locked: the tag's, or
 * the one known by @address; NULL when out of memory. */
static struct fleet_tag *device_of(struct fleet *f, struct fleet_tag **tag, const char *address,
                                   const char *name, size_t len, int64_t now_ms)
{
    struct fleet_tag *d = tag != NULL ? *tag : NULL;

    if (d == NULL) {
        if ((d = fleet_locate(f, address, true, name, len, now_ms)) != NULL)
            snprintf(d->address, sizeof(d->address), "%s", address);
        return d;
    }
    pthread_mutex_lock(&d->shard->lock);
    if (d->fw == NULL || d->fw->len != len || memcmp(d->fw->s, name, len) != 0) {
        /* Rare: another firmware on the same connection. Relocking keeps the
         * interning in one place. */
        pthread_mutex_unlock(&d->shard->lock);
        if ((d = fleet_locate(f, d->id, d->by_address, name, len, now_ms)) == NULL)
            return NULL;
    }
    return d;
}

/* Moves @d into downloading @blocks (0: the image of @size bytes), beginning
 * a new download or resuming the one in progress. False: it is downloaded
 * and this is a repeat of that download. */
static bool begin(struct fleet *f, struct fleet_tag *d, uint32_t blocks, uint64_t size,
                  int64_t now_ms)
{
    bool same = d->dl_offered == d->offered && d->dl_blocks == blocks &&
                (blocks != 0 || d->dl_size == size);

    if (same && d->state == FLEET_DOWNLOADED)
        return false;
    if (!same || !d->dl_active) {
        free(d->bitmap);
        d->bitmap = NULL;
        if (blocks > 0 && blocks <= FLEET_BITMAP_MAX_BLOCKS)
            d->bitmap = calloc((blocks + 7) / 8, 1); /* NULL: counted instead */
        d->dl_active = true;
        d->dl_offered = d->offered;
        d->dl_blocks = blocks;
        d->dl_size = size;
        d->dl_served = 0;
        d->dl_bytes = 0;
        d->dl_started = now_ms;
        d->dl_ended = 0;
        FLEET_ADD(f->c.started, 1);
    }
    fleet_set_state(f, d, FLEET_DOWNLOADING, now_ms);
    return true;
}

/* The download of @d is complete: counted, and copied for the callback. */
static void finish(struct fleet *f, struct fleet_tag *d, int64_t now_ms, struct fleet_device *copy,
                   uint64_t *duration)
{
    uint64_t ms = now_ms > d->dl_started ? (uint64_t)(now_ms - d->dl_started) : 0;

    free(d->bitmap);
    d->bitmap = NULL;
    d->dl_active = false;
    d->dl_ended = now_ms;
    fleet_set_state(f, d, FLEET_DOWNLOADED, now_ms);
    FLEET_ADD(f->c.completed, 1);
    fleet_name_completed(f, d->fw, now_ms);
    FLEET_ADD(f->c.duration_count, 1);
    FLEET_ADD(f->c.duration_sum_ms, ms);
    for (unsigned i = 0; i < 8; i++)
        if (ms <= fleet_duration_bounds_ms[i])
            FLEET_ADD(f->c.duration_le[i], 1);
    fleet_copy(d, copy);
    *duration = ms;
}

/* Block @n of @blocks, or (@blocks 0) @bytes of the image of @size bytes. */
static void served(struct fleet *f, struct fleet_tag **tag, const char *address,
                   const char *name, size_t len, uint32_t n, uint32_t blocks, uint64_t bytes,
                   uint64_t size, int64_t now_ms)
{
    struct fleet_device copy;
    uint64_t duration = 0;
    bool finished = false;
    struct fleet_tag *d;

    if (!f->o.track || (d = device_of(f, tag, address, name, len, now_ms)) == NULL)
        return;
    d->bytes += bytes;
    fleet_touch(d, now_ms);
    /* The usual case first: one more block of the download in progress. */
    if ((d->state == FLEET_DOWNLOADING && d->dl_active && blocks != 0 && d->dl_blocks == blocks) ||
        begin(f, d, blocks, size, now_ms)) {
        d->dl_bytes += bytes;
        if (blocks == 0) {
            finished = d->dl_bytes >= size;
        } else if (d->bitmap == NULL) {
            if (n < blocks && d->dl_served < blocks)
                d->dl_served++;
        } else if (n < blocks && !(d->bitmap[n / 8] & (1u << (n % 8)))) {
            d->bitmap[n / 8] |= (uint8_t)(1u << (n % 8));
            d->dl_served++;
        }
        if (finished || (blocks != 0 && d->dl_served >= blocks)) {
            finish(f, d, now_ms, &copy, &duration);
            finished = true;
        }
    }
    fleet_mark(d);
    fleet_settle(d, tag);
    if (finished && f->done_cb != NULL)
        f->done_cb(f->done_cls, &(struct fleet_done){.device = &copy, .duration_ms = duration});
}

void fleet_block(struct fleet *f, struct fleet_tag **tag, const char *address,
                 const char *name, size_t len, uint32_t n, uint32_t blocks, uint64_t bytes,
                 int64_t now_ms)
{
    served(f, tag, address, name, len, n, blocks, bytes, 0, now_ms);
}

void fleet_image(struct fleet *f, struct fleet_tag **tag, const char *address,
                 const char *name, size_t len, uint64_t bytes, uint64_t size, int64_t now_ms)
{
    served(f, tag, address, name, len, 0, 0, bytes, size, now_ms);
}

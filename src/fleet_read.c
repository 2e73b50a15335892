/* SPDX-License-Identifier: MIT */
/* The registry's readers: copies for the admin API, the metrics and the
 * store, and the store's way back in (fleet_restore).
 *
 * A reader locks one shard at a time, copies what it needs and unlocks
 * before calling back, so a slow callback never holds up the request path;
 * fleet_each copies a whole shard (about max_devices/64 devices) at once. */
#include "fleet_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "otad/proto.h"

/* The fields a device and its copy hold alike, declared once for both ways
 * (fleet_copy and fleet_restore); the sizes must match or this fails to
 * compile. */
#define SAME(t, c)                                                                  \
    {offsetof(struct fleet_tag, t), offsetof(struct fleet_device, c),              \
     sizeof(char[sizeof(((struct fleet_tag *)0)->t) ==                             \
                         sizeof(((struct fleet_device *)0)->c) ? 1 : -1]) *        \
         sizeof(((struct fleet_tag *)0)->t)}
static const struct {
    size_t tag, copy, size;
} same[] = {
    SAME(by_address, by_address),   SAME(first_seen, first_seen_ms),
    SAME(last_seen, last_seen_ms),  SAME(has_installed, has_installed),
    SAME(installed, installed),     SAME(offered, offered),
    SAME(dl_blocks, blocks_total),  SAME(dl_served, blocks_served),
    SAME(bytes, bytes),             SAME(dl_started, download_started_ms),
    SAME(has_report, has_report),   SAME(last_report, last_report),
    SAME(seq, seq),                 SAME(address, address),
};

void fleet_copy(const struct fleet_tag *d, struct fleet_device *ret)
{
    int64_t end = d->dl_ended != 0 ? d->dl_ended : d->last_seen;

    memset(ret, 0, sizeof(*ret));
    for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
        memcpy((char *)ret + same[i].copy, (const char *)d + same[i].tag, same[i].size);
    memcpy(ret->id, d->id, sizeof(ret->id));
    if (d->fw != NULL)
        memcpy(ret->firmware, d->fw->s, d->fw->len + 1);
    ret->state = d->state;
    ret->rate = end > d->dl_started && d->dl_started != 0
                    ? d->dl_bytes * 1000 / (uint64_t)(end - d->dl_started) : 0;
    if (d->dl_blocks != 0) {
        ret->download_size = (uint64_t)d->dl_blocks * OTA_BLOCK_WIRE;
        ret->download_done = (uint64_t)d->dl_served * OTA_BLOCK_WIRE;
    } else {
        ret->download_size = d->dl_size;
        ret->download_done = d->dl_bytes < d->dl_size ? d->dl_bytes : d->dl_size;
    }
}

/* The last @n events of @d, oldest first, into @out. */
static size_t copy_events(const struct fleet_tag *d, size_t n, struct fleet_event *out)
{
    if (n > d->ev_n)
        n = d->ev_n;
    for (size_t i = 0; i < n; i++)
        out[i] = d->ev[(d->ev_head + d->ev_n - n + i) % d->ev_cap];
    return n;
}

static bool matches(const struct fleet_tag *d, const char *firmware, int state)
{
    return (state < 0 || d->state == state) &&
           (firmware == NULL || (d->fw != NULL && strcmp(d->fw->s, firmware) == 0));
}

void fleet_each(struct fleet *f, const char *firmware, int state,
                bool (*cb)(void *cls, const struct fleet_device *d), void *cls)
{
    struct fleet_device *batch = NULL;
    size_t cap = 0, n;
    bool more = true;

    if (!f->o.track)
        return;
    for (unsigned i = 0; i < FLEET_SHARDS && more; i++) {
        struct fleet_shard *s = &f->shards[i];
        n = 0;
        pthread_mutex_lock(&s->lock);
        if (array_grow(&batch, &cap, s->n, sizeof(*batch)) == 0)
            for (struct fleet_tag *d = s->lru_head; d != NULL; d = d->next)
                if (matches(d, firmware, state))
                    fleet_copy(d, &batch[n++]);
        pthread_mutex_unlock(&s->lock);
        for (size_t j = 0; j < n && more; j++)
            more = cb(cls, &batch[j]);
    }
    free(batch);
}

int fleet_get(struct fleet *f, const char *id, struct fleet_device *ret,
              struct fleet_event *events, size_t max, size_t *nevents)
{
    struct fleet_tag *d;

    if (!f->o.track || (d = fleet_find_locked(f, id)) == NULL)
        return -ENOENT;
    fleet_copy(d, ret);
    *nevents = copy_events(d, max, events);
    pthread_mutex_unlock(&d->shard->lock);
    return 0;
}

void fleet_counts(struct fleet *f, struct fleet_counts *ret)
{
    memset(ret, 0, sizeof(*ret));
    for (unsigned i = 0; i < FLEET_STATES; i++)
        ret->devices[i] = FLEET_GET(f->c.devices[i]);
    for (unsigned i = 0; i < FLEET_STATUSES; i++)
        ret->reports[i] = FLEET_GET(f->c.reports[i]);
    for (unsigned i = 0; i < 8; i++)
        ret->duration_le[i] = FLEET_GET(f->c.duration_le[i]);
    ret->downloads_started = FLEET_GET(f->c.started);
    ret->downloads_completed = FLEET_GET(f->c.completed);
    ret->duration_count = FLEET_GET(f->c.duration_count);
    ret->duration_sum_ms = FLEET_GET(f->c.duration_sum_ms);
    ret->devices_evicted = FLEET_GET(f->c.evicted);
}

void fleet_firmwares(struct fleet *f, void (*cb)(void *cls, const struct fleet_firmware *fw),
                     void *cls)
{
    struct fleet_firmware *t = NULL;
    size_t n = 0, cap = 0;

    if (!f->o.track)
        return;
    pthread_mutex_lock(&f->names_lock);
    if (array_grow(&t, &cap, f->names_n, sizeof(*t)) == 0)
        for (size_t b = 0; b < f->names_nbuckets; b++)
            for (struct fleet_name *nm = f->names[b]; nm != NULL; nm = nm->next) {
                memcpy(t[n].name, nm->s, nm->len + 1);
                for (unsigned s = 0; s < FLEET_STATES; s++)
                    t[n].devices[s] = FLEET_GET(nm->counts[s]);
                t[n].completed = nm->completed;
                t[n].timeline = nm->timeline;
                n++;
            }
    pthread_mutex_unlock(&f->names_lock);
    for (size_t i = 0; i < n; i++)
        cb(cls, &t[i]);
    free(t);
}

struct tally {
    void (*cb)(void *cls, const char *firmware, enum fleet_state s, uint64_t n);
    void *cls;
};

static void tally_one(void *cls, const struct fleet_firmware *fw)
{
    const struct tally *t = cls;

    for (unsigned s = 0; s < FLEET_STATES; s++)
        if (fw->devices[s] != 0)
            t->cb(t->cls, fw->name, s, fw->devices[s]);
}

void fleet_tally(struct fleet *f,
                 void (*cb)(void *cls, const char *firmware, enum fleet_state s, uint64_t n),
                 void *cls)
{
    fleet_firmwares(f, tally_one, &(struct tally){cb, cls});
}

/* Takes one changed device off the shard's dirty list and copies it with its
 * new events. False when the shard has none. */
static bool drain_one(struct fleet_shard *s, struct fleet_device *copy, struct fleet_event *ev,
                      size_t *nev)
{
    struct fleet_tag *d;

    pthread_mutex_lock(&s->lock);
    if ((d = s->dirty) == NULL) {
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    s->dirty = d->dirty_next;
    d->dirty = false;
    fleet_copy(d, copy);
    *nev = copy_events(d, d->ev_new, ev);
    d->ev_new = 0;
    fleet_release(d);
    pthread_mutex_unlock(&s->lock);
    return true;
}

size_t fleet_drain(struct fleet *f, size_t max,
                   void (*cb)(void *cls, const struct fleet_device *d,
                              const struct fleet_event *events, size_t nevents),
                   void *cls)
{
    struct fleet_event *ev;
    struct fleet_device copy;
    size_t done = 0, nev;
    unsigned empty = 0;

    if (!f->o.track || (ev = malloc((f->o.history + 1) * sizeof(*ev))) == NULL)
        return 0;
    /* One drain at a time; each starts where the last stopped, so a bounded
     * drain does not always favour the first shards. */
    pthread_mutex_lock(&f->drain_lock);
    while (done < max && empty < FLEET_SHARDS) {
        struct fleet_shard *s = &f->shards[f->drain_next];
        if (drain_one(s, &copy, ev, &nev)) {
            cb(cls, &copy, ev, nev);
            done++;
            empty = 0;
        } else {
            empty++;
        }
        f->drain_next = (f->drain_next + 1) % FLEET_SHARDS;
    }
    pthread_mutex_unlock(&f->drain_lock);
    free(ev);
    return done;
}

int fleet_restore(struct fleet *f, const struct fleet_device *dv,
                  const struct fleet_event *events, size_t nevents)
{
    struct fleet_tag *d;

    if (!f->o.track)
        return 0;
    if (strnlen(dv->id, sizeof(dv->id)) == sizeof(dv->id) || dv->id[0] == 0 ||
        strnlen(dv->firmware, sizeof(dv->firmware)) == sizeof(dv->firmware) ||
        (unsigned)dv->state >= FLEET_STATES)
        return -EINVAL;
    if (atomic_load(&f->ndevices) >= f->o.max_devices)
        return -ENOSPC;
    d = fleet_locate(f, dv->id, dv->by_address, dv->firmware, strlen(dv->firmware),
                     dv->last_seen_ms);
    if (d == NULL)
        return -ENOMEM;
    /* Counted under the state restored, as fleet_set_state would. */
    fleet_set_state(f, d, dv->state, dv->last_seen_ms);
    d->ev_n = d->ev_head = d->ev_new = 0;
    for (size_t i = 0; i < nevents; i++)
        fleet_add_event(f, d, &events[i]);
    d->ev_new = 0;
    for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
        memcpy((char *)d + same[i].tag, (const char *)dv + same[i].copy, same[i].size);
    d->address[sizeof(d->address) - 1] = 0;
    d->dl_offered = d->offered;
    /* A store has no flag for it: a device with none offered has 0. */
    d->has_offered = d->offered != 0;
    /* The rate is kept as bytes over the download's time, and a restored
     * download is not resumed: one second holding the stored rate gives it
     * back exactly. */
    if (dv->download_started_ms != 0) {
        d->dl_ended = dv->download_started_ms + 1000;
        d->dl_bytes = dv->rate;
    }
    pthread_mutex_unlock(&d->shard->lock);
    /* Out of the LRU order of last requests: the next tick looks at all. */
    atomic_store(&f->tick_before, INT64_MIN);
    return 0;
}

const char *fleet_tag_id(const struct fleet_tag *t)
{
    return t != NULL && !t->by_address ? t->id : NULL;
}

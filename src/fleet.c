/* SPDX-License-Identifier: MIT */
/* The registry's table: devices found or made by id, evicted least recently
 * seen first, their events and states, and fleet_tick. The layout is described in fleet_priv.h.
 *
 * The block path (fleet_block with a tag, in fleet_request.c) hashes
 * nothing and formats nothing: it locks the device's shard, sets a bit,
 * adds bytes and moves the device to the front of its shard's LRU list. */
#include "fleet_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint32_t fleet_duration_bounds_ms[8] = {1000,  5000,   15000,  30000,
                                              60000, 300000, 900000, 3600000};

uint32_t fleet_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

bool fleet_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > FLEET_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

void fleet_release(struct fleet_tag *d)
{
    if (--d->refs > 0)
        return;
    fleet_name_drop(d->shard->fleet, d->fw);
    free(d->bitmap);
    free(d->ev);
    free(d);
}

void fleet_tag_free(struct fleet_tag *t)
{
    struct fleet_shard *s;

    if (t == NULL)
        return;
    s = t->shard;
    pthread_mutex_lock(&s->lock);
    fleet_release(t);
    pthread_mutex_unlock(&s->lock);
}

void fleet_settle(struct fleet_tag *d, struct fleet_tag **tag)
{
    struct fleet_tag *old = NULL;

    if (tag != NULL && *tag != d) {
        d->refs++;
        old = *tag;
        *tag = d;
    }
    pthread_mutex_unlock(&d->shard->lock);
    fleet_tag_free(old);
}

static void lru_unlink(struct fleet_shard *s, struct fleet_tag *d)
{
    *(d->prev != NULL ? &d->prev->next : &s->lru_head) = d->next;
    *(d->next != NULL ? &d->next->prev : &s->lru_tail) = d->prev;
    d->prev = d->next = NULL;
}

static void lru_push(struct fleet_shard *s, struct fleet_tag *d)
{
    d->prev = NULL;
    d->next = s->lru_head;
    *(s->lru_head != NULL ? &s->lru_head->prev : &s->lru_tail) = d;
    s->lru_head = d;
}

/* Seen at @now_ms: the most recently seen of its shard. */
void fleet_touch(struct fleet_tag *d, int64_t now_ms)
{
    d->last_seen = now_ms;
    if (d->linked && d->shard->lru_head != d) {
        lru_unlink(d->shard, d);
        lru_push(d->shard, d);
    }
}

void fleet_mark(struct fleet_tag *d)
{
    d->seq++;
    /* Changes after eviction do not reach the store: a device asked for
     * again is a new entry there too. The list is in order of first change,
     * so an evicted device still on it (its last changes before eviction)
     * is drained before a new entry of the same id (same hash, same shard)
     * and the store keeps the new one. */
    if (d->linked && !d->dirty) {
        d->dirty = true;
        d->refs++;
        d->dirty_next = NULL;
        *(d->shard->dirty != NULL ? &d->shard->dirty_tail->dirty_next : &d->shard->dirty) = d;
        d->shard->dirty_tail = d;
    }
}

void fleet_add_event(struct fleet *f, struct fleet_tag *d, const struct fleet_event *e)
{
    if (f->o.history == 0)
        return;
    if (d->ev_n == d->ev_cap && d->ev_cap < f->o.history) {
        /* Grow lazily: most devices never hold more than a handful. */
        uint32_t cap = d->ev_cap == 0 ? FLEET_EVENTS_FIRST : d->ev_cap * 2;
        struct fleet_event *ev;
        if (cap > f->o.history)
            cap = f->o.history;
        if ((ev = malloc(cap * sizeof(*ev))) != NULL) {
            for (uint32_t i = 0; i < d->ev_n; i++)
                ev[i] = d->ev[(d->ev_head + i) % d->ev_cap];
            free(d->ev);
            d->ev = ev;
            d->ev_cap = cap;
            d->ev_head = 0;
        }
    }
    if (d->ev_cap == 0)
        return;
    if (d->ev_n == d->ev_cap) {
        d->ev[d->ev_head] = *e;
        d->ev_head = (d->ev_head + 1) % d->ev_cap;
    } else {
        d->ev[(d->ev_head + d->ev_n++) % d->ev_cap] = *e;
    }
    if (d->ev_new < d->ev_n)
        d->ev_new++;
}

void fleet_set_state(struct fleet *f, struct fleet_tag *d, enum fleet_state s, int64_t now_ms)
{
    /* A new device (seq 0) records its first state even if it is the
     * initial one. */
    if (d->state == s && d->seq != 0)
        return;
    if (d->linked) {
        FLEET_SUB(f->c.devices[d->state], 1);
        FLEET_ADD(f->c.devices[s], 1);
        if (d->fw != NULL) {
            FLEET_SUB(d->fw->counts[d->state], 1);
            FLEET_ADD(d->fw->counts[s], 1);
        }
    }
    d->state = s;
    fleet_add_event(f, d, &(struct fleet_event){.at_ms = now_ms, .state = s,
                                                .version = d->offered});
}

/* Takes @d out of the table (not out of memory while referenced). */
static void unlink_device(struct fleet *f, struct fleet_shard *s, struct fleet_tag *d)
{
    struct fleet_tag **p = &s->buckets[(d->hash >> FLEET_SHARD_BITS) & (s->nbuckets - 1)];

    while (*p != d)
        p = &(*p)->hnext;
    *p = d->hnext;
    lru_unlink(s, d);
    s->n--;
    d->linked = false;
    FLEET_SUB(f->c.devices[d->state], 1);
    if (d->fw != NULL)
        FLEET_SUB(d->fw->counts[d->state], 1);
    FLEET_SUB(f->ndevices, 1);
    fleet_release(d);
}

/* Evicts the tail of shard @s, if it has one. */
static bool evict_tail(struct fleet *f, struct fleet_shard *s)
{
    bool found;

    pthread_mutex_lock(&s->lock);
    if ((found = s->lru_tail != NULL)) {
        unlink_device(f, s, s->lru_tail);
        FLEET_ADD(f->c.evicted, 1);
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Evicts the least recently seen device of all shards. Returns false when
 * there was none. No lock is held on entry: each shard is looked at alone,
 * so another thread may evict the one found first; then it looks again, and
 * after a few such races takes the first device it finds. */
static bool evict_oldest(struct fleet *f)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        struct fleet_shard *best = NULL;
        int64_t oldest = INT64_MAX;
        for (unsigned i = 0; i < FLEET_SHARDS; i++) {
            struct fleet_shard *s = &f->shards[i];
            pthread_mutex_lock(&s->lock);
            if (s->lru_tail != NULL && (best == NULL || s->lru_tail->last_seen < oldest)) {
                best = s;
                oldest = s->lru_tail->last_seen;
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (best == NULL)
            return false;
        if (evict_tail(f, best))
            return true;
    }
    for (unsigned i = 0; i < FLEET_SHARDS; i++)
        if (evict_tail(f, &f->shards[i]))
            return true;
    return false;
}

/* Room for one more device: takes a slot, evicting if at max_devices. */
static int reserve(struct fleet *f)
{
    if (atomic_fetch_add(&f->ndevices, 1) < f->o.max_devices || evict_oldest(f))
        return 0;
    atomic_fetch_sub(&f->ndevices, 1);
    return -ENOSPC;
}

static struct fleet_tag *find(struct fleet_shard *s, uint32_t h, const char *key)
{
    struct fleet_tag *d = s->buckets[(h >> FLEET_SHARD_BITS) & (s->nbuckets - 1)];

    while (d != NULL && (d->hash != h || strcmp(d->id, key) != 0))
        d = d->hnext;
    return d;
}

struct fleet_tag *fleet_find_locked(struct fleet *f, const char *key)
{
    uint32_t h = fleet_hash(key, strlen(key));
    struct fleet_shard *s = &f->shards[h & (FLEET_SHARDS - 1)];
    struct fleet_tag *d;

    pthread_mutex_lock(&s->lock);
    if ((d = find(s, h, key)) == NULL)
        pthread_mutex_unlock(&s->lock);
    return d;
}

/* Puts @d into its shard's table, doubling the buckets when full. */
static void insert(struct fleet *f, struct fleet_shard *s, struct fleet_tag *d)
{
    size_t i;

    if (s->n >= s->nbuckets) {
        size_t nb = s->nbuckets * 2;
        struct fleet_tag **b = calloc(nb, sizeof(*b));
        if (b != NULL) {
            for (i = 0; i < s->nbuckets; i++)
                for (struct fleet_tag *e = s->buckets[i], *next; e != NULL; e = next) {
                    next = e->hnext;
                    e->hnext = b[(e->hash >> FLEET_SHARD_BITS) & (nb - 1)];
                    b[(e->hash >> FLEET_SHARD_BITS) & (nb - 1)] = e;
                }
            free(s->buckets);
            s->buckets = b;
            s->nbuckets = nb;
        }
    }
    i = (d->hash >> FLEET_SHARD_BITS) & (s->nbuckets - 1);
    d->hnext = s->buckets[i];
    s->buckets[i] = d;
    d->linked = true;
    d->refs++;
    s->n++;
    lru_push(s, d);
    FLEET_ADD(f->c.devices[d->state], 1);
    if (d->fw != NULL)
        FLEET_ADD(d->fw->counts[d->state], 1);
}

static struct fleet_tag *device_new(struct fleet *f, const char *key, uint32_t h, bool by_address,
                                    int64_t now_ms)
{
    struct fleet_tag *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->shard = &f->shards[h & (FLEET_SHARDS - 1)];
    d->hash = h;
    d->by_address = by_address;
    snprintf(d->id, sizeof(d->id), "%s", key);
    d->first_seen = d->last_seen = now_ms;
    d->state = FLEET_CHECKING;
    return d;
}

struct fleet_tag *fleet_locate(struct fleet *f, const char *key, bool by_address,
                               const char *name, size_t len, int64_t now_ms)
{
    size_t klen = strlen(key);
    uint32_t h = fleet_hash(key, klen);
    struct fleet_shard *s = &f->shards[h & (FLEET_SHARDS - 1)];
    struct fleet_tag *d, *made;

    if (klen == 0 || klen > FLEET_ID_MAX)
        return NULL; /* ids are checked before; addresses are shorter */
    pthread_mutex_lock(&s->lock);
    if ((d = find(s, h, key)) != NULL)
        goto found;
    pthread_mutex_unlock(&s->lock);
    /* Made outside the lock: eviction locks other shards one by one. */
    if (reserve(f) < 0 || (made = device_new(f, key, h, by_address, now_ms)) == NULL)
        return NULL;
    fleet_set_firmware(f, made, name, len);
    pthread_mutex_lock(&s->lock);
    if ((d = find(s, h, key)) != NULL) {
        /* Made by another thread meanwhile. */
        atomic_fetch_sub(&f->ndevices, 1);
        made->refs = 1;
        fleet_release(made);
        goto found;
    }
    insert(f, s, made);
    return made;
found:
    fleet_set_firmware(f, d, name, len);
    return d;
}

int fleet_new(const struct fleet_options *o, struct fleet **ret)
{
    struct fleet *f = calloc(1, sizeof(*f));
    unsigned i;

    if (f == NULL)
        return -ENOMEM;
    f->o = *o;
    atomic_init(&f->tick_before, INT64_MIN);
    pthread_mutex_init(&f->names_lock, NULL);
    pthread_mutex_init(&f->drain_lock, NULL);
    for (i = 0; i < FLEET_SHARDS; i++) {
        pthread_mutex_init(&f->shards[i].lock, NULL);
        f->shards[i].fleet = f;
        f->shards[i].nbuckets = 16;
        if ((f->shards[i].buckets = calloc(16, sizeof(struct fleet_tag *))) == NULL)
            goto fail;
    }
    f->names_nbuckets = 256;
    if ((f->names = calloc(f->names_nbuckets, sizeof(*f->names))) == NULL ||
        fleet_limiter_new(&f->lim) < 0)
        goto fail;
    *ret = f;
    return 0;
fail:
    fleet_free(f);
    return -ENOMEM;
}

/* Every tag must have been freed before: a tag does not outlive its registry. */
void fleet_free(struct fleet *f)
{
    if (f == NULL)
        return;
    for (unsigned i = 0; i < FLEET_SHARDS; i++) {
        struct fleet_shard *s = &f->shards[i];
        pthread_mutex_lock(&s->lock);
        while (s->dirty != NULL) {
            struct fleet_tag *d = s->dirty;
            s->dirty = d->dirty_next;
            d->dirty = false;
            fleet_release(d);
        }
        while (s->lru_head != NULL)
            unlink_device(f, s, s->lru_head);
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_destroy(&s->lock);
        free(s->buckets);
    }
    fleet_limiter_free(f->lim);
    free(f->names);
    pthread_mutex_destroy(&f->names_lock);
    pthread_mutex_destroy(&f->drain_lock);
    free(f);
}

void fleet_on_done(struct fleet *f, void (*cb)(void *cls, const struct fleet_done *d), void *cls)
{
    f->done_cb = cb;
    f->done_cls = cls;
}

/* Each shard's LRU list is in order of last request, newest first, so a
 * tick walks it only down to the devices the previous tick already looked
 * at: those seen at or before its threshold. A second of margin covers a
 * request timed before another's but recorded after it. A clock that went
 * back, or devices restored, make the next tick look at every device. */
void fleet_tick(struct fleet *f, int64_t now_ms)
{
    int64_t before = now_ms - (int64_t)f->o.stall_seconds * 1000;
    int64_t prev = atomic_exchange(&f->tick_before, before);
    bool all = prev == INT64_MIN || before < prev;

    if (!f->o.track)
        return;
    for (unsigned i = 0; i < FLEET_SHARDS; i++) {
        struct fleet_shard *s = &f->shards[i];
        pthread_mutex_lock(&s->lock);
        for (struct fleet_tag *d = s->lru_head; d != NULL; d = d->next) {
            if (!all && d->last_seen <= prev - 1000)
                break;
            if (d->state == FLEET_DOWNLOADING && d->last_seen <= before) {
                fleet_set_state(f, d, FLEET_STALLED, now_ms);
                fleet_mark(d);
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
}

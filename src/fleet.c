/* The registry's table and its request path: devices found or made by id,
 * evicted least recently seen first, and the states inferred from header,
 * block and image requests. The layout is described in fleet_priv.h.
 *
 * The block path (fleet_block with a tag) hashes nothing and formats
 * nothing: it locks the device's shard, sets a bit, adds bytes and moves the
 * device to the front of its shard's LRU list. */
#include "fleet_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint32_t fleet_duration_bounds_ms[8] = {1000,  5000,   15000,  30000,
                                              60000, 300000, 900000, 3600000};

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define SUB(counter, n) atomic_fetch_sub_explicit(&(counter), (n), memory_order_relaxed)

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

/* The interned @name, with one more reference, or NULL (out of memory). */
static struct fleet_name *name_take(struct fleet *f, const char *name, size_t len)
{
    uint32_t h = fleet_hash(name, len);
    struct fleet_name *n;

    pthread_mutex_lock(&f->names_lock);
    for (n = f->names[h & (f->names_nbuckets - 1)]; n != NULL; n = n->next)
        if (n->hash == h && n->len == len && memcmp(n->s, name, len) == 0)
            break;
    if (n == NULL && (n = calloc(1, sizeof(*n) + len + 1)) != NULL) {
        n->hash = h;
        n->len = len;
        memcpy(n->s, name, len);
        n->next = f->names[h & (f->names_nbuckets - 1)];
        f->names[h & (f->names_nbuckets - 1)] = n;
        f->names_n++;
    }
    if (n != NULL)
        n->refs++;
    pthread_mutex_unlock(&f->names_lock);
    return n;
}

static void name_drop(struct fleet *f, struct fleet_name *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&f->names_lock);
    if (--n->refs == 0) {
        struct fleet_name **p = &f->names[n->hash & (f->names_nbuckets - 1)];
        while (*p != n)
            p = &(*p)->next;
        *p = n->next;
        f->names_n--;
        free(n);
    }
    pthread_mutex_unlock(&f->names_lock);
}

/* Moves @d's firmware to @name, keeping the per-name state counts. On
 * failure (out of memory) the device keeps the name it had. */
static void set_firmware(struct fleet *f, struct fleet_tag *d, const char *name, size_t len)
{
    struct fleet_name *n;

    if (d->fw != NULL && d->fw->len == len && memcmp(d->fw->s, name, len) == 0)
        return;
    if ((n = name_take(f, name, len)) == NULL)
        return;
    if (d->linked) {
        if (d->fw != NULL)
            SUB(d->fw->counts[d->state], 1);
        ADD(n->counts[d->state], 1);
    }
    name_drop(f, d->fw);
    d->fw = n;
}

void fleet_release(struct fleet_tag *d)
{
    if (--d->refs > 0)
        return;
    name_drop(d->shard->fleet, d->fw);
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
     * again is a new entry there too. */
    if (d->linked && !d->dirty) {
        d->dirty = true;
        d->refs++;
        d->dirty_next = d->shard->dirty;
        d->shard->dirty = d;
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
        SUB(f->c.devices[d->state], 1);
        ADD(f->c.devices[s], 1);
        if (d->fw != NULL) {
            SUB(d->fw->counts[d->state], 1);
            ADD(d->fw->counts[s], 1);
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
    SUB(f->c.devices[d->state], 1);
    if (d->fw != NULL)
        SUB(d->fw->counts[d->state], 1);
    SUB(f->ndevices, 1);
    fleet_release(d);
}

/* Evicts the least recently seen device of all shards. Returns false when
 * there was none. No lock is held on entry: each shard is looked at alone. */
static bool evict_oldest(struct fleet *f)
{
    for (int attempt = 0; attempt < 4; attempt++) {
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
        pthread_mutex_lock(&best->lock);
        if (best->lru_tail != NULL) {
            unlink_device(f, best, best->lru_tail);
            ADD(f->c.evicted, 1);
            pthread_mutex_unlock(&best->lock);
            return true;
        }
        pthread_mutex_unlock(&best->lock);
    }
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
    ADD(f->c.devices[d->state], 1);
    if (d->fw != NULL)
        ADD(d->fw->counts[d->state], 1);
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
    uint32_t h = fleet_hash(key, strlen(key));
    struct fleet_shard *s = &f->shards[h & (FLEET_SHARDS - 1)];
    struct fleet_tag *d, *made;

    pthread_mutex_lock(&s->lock);
    if ((d = find(s, h, key)) != NULL)
        goto found;
    pthread_mutex_unlock(&s->lock);
    /* Made outside the lock: eviction locks other shards one by one. */
    if (reserve(f) < 0 || (made = device_new(f, key, h, by_address, now_ms)) == NULL)
        return NULL;
    set_firmware(f, made, name, len);
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
    set_firmware(f, d, name, len);
    return d;
}

int fleet_new(const struct fleet_options *o, struct fleet **ret)
{
    struct fleet *f = calloc(1, sizeof(*f));
    unsigned i;

    if (f == NULL)
        return -ENOMEM;
    f->o = *o;
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

void fleet_tick(struct fleet *f, int64_t now_ms)
{
    int64_t before = now_ms - (int64_t)f->o.stall_seconds * 1000;

    if (!f->o.track)
        return;
    for (unsigned i = 0; i < FLEET_SHARDS; i++) {
        struct fleet_shard *s = &f->shards[i];
        pthread_mutex_lock(&s->lock);
        for (struct fleet_tag *d = s->lru_head; d != NULL; d = d->next)
            if (d->state == FLEET_DOWNLOADING && d->last_seen <= before) {
                fleet_set_state(f, d, FLEET_STALLED, now_ms);
                fleet_mark(d);
            }
        pthread_mutex_unlock(&s->lock);
    }
}

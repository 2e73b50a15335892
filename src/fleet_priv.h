/* SPDX-License-Identifier: MIT */
/* The registry's insides, shared by fleet.c (the table, eviction, events,
 * states, fleet_tick), fleet_request.c (header, block and image requests),
 * fleet_read.c (the copies for readers and the store) and fleet_report.c
 * (reports and their budget), fleet_name.c (interned firmware names).
 * Nothing outside fleet*.c includes this.
 *
 * Layout: FLEET_SHARDS shards chosen by a hash of the id, each with its own
 * mutex, hash table, LRU list (most recently seen first) and list of devices
 * changed since the last drain. A device is struct fleet_tag itself: a
 * connection's tag is a reference to its device, so the block path goes
 * straight to it and locks only its shard. References (table, dirty list,
 * each tag) are counted under the shard's lock; the last one frees.
 * Firmware names are interned (one copy per name, counted), so a device
 * costs a pointer for its firmware; each name also keeps its devices per
 * state for fleet_tally. Lock order: a shard, then the names; never two
 * shards at once.
 *
 * Eviction: at max_devices, a new device evicts the least recently seen of
 * all, found by looking at the tail of each shard's LRU list in turn (one
 * lock at a time, so 64 short locks per device made at the limit). */
#ifndef OTAD_FLEET_PRIV_H
#define OTAD_FLEET_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "fleet.h"

#define FLEET_SHARDS 64
#define FLEET_SHARD_BITS 6
/* Images of more blocks than this keep no bitmap (it would be over 128 KiB
 * a device): their blocks are counted as served, repeats included. */
#define FLEET_BITMAP_MAX_BLOCKS (1u << 20)
/* The counters: exact, but read without a snapshot of all at once. */
#define FLEET_ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define FLEET_SUB(counter, n) atomic_fetch_sub_explicit(&(counter), (n), memory_order_relaxed)
#define FLEET_GET(counter) atomic_load_explicit(&(counter), memory_order_relaxed)
/* A device's event ring starts this small and doubles up to history. */
#define FLEET_EVENTS_FIRST 4

struct fleet_name {
    struct fleet_name *next;
    unsigned refs;                            /* devices naming it; under names_lock */
    uint32_t hash;
    _Atomic uint64_t counts[FLEET_STATES];    /* its linked devices per state */
    uint64_t completed;                       /* downloads of it; under names_lock */
    struct fleet_timeline timeline;           /* under names_lock */
    size_t len;
    char s[];                                 /* NUL-terminated */
};

struct fleet_tag {
    struct fleet_tag *hnext;                  /* hash chain */
    struct fleet_tag *prev, *next;            /* LRU, when linked */
    struct fleet_tag *dirty_next;             /* dirty list, when dirty */
    struct fleet_shard *shard;
    unsigned refs;
    uint32_t hash;
    bool linked;                              /* in the table (not evicted) */
    bool dirty;                               /* on the dirty list */
    bool dl_active;                           /* a download begun, not finished */
    bool by_address, has_installed, has_report;
    bool has_offered;                         /* a header was answered: offered is set */
    uint8_t state;
    uint32_t installed, offered;
    uint32_t dl_offered, dl_blocks, dl_served; /* dl_blocks 0: a whole-image download */
    uint64_t dl_size, dl_bytes, bytes;
    int64_t first_seen, last_seen, dl_started, dl_ended;
    uint8_t *bitmap;                          /* only while downloading */
    struct fleet_event *ev;                   /* ring of ev_cap */
    uint32_t ev_cap, ev_head, ev_n, ev_new;   /* ev_new: added since the last drain */
    struct fleet_event last_report;
    uint64_t seq;
    struct fleet_name *fw;
    char id[FLEET_ID_MAX + 1];
    char address[FLEET_ADDRESS_MAX];
};

struct fleet_shard {
    _Alignas(64) pthread_mutex_t lock;
    struct fleet *fleet;
    struct fleet_tag **buckets;
    size_t nbuckets, n;
    struct fleet_tag *lru_head, *lru_tail;
    struct fleet_tag *dirty, *dirty_tail;     /* changed since drained, oldest first */
};

struct fleet_limiter;

struct fleet {
    struct fleet_options o;
    struct fleet_shard shards[FLEET_SHARDS];
    atomic_uint ndevices;                     /* linked, plus reserved slots */
    pthread_mutex_t names_lock;
    struct fleet_name **names;
    size_t names_nbuckets, names_n;
    struct {
        _Atomic uint64_t devices[FLEET_STATES];
        _Atomic uint64_t started, completed, reports[FLEET_STATUSES];
        _Atomic uint64_t duration_le[8], duration_count, duration_sum_ms, evicted;
    } c;
    void (*done_cb)(void *cls, const struct fleet_done *d);
    void *done_cls;
    struct fleet_limiter *lim;
    _Atomic int64_t tick_before;              /* the last tick's threshold; INT64_MIN: none */
    unsigned drain_next;                      /* the shard the next drain starts at */
    pthread_mutex_t drain_lock;
};

/* fleet.c */
uint32_t fleet_hash(const char *s, size_t len);
bool fleet_id_valid(const char *id, size_t len);
/* The device known as @key, made if new (evicting the least recently seen
 * at max_devices): returned with its shard locked, or NULL (out of memory). */
struct fleet_tag *fleet_locate(struct fleet *f, const char *key, bool by_address,
                               const char *name, size_t len, int64_t now_ms);
/* The linked device @key with its shard locked, or NULL (then unlocked). */
struct fleet_tag *fleet_find_locked(struct fleet *f, const char *key);
/* Points *@tag at @d, unlocks @d's shard and lets go of the old tag. */
void fleet_settle(struct fleet_tag *d, struct fleet_tag **tag);
void fleet_set_state(struct fleet *f, struct fleet_tag *d, enum fleet_state s, int64_t now_ms);
void fleet_add_event(struct fleet *f, struct fleet_tag *d, const struct fleet_event *e);
void fleet_mark(struct fleet_tag *d);
/* Seen at @now_ms: first in its shard's LRU list. */
void fleet_touch(struct fleet_tag *d, int64_t now_ms);
/* Drops a reference, under the shard's lock; the last frees @d. */
void fleet_release(struct fleet_tag *d);
/* fleet_name.c */
/* Moves @d's firmware to @name (@len bytes), keeping the per-name state
 * counts; its shard is locked. Out of memory, it keeps the name it had. */
void fleet_set_firmware(struct fleet *f, struct fleet_tag *d, const char *name, size_t len);
void fleet_name_drop(struct fleet *f, struct fleet_name *n);
/* A download of @n completed at @now_ms (its device's shard locked). */
void fleet_name_completed(struct fleet *f, struct fleet_name *n, int64_t now_ms);
/* fleet_read.c */
void fleet_copy(const struct fleet_tag *d, struct fleet_device *ret);
/* fleet_report.c */
int fleet_limiter_new(struct fleet_limiter **ret);
void fleet_limiter_free(struct fleet_limiter *l);

#endif

/* SPDX-License-Identifier: MIT */
#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"

/* An older generation kept for the downloads that started with it. */
struct retained {
    char *name;
    struct generation *gen;   /* owned reference */
    uint64_t retired_ms;      /* monotonic */
};

struct catalog {
    char *dir;
    struct catalog_limits limits;
    catalog_report_fn *report;
    void *report_ctx;
    pthread_rwlock_t lock;
    struct image **items;     /* current images, sorted by name; owned */
    size_t n, cap;
    struct retained *old;     /* retained generations, oldest first */
    size_t nold, cap_old;
};


static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int catalog_open(const char *dir, const struct catalog_limits *limits,
                 catalog_report_fn *report, void *ctx, struct catalog **ret)
{
    struct catalog *cat;
    int fd;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    cat = calloc(1, sizeof(*cat));
    if (cat == NULL)
        return -ENOMEM;
    cat->dir = strdup(dir);
    if (cat->dir == NULL) {
        free(cat);
        return -ENOMEM;
    }
    cat->limits = *limits;
    cat->report = report;
    cat->report_ctx = ctx;
    pthread_rwlock_init(&cat->lock, NULL);
    *ret = cat;
    return 0;
}

const struct trust *catalog_trust(const struct catalog *cat)
{
    return cat->limits.trust;
}

void catalog_close(struct catalog *cat)
{
    if (cat == NULL)
        return;
    for (size_t i = 0; i < cat->n; i++)
        image_unref(cat->items[i]);
    for (size_t i = 0; i < cat->nold; i++) {
        free(cat->old[i].name);
        generation_unref(cat->old[i].gen);
    }
    free(cat->items);
    free(cat->old);
    pthread_rwlock_destroy(&cat->lock);
    free(cat->dir);
    free(cat);
}

const char *catalog_dir(const struct catalog *cat)
{
    return cat->dir;
}

void catalog_report(struct catalog *cat, const struct catalog_change *change)
{
    if (cat->report != NULL)
        cat->report(cat->report_ctx, change);
}

static int compare_name(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool name_is(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/* Binary search; returns the index, or -(insertion point) - 1. */
static ssize_t find(struct image *const *items, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_name(name, len, items[mid]->name);

        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -(ssize_t)lo - 1;
}

/* Drops retained generation @i; the caller holds the write lock and unrefs
 * the returned entry's contents after unlocking. */
static struct retained take_old(struct catalog *cat, size_t i)
{
    struct retained r = cat->old[i];

    memmove(&cat->old[i], &cat->old[i + 1], (cat->nold - i - 1) * sizeof(*cat->old));
    cat->nold--;
    return r;
}

/* Reports and frees the generations taken out by take_old(). */
static void drop(struct catalog *cat, struct retained *dropped, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        catalog_report(cat, &(struct catalog_change){
                                .event = CATALOG_DROPPED,
                                .name = dropped[i].name,
                                .gen = dropped[i].gen,
                                .in_use = atomic_load(&dropped[i].gen->refs) > 1,
                                .reason = why});
        free(dropped[i].name);
        generation_unref(dropped[i].gen);
    }
}

/* The memory that letting go of the catalog's reference to @g frees: none if
 * someone else (a response) holds it too, or other generations its pack. */
static uint64_t freed_by_gen(const struct generation *g)
{
    return atomic_load(&g->refs) == 1 ? generation_release_size(g) : 0;
}

/* The same for the catalog's reference to the image @img. */
static uint64_t freed_by(const struct image *img)
{
    return atomic_load(&img->refs) == 1 ? freed_by_gen(img->gen) : 0;
}

int catalog_set(struct catalog *cat, const char *name, struct image *img)
{
    size_t len = strlen(name), ndropped = 0, cap_dropped = 0;
    uint64_t held;
    bool retained = false;
    struct retained *dropped = NULL;
    struct image *old = NULL;
    char *old_name = NULL;
    ssize_t i;
    int r = 0;

    if (cat->limits.retain_seconds > 0)
        old_name = strdup(name);
    pthread_rwlock_wrlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i < 0 && img != NULL &&
        array_grow(&cat->items, &cat->cap, cat->n + 1, sizeof(*cat->items)) < 0) {
        r = -ENOMEM;
        goto unlock;
    }
    if (i >= 0)
        old = cat->items[i];
    /* A retained generation becoming current again leaves the retained list. */
    for (size_t k = 0; img != NULL && k < cat->nold; k++) {
        if (cat->old[k].gen == img->gen) {
            struct retained back = take_old(cat, k);

            free(back.name);
            generation_unref(back.gen); /* img holds its own reference */
            break;
        }
    }
    if (old != NULL && (img == NULL || img->gen != old->gen)) {
        /* The downloads that started with the old bytes may finish them. */
        if (old_name != NULL &&
            array_grow(&cat->old, &cat->cap_old, cat->nold + 1, sizeof(*cat->old)) == 0) {
            cat->old[cat->nold++] = (struct retained){
                .name = old_name, .gen = generation_ref(old->gen), .retired_ms = now_ms()};
            old_name = NULL;
            retained = true;
        }
    }
    if (img == NULL && old != NULL) {
        memmove(&cat->items[i], &cat->items[i + 1], (cat->n - (size_t)i - 1) * sizeof(*cat->items));
        cat->n--;
    } else if (img != NULL && old != NULL) {
        cat->items[i] = img;
    } else if (img != NULL) {
        i = -i - 1;
        memmove(&cat->items[i + 1], &cat->items[i], (cat->n - (size_t)i) * sizeof(*cat->items));
        cat->items[i] = img;
        cat->n++;
    }
    /* What is really held counts, the generations that responses still hold
     * included: dropping one of those frees nothing until they end. The one
     * replaced, if not retained, goes with @old below. */
    held = generation_memory();
    if (old != NULL && !retained && (img == NULL || img->gen != old->gen))
        held -= freed_by(old);
    img = NULL;
    while (held > cat->limits.max_memory && cat->nold > 0 &&
           array_grow(&dropped, &cap_dropped, ndropped + 1, sizeof(*dropped)) == 0) {
        dropped[ndropped] = take_old(cat, 0);
        held -= freed_by_gen(dropped[ndropped++].gen);
    }
unlock:
    pthread_rwlock_unlock(&cat->lock);
    drop(cat, dropped, ndropped, "over max_memory");
    free(dropped);
    free(old_name);
    image_unref(old);
    image_unref(img);
    return r;
}

struct image *catalog_current(struct catalog *cat, const char *name)
{
    ssize_t i = find(cat->items, cat->n, name, strlen(name));

    return i >= 0 ? cat->items[i] : NULL;
}

size_t catalog_count(const struct catalog *cat)
{
    return cat->n;
}

/* The bytes and the manifest: a generation is served with both. */
static bool same_bytes(const struct generation *a, const struct generation *b)
{
    return a->size == b->size && strcmp(a->etag, b->etag) == 0 &&
           memcmp(a->data, b->data, a->size) == 0 && generation_same_manifest(a, b);
}

/* Reloading identical bytes (a touch, a directory put back, a rollback) must
 * neither cost memory nor strand the downloads pinned to them. */
struct generation *catalog_held(struct catalog *cat, const char *name,
                                const struct generation *gen)
{
    struct image *cur = catalog_current(cat, name);

    if (cur != NULL && same_bytes(cur->gen, gen))
        return cur->gen;
    for (size_t k = cat->nold; k-- > 0;)
        if (strcmp(cat->old[k].name, name) == 0 && same_bytes(cat->old[k].gen, gen))
            return cat->old[k].gen;
    return NULL;
}

long catalog_expire(struct catalog *cat)
{
    uint64_t now = now_ms(), keep = (uint64_t)cat->limits.retain_seconds * 1000;
    struct retained *dropped = NULL;
    size_t ndropped = 0, cap_dropped = 0;
    long next = -1;

    pthread_rwlock_wrlock(&cat->lock);
    while (cat->nold > 0 && now - cat->old[0].retired_ms >= keep &&
           array_grow(&dropped, &cap_dropped, ndropped + 1, sizeof(*dropped)) == 0)
        dropped[ndropped++] = take_old(cat, 0);
    if (cat->nold > 0)
        next = (long)(cat->old[0].retired_ms + keep - now);
    pthread_rwlock_unlock(&cat->lock);
    drop(cat, dropped, ndropped, "retain_seconds passed");
    free(dropped);
    return next;
}

struct image *catalog_lookup(struct catalog *cat, const char *name, size_t len)
{
    struct image *img = NULL;
    ssize_t i;

    pthread_rwlock_rdlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i >= 0)
        img = image_ref(cat->items[i]);
    pthread_rwlock_unlock(&cat->lock);
    return img;
}

/* Finds a generation of @name matching @match(gen, arg): current first, then
 * the retained ones, newest first. */
static struct generation *find_generation(struct catalog *cat, const char *name, size_t len,
                                          bool (*match)(const struct generation *, const void *),
                                          const void *arg)
{
    struct generation *g = NULL;
    ssize_t i;

    pthread_rwlock_rdlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i >= 0 && match(cat->items[i]->gen, arg))
        g = generation_ref(cat->items[i]->gen);
    for (size_t k = cat->nold; g == NULL && k-- > 0;)
        if (name_is(name, len, cat->old[k].name) && match(cat->old[k].gen, arg))
            g = generation_ref(cat->old[k].gen);
    pthread_rwlock_unlock(&cat->lock);
    return g;
}

static bool match_id(const struct generation *g, const void *arg)
{
    return g->id == *(const uint64_t *)arg;
}

struct etag_arg {
    const char *etag;
    size_t len;
};

static bool match_etag(const struct generation *g, const void *arg)
{
    const struct etag_arg *e = arg;

    return name_is(e->etag, e->len, g->etag);
}

struct generation *catalog_find_generation(struct catalog *cat, const char *name, size_t len,
                                           uint64_t id)
{
    return find_generation(cat, name, len, match_id, &id);
}

struct generation *catalog_find_etag(struct catalog *cat, const char *name, size_t len,
                                     const char *etag, size_t etag_len)
{
    struct etag_arg arg = {etag, etag_len};

    return find_generation(cat, name, len, match_etag, &arg);
}

int catalog_list(struct catalog *cat, struct catalog_item **ret)
{
    struct catalog_item *list;
    size_t n;

    pthread_rwlock_rdlock(&cat->lock);
    n = cat->n;
    list = calloc(n ? n : 1, sizeof(*list));
    if (list == NULL) {
        pthread_rwlock_unlock(&cat->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        list[i].img = image_ref(cat->items[i]);
        for (size_t k = 0; k < cat->nold; k++)
            if (strcmp(cat->old[k].name, cat->items[i]->name) == 0)
                list[i].retained++;
    }
    pthread_rwlock_unlock(&cat->lock);
    *ret = list;
    return (int)n;
}

void catalog_release(struct catalog_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        image_unref(items[i].img);
    free(items);
}

uint64_t catalog_memory(struct catalog *cat)
{
    (void)cat;
    return generation_memory();
}

void catalog_load_limits(struct catalog *cat, const char *name, struct generation_limits *ret)
{
    struct image *cur = catalog_current(cat, name);
    uint64_t held = generation_memory(), freed = 0;

    /* What the catalog can let go of to make room: the retained generations
     * no response holds, and the image replaced if none holds it either. */
    for (size_t k = 0; k < cat->nold; k++)
        freed += freed_by_gen(cat->old[k].gen);
    if (cur != NULL)
        freed += freed_by(cur);
    held = held > freed ? held - freed : 0;
    *ret = (struct generation_limits){
        .max_size = cat->limits.max_image_size > 0 ? cat->limits.max_image_size : UINT64_MAX,
        .max_memory = cat->limits.max_memory,
        .room = held < cat->limits.max_memory ? cat->limits.max_memory - held : 0,
    };
}

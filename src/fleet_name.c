/* SPDX-License-Identifier: MIT */
/* Firmware names, interned: one counted copy per name, shared by the
 * devices that asked for it, so a device costs a pointer for its firmware
 * however long the name. Each name also counts its devices per state, kept
 * as they change, so fleet_tally need not visit the devices, and the
 * downloads of it completed over time. Taken only
 * when a device's firmware changes, never on the block path; a fixed
 * table, since a firmware directory holds tens of names, not thousands. */
#include "fleet_priv.h"

#include <stdlib.h>
#include <string.h>

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

void fleet_name_drop(struct fleet *f, struct fleet_name *n)
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

void fleet_set_firmware(struct fleet *f, struct fleet_tag *d, const char *name, size_t len)
{
    struct fleet_name *n;

    /* Longer than a file name can be: cut to what a copy can hold. */
    if (len > FLEET_NAME_MAX)
        len = FLEET_NAME_MAX;
    if (d->fw != NULL && d->fw->len == len && memcmp(d->fw->s, name, len) == 0)
        return;
    if ((n = name_take(f, name, len)) == NULL)
        return;
    if (d->linked) {
        if (d->fw != NULL)
            FLEET_SUB(d->fw->counts[d->state], 1);
        FLEET_ADD(n->counts[d->state], 1);
    }
    /* A download of another firmware is another download. */
    if (d->fw != NULL)
        d->dl_active = false;
    fleet_name_drop(f, d->fw);
    d->fw = n;
}

void fleet_timeline_add(struct fleet_timeline *t, int64_t now_ms)
{
    if (t->bucket_ms == 0) {
        t->start_ms = now_ms;
        t->bucket_ms = 1000;
    }
    /* A clock stepped back counts in the first bucket. */
    if (now_ms < t->start_ms)
        now_ms = t->start_ms;
    while ((now_ms - t->start_ms) / t->bucket_ms >= FLEET_TIMELINE) {
        for (unsigned i = 0; i < FLEET_TIMELINE / 2; i++)
            t->counts[i] = t->counts[2 * i] + t->counts[2 * i + 1];
        memset(t->counts + FLEET_TIMELINE / 2, 0, sizeof(t->counts) / 2);
        t->bucket_ms *= 2;
    }
    t->counts[(now_ms - t->start_ms) / t->bucket_ms]++;
}

void fleet_name_completed(struct fleet *f, struct fleet_name *n, int64_t now_ms)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&f->names_lock);
    n->completed++;
    fleet_timeline_add(&n->timeline, now_ms);
    pthread_mutex_unlock(&f->names_lock);
}

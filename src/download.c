/* SPDX-License-Identifier: MIT */
#include "download.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t download_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool same(const struct download *d, const struct download_step *s)
{
    return d->name != NULL && d->gen == s->gen && d->name_len == s->name_len &&
           memcmp(d->name, s->name, s->name_len) == 0;
}

int download_count(struct download *d, const struct download_step *s, int64_t now_us,
                   struct download *ret_abandoned)
{
    int moved = 0;

    if (!same(d, s)) {
        char *name = malloc(s->name_len + 1);

        if (name == NULL)
            return -ENOMEM;
        memcpy(name, s->name, s->name_len);
        name[s->name_len] = '\0';
        if (d->name != NULL) {
            *ret_abandoned = *d;
            moved = 1;
        }
        *d = (struct download){.name = name, .name_len = s->name_len, .gen = s->gen,
                               .version = s->version, .blocks = s->blocks, .size = s->size,
                               .started_us = now_us};
    }
    /* A range request names its version only when it is the current one. */
    if (d->version < 0)
        d->version = s->version;
    if (s->block) {
        d->served++;
    } else {
        d->pieces++;
        d->image_bytes += s->bytes;
    }
    d->bytes += s->bytes;
    d->last_us = now_us;
    return moved;
}

bool download_finished(const struct download *d)
{
    return d->name != NULL && ((d->served > 0 && d->served >= d->blocks) ||
                               (d->pieces > 0 && d->image_bytes >= d->size));
}

void download_clear(struct download *d)
{
    free(d->name);
    *d = (struct download){0};
}

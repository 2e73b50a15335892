/* SPDX-License-Identifier: MIT */
/* One connection's download, for the access log (access_log: downloads):
 * the blocks, or the image bytes, of one generation of one firmware served
 * on one connection. It begins with the first of them and ends finished
 * once as many blocks as the image has, or all of its bytes, were served;
 * or abandoned when the connection closes, or moves on to another firmware
 * or generation, before that. A download resumed on a new connection is a
 * new one here (the fleet registry joins them). */
#ifndef OTAD_DOWNLOAD_H
#define OTAD_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct download {
    char *name;               /* owned; NULL: none in progress */
    size_t name_len;
    uint64_t gen;             /* generation id */
    int64_t version;          /* announced with it; -1: not known */
    uint32_t blocks;          /* of the image */
    uint32_t served;          /* block answers (a block asked twice counts twice) */
    uint32_t pieces;          /* image answers (whole, or ranges) */
    uint64_t size;            /* image bytes */
    uint64_t image_bytes;     /* of them served (a range asked twice counts twice) */
    uint64_t bytes;           /* body bytes served: blocks and image bytes */
    int64_t started_us;       /* monotonic clock: its first answer was queued */
    int64_t last_us;          /* its last answer was queued */
};

/* What one answer served: a block, or @bytes of the image. */
struct download_step {
    const char *name;         /* NAME, @name_len bytes, not terminated */
    size_t name_len;
    uint64_t gen;
    int64_t version;
    uint32_t blocks;
    uint64_t size;
    bool block;
    uint64_t bytes;
};

/* The clock the durations are measured with, in microseconds. */
int64_t download_now_us(void);

/* Counts @s into @d at @now_us. A download of another firmware or
 * generation in progress is moved to *@ret_abandoned first (which the
 * caller then owns: download_clear) and 1 returned; else 0, with
 * *@ret_abandoned untouched. -ENOMEM: @d could not begin; nothing counted. */
int download_count(struct download *d, const struct download_step *s, int64_t now_us,
                   struct download *ret_abandoned);

/* True once @d has served as many blocks as the image has, or every byte. */
bool download_finished(const struct download *d);

/* Frees what @d owns; it is then no download in progress. */
void download_clear(struct download *d);

#endif

/* SPDX-License-Identifier: MIT */
/* Which firmware names wait to be reloaded, and when: a file is loaded only
 * once it has been quiet for the settle time after its writer closed it, so a
 * writer that writes in several goes is never caught half-way.
 *
 * A name whose file was modified while someone had it open is being written:
 * it is not due until a writer closes it, or until the last one holding it
 * open closes it without writing (then the modification was made by path).
 * A modification with nobody holding the file open (truncate(2) by path) is
 * complete as it is.
 *
 * A name that could not be loaded for now (changing while read, no room in
 * memory) is scheduled again with pending_retry(); it stays "retrying", so
 * that the failure is told once, until an event on its files. */
#ifndef OTAD_PENDING_H
#define OTAD_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "watch.h"

/* After events were lost, a name being written with no news for this long is
 * taken as closed (its writer's close may have been among the lost). */
#define PENDING_LOST_WRITER_MS 60000

struct pending;

/* Creates an empty set with the given settle time. Returns 0 or -ENOMEM. */
int pending_new(unsigned settle_ms, struct pending **ret);

void pending_free(struct pending *p);

/* Records a directory event at @now_ms (monotonic). File names that are not
 * NAME.bin (any case), NAME.txt or NAME.sig, or that start with a dot, are ignored.
 * Returns 0 or -ENOMEM. */
int pending_note(struct pending *p, enum watch_kind kind, const char *file, uint64_t now_ms);

/* Makes the firmware @name (not a file name) due again after the settle time
 * from @now_ms, and at least @min_ms, unless a writer is at work (its close
 * will) or it is due sooner. It is then retrying until the next event on its
 * files. Returns 0 or -ENOMEM. */
int pending_retry(struct pending *p, const char *name, uint64_t now_ms, unsigned min_ms);

/* True when @name is retrying: a retry was asked and no event came since,
 * also while the retry itself runs. */
bool pending_retrying(const struct pending *p, const char *name);

/* True when a writer still has one of @name's files open: modified while
 * open and not closed by a writer yet. */
bool pending_writing(const struct pending *p, const char *name);

/* Milliseconds until the next reload is due (0: now), or -1 if none waits. */
long pending_timeout(const struct pending *p, uint64_t now_ms);

/* Calls @fn for each name due at @now_ms and forgets it; @name is NULL for a
 * full rescan, which stands for every name. Returns the number of calls. */
unsigned pending_run(struct pending *p, uint64_t now_ms,
                     void (*fn)(void *ctx, const char *name), void *ctx);

#endif

/* SPDX-License-Identifier: MIT */
/* Deadlines for request heads: a thread that ends the connections whose
 * request head is late (slowloris clients, which send a byte now and then
 * so that the idle timeout never fires).
 *
 * Each connection has an entry with its descriptor and the time its head is
 * due, set by the HTTP callbacks; the thread shuts down the descriptors that
 * are past due and the HTTP library, seeing the connection end, closes it
 * itself. An entry must be removed before its descriptor is closed. */
#ifndef OTAD_DEADLINE_H
#define OTAD_DEADLINE_H

#include <stdint.h>

struct deadline_watch;
struct deadline;

/* Milliseconds on the monotonic clock: the unit of due times. */
int64_t deadline_now(void);

/* Starts the thread that watches the entries. Returns 0 or a negative errno. */
int deadline_watch_start(struct deadline_watch **ret);

/* Stops the thread and frees @w; every entry must have been removed first.
 * NULL is ignored. */
void deadline_watch_stop(struct deadline_watch *w);

/* Adds an entry for the open descriptor @fd, due at @due (0: not due). The
 * entry belongs to @w until deadline_remove(). Returns 0 or -ENOMEM. */
int deadline_add(struct deadline_watch *w, int fd, int64_t due, struct deadline **ret);

/* Sets when @e is due (0: not due), from any thread. NULL is ignored. */
void deadline_set(struct deadline *e, int64_t due);

/* Removes and frees @e, before its descriptor is closed. NULL is ignored. */
void deadline_remove(struct deadline_watch *w, struct deadline *e);

#endif

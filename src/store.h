/* SPDX-License-Identifier: MIT */
/* The store: the fleet registry on disk, in the SQLite file
 * STATE_DIR/devices.db.
 *
 * At start-up store_open reads back the most recently seen devices and
 * their last events into the registry (fleet_restore). From then on one
 * writer thread (store_run) flushes what changed, at most once a second:
 * fleet_tick, then fleet_drain of at most STORE_DRAIN_MAX devices, written
 * in one transaction. The request path never waits for it: the registry
 * holds the changes, the store only a copy of one flush's batch.
 *
 * Nothing here stops firmware being served. A state directory or database
 * that cannot be used costs one message, then the registry is kept in
 * memory only (the ticks go on, so downloads still become stalled); a
 * corrupt file is moved aside to devices.db.corrupt-YYYYMMDDTHHMMSSZ and a
 * fresh one made; a flush that fails (a full disk) keeps its batch and is
 * tried again a second later. What happened comes back through the
 * store_say callback, from whichever thread found it; the store never
 * logs. */
#ifndef OTAD_STORE_H
#define OTAD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "log.h"

/* Devices written by one flush at the most: a batch of 10,000 devices
 * downloading at once fits, and its copy stays a few MiB. */
#define STORE_DRAIN_MAX 16384

/* The file in state_dir. */
#define STORE_FILE "devices.db"

/* A message for the log, at @level (LOG_LEVEL_WARNING or LOG_LEVEL_INFO),
 * without its newline: the daemon passes log_msg. */
typedef void store_say(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct store_options {
    const char *dir;          /* state_dir; created (0750) if its parent allows */
    unsigned max_devices;     /* devices read back at most (fleet.max_devices) */
    unsigned history;         /* events kept per device (fleet.history) */
    size_t drain_max;         /* devices per flush; 0: STORE_DRAIN_MAX */
    unsigned interval_ms;     /* between flushes; 0: 1000 */
};

/* What a flush or an open did, for the bench and the tests. */
struct store_stats {
    bool persistent;          /* a database is in use */
    uint64_t flushes;         /* transactions committed */
    uint64_t failures;        /* transactions that failed */
    uint64_t devices_written, events_written;
    uint64_t restored;        /* devices read back at open */
    size_t pending;           /* devices of a failed batch, kept for the next flush */
    uint64_t last_flush_ns;   /* the last transaction, begin to commit */
    uint64_t max_flush_ns;
};

struct store;

/* Opens (or creates) the database under @o->dir and restores its devices
 * into @f, which the store uses but does not own (it must outlive the
 * store). Failures to use the database are said through @say and leave a
 * store in memory-only mode. Returns 0 and the store in *@ret, or -ENOMEM
 * (or -EINVAL for a NULL @f or @o->dir). */
int store_open(const struct store_options *o, struct fleet *f, store_say *say,
               struct store **ret);

/* One flush, now (@now_ms: wall clock): fleet_tick, fleet_drain, one
 * transaction. Returns the devices written (0 in memory-only mode), or a
 * negative errno when the transaction failed (its batch is kept). Not to
 * be called while the writer thread runs. */
int store_flush(struct store *s, int64_t now_ms);

/* Starts the writer thread, which flushes every interval_ms. Returns 0 or
 * a negative errno (then the caller may still flush by hand). */
int store_run(struct store *s);

/* store_open then store_run: what main.c calls before serving. */
int store_start(const struct store_options *o, struct fleet *f, store_say *say,
                struct store **ret);

/* Stops the writer thread, flushes what is left (all changed devices, in
 * batches) and closes the database. NULL is ignored. */
void store_stop(struct store *s);

/* A copy of the counters; safe while the writer thread runs. */
void store_stats(struct store *s, struct store_stats *ret);

#endif

/* SPDX-License-Identifier: MIT */
/* The SQL side of the store (store.h): the schema of devices.db, its
 * prepared statements, one batch written in one transaction, and the read
 * back at start-up. Used by one thread at a time. */
#ifndef OTAD_STORE_DB_H
#define OTAD_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

/* The schema this otad writes (PRAGMA user_version). */
#define STORE_DB_VERSION 1

/* One device of a batch: its copy, and its events at events[first] to
 * events[first + n - 1] of the batch's event array, oldest first. */
struct store_item {
    struct fleet_device d;
    size_t first, n;
};

struct store_db;

/* Opens or creates the database at @path: WAL, synchronous=NORMAL, a busy
 * timeout, a quick_check, the schema. Returns 0 and the handle in *@ret;
 * -EBADMSG for a corrupt file (or one that is not a database), -EROFS for
 * one that can only be read, -EPROTO for a schema newer than this otad's,
 * or another negative errno; then @err says why (in SQLite's words). */
int store_db_open(const char *path, struct store_db **ret, char *err, size_t len);

/* Closes; NULL is ignored. */
void store_db_close(struct store_db *db);

/* Writes @items (@n, with their events in @events) in one transaction:
 * devices upserted, first seen kept at the earliest, events added and
 * trimmed to the last @history per device. Returns 0, or a negative errno
 * as store_db_open (-ENOSPC for a full disk) with @err, and nothing of the
 * batch written. */
int store_db_write(struct store_db *db, const struct store_item *items, size_t n,
                   const struct fleet_event *events, unsigned history, char *err, size_t len);

/* Reads back the @max most recently seen devices, least recent first, each
 * with its last @history events (oldest first), and calls @cb for each;
 * @cb returns 0 to go on or a negative errno to stop, which is returned.
 * Rows otad would not have written are skipped. Returns 0 or a negative
 * errno (with @err). */
int store_db_restore(struct store_db *db, unsigned max, unsigned history,
                     int (*cb)(void *cls, const struct fleet_device *d,
                               const struct fleet_event *events, size_t n),
                     void *cls, char *err, size_t len);

#endif

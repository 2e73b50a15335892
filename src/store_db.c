/* SPDX-License-Identifier: MIT */
/* devices.db: the schema, the statements, a batch in one transaction, and
 * the read back. Names (states, statuses, reasons) are stored as the text
 * of the API so that the file reads well in sqlite3(1) and survives a
 * reordering of the enums. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_db.h"

/* A writer of another process holding the file (a second otad on the same
 * state_dir) is waited for this long, by the writer thread only. */
#define BUSY_TIMEOUT_MS 2000

/* The columns of devices, in the order of every statement below. */
#define DEVICE_COLUMNS                                                                   \
    "id, by_address, address, firmware, first_seen_ms, last_seen_ms, installed, offered, " \
    "state, blocks_total, blocks_served, bytes, rate, download_started_ms, report_at_ms, " \
    "report_status, report_reason, report_version, seq"
#define EVENT_COLUMNS "at_ms, kind, state, status, reason, version"

/* In one transaction with its version, so that a crash leaves none or all. */
static const char schema[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS devices ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " by_address INTEGER NOT NULL,"
    " address TEXT NOT NULL,"
    " firmware TEXT NOT NULL,"
    " first_seen_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL,"
    " installed INTEGER,"               /* NULL: it never said */
    " offered INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " blocks_total INTEGER NOT NULL,"
    " blocks_served INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " rate INTEGER NOT NULL,"
    " download_started_ms INTEGER NOT NULL,"
    " report_at_ms INTEGER,"            /* the four NULL: no report yet */
    " report_status TEXT,"
    " report_reason TEXT,"
    " report_version INTEGER,"
    " seq INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS devices_last_seen ON devices(last_seen_ms);"
    "CREATE TABLE IF NOT EXISTS events ("
    " n INTEGER PRIMARY KEY,"           /* the order they were written in */
    " device TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"              /* 'state' or 'report' */
    " state TEXT, status TEXT, reason TEXT,"
    " version INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_device ON events(device, n);"
    "PRAGMA user_version = 1;"
    "COMMIT;";
_Static_assert(STORE_DB_VERSION == 1, "the schema above writes its version");

enum { S_BEGIN, S_COMMIT, S_ROLLBACK, S_UPSERT, S_EVENT, S_TRIM, S_DEVICES, S_EVENTS, S_COUNT };

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_UPSERT] = "INSERT INTO devices (" DEVICE_COLUMNS ") VALUES "
                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                 "?18, ?19) ON CONFLICT (id) DO UPDATE SET by_address = ?2, address = ?3, "
                 "firmware = ?4, first_seen_ms = min(first_seen_ms, ?5), last_seen_ms = ?6, "
                 "installed = ?7, offered = ?8, state = ?9, blocks_total = ?10, "
                 "blocks_served = ?11, bytes = ?12, rate = ?13, download_started_ms = ?14, "
                 "report_at_ms = ?15, report_status = ?16, report_reason = ?17, "
                 "report_version = ?18, seq = ?19",
    [S_EVENT] = "INSERT INTO events (device, " EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Everything of the device older than its @history newest. */
    [S_TRIM] = "DELETE FROM events WHERE device = ?1 AND n <= (SELECT n FROM events WHERE "
               "device = ?1 ORDER BY n DESC LIMIT 1 OFFSET ?2)",
    [S_DEVICES] = "SELECT " DEVICE_COLUMNS " FROM (SELECT * FROM devices ORDER BY last_seen_ms "
                  "DESC LIMIT ?1) ORDER BY last_seen_ms",
    [S_EVENTS] = "SELECT " EVENT_COLUMNS " FROM events WHERE device = ?1 ORDER BY n DESC LIMIT ?2",
};

struct store_db {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
};

/* The errno for SQLite's result @rc, with its message in @err. */
static int db_error(sqlite3 *db, int rc, char *err, size_t len)
{
    int e = db != NULL ? sqlite3_system_errno(db) : 0;

    snprintf(err, len, "%s", db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (e > 0 && e != ENOENT)
        snprintf(err + strlen(err), len - strlen(err), " (%s)", strerror(e));
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    default:
        return e > 0 ? -e : -EIO;
    }
}

/* Runs @text, which returns at most one row, into @row (NULL: none kept). */
static int exec_row(sqlite3 *db, const char *text, char *row, size_t rowlen, char *err,
                    size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, text, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (row != NULL)
                snprintf(row, rowlen, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : db_error(db, rc, err, len);
}

/* Runs @text, whose one row must be @want: else @bad, with the row in @err. */
static int expect_row(sqlite3 *db, const char *text, const char *want, int bad, char *err,
                      size_t len)
{
    char row[64] = "";
    int r = exec_row(db, text, row, sizeof(row), err, len);

    if (r == 0 && strcmp(row, want) != 0) {
        snprintf(err, len, "%s: %s", text, row);
        r = bad;
    }
    return r;
}

/* The settings of every connection, the check, and the schema. */
static int db_prepare(sqlite3 *db, char *err, size_t len)
{
    char row[64] = "";
    int r, version;

    if (sqlite3_db_readonly(db, "main") == 1) {
        snprintf(err, len, "the file can only be read");
        return -EROFS;
    }
    r = expect_row(db, "PRAGMA journal_mode = WAL", "wal", -EIO, err, len);
    if (r == 0)
        r = exec_row(db, "PRAGMA synchronous = NORMAL", NULL, 0, err, len);
    if (r == 0)
        r = expect_row(db, "PRAGMA quick_check", "ok", -EBADMSG, err, len);
    if (r == 0)
        r = exec_row(db, "PRAGMA user_version", row, sizeof(row), err, len);
    if (r < 0)
        return r;
    version = atoi(row);
    if (version > STORE_DB_VERSION) {
        snprintf(err, len, "schema version %d, newer than this otad's %d", version,
                 STORE_DB_VERSION);
        return -EPROTO;
    }
    if (version == STORE_DB_VERSION)
        return 0;
    r = sqlite3_exec(db, schema, NULL, NULL, NULL);
    if (r == SQLITE_OK)
        return 0;
    r = db_error(db, r, err, len);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int store_db_open(const char *path, struct store_db **ret, char *err, size_t len)
{
    struct store_db *s;
    int r, rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    /* One thread at a time uses the connection: SQLite's own locks are not
     * needed on it. */
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = db_error(s->db, rc, err, len);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    r = db_prepare(s->db, err, len);
    for (int i = 0; r == 0 && i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK)
            r = db_error(s->db, rc, err, len);
    }
    if (r < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    store_db_close(s);
    return r;
}

void store_db_close(struct store_db *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

/* Steps @st, which returns no row, and resets it. */
static int step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc;
}

static void bind_name(sqlite3_stmt *st, int col, const char *name)
{
    if (name != NULL && name[0] != '\0')
        sqlite3_bind_text(st, col, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static int upsert(struct store_db *s, const struct fleet_device *d)
{
    sqlite3_stmt *st = s->st[S_UPSERT];
    const struct fleet_event *e = &d->last_report;

    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, d->by_address);
    sqlite3_bind_text(st, 3, d->address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->firmware, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, d->first_seen_ms);
    sqlite3_bind_int64(st, 6, d->last_seen_ms);
    if (d->has_installed)
        sqlite3_bind_int64(st, 7, d->installed);
    sqlite3_bind_int64(st, 8, d->offered);
    sqlite3_bind_text(st, 9, fleet_state_name(d->state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, d->blocks_total);
    sqlite3_bind_int64(st, 11, d->blocks_served);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)d->bytes);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)d->rate);
    sqlite3_bind_int64(st, 14, d->download_started_ms);
    if (d->has_report) {
        sqlite3_bind_int64(st, 15, e->at_ms);
        bind_name(st, 16, fleet_status_name(e->status));
        bind_name(st, 17, e->reason != FLEET_REASON_NONE ? fleet_reason_name(e->reason) : NULL);
        sqlite3_bind_int64(st, 18, e->version);
    }
    sqlite3_bind_int64(st, 19, (sqlite3_int64)d->seq);
    return step(st);
}

static int add_event(struct store_db *s, const char *id, const struct fleet_event *e)
{
    sqlite3_stmt *st = s->st[S_EVENT];

    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e->at_ms);
    sqlite3_bind_text(st, 3, e->is_report ? "report" : "state", -1, SQLITE_STATIC);
    if (e->is_report) {
        bind_name(st, 5, fleet_status_name(e->status));
        bind_name(st, 6, e->reason != FLEET_REASON_NONE ? fleet_reason_name(e->reason) : NULL);
    } else {
        bind_name(st, 4, fleet_state_name(e->state));
    }
    sqlite3_bind_int64(st, 7, e->version);
    return step(st);
}

static int trim(struct store_db *s, const char *id, unsigned history)
{
    sqlite3_stmt *st = s->st[S_TRIM];

    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, history);
    return step(st);
}

static int write_item(struct store_db *s, const struct store_item *it,
                      const struct fleet_event *events, unsigned history)
{
    int rc = upsert(s, &it->d);

    for (size_t i = it->first; rc == 0 && i < it->first + it->n; i++)
        rc = add_event(s, it->d.id, &events[i]);
    if (rc == 0 && it->n > 0)
        rc = trim(s, it->d.id, history);
    return rc;
}

int store_db_write(struct store_db *s, const struct store_item *items, size_t n,
                   const struct fleet_event *events, unsigned history, char *err, size_t len)
{
    int rc, r;

    rc = step(s->st[S_BEGIN]);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = write_item(s, &items[i], events, history);
    if (rc == 0)
        rc = step(s->st[S_COMMIT]);
    if (rc == 0)
        return 0;
    r = db_error(s->db, rc, err, len);
    if (!sqlite3_get_autocommit(s->db))
        step(s->st[S_ROLLBACK]);
    return r;
}

/* The column @col of the row of @st into @dst (@size bytes): false when it
 * is NULL or too long to be one otad wrote. */
static bool copy_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);

    if (t == NULL || n >= size)
        return false;
    memcpy(dst, t, n + 1);
    return true;
}

/* The value whose name is the text of column @col, among @count named by
 * @name; -1 for NULL, -2 for a name none has. */
static int column_enum(sqlite3_stmt *st, int col, const char *(*name)(unsigned), unsigned count)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    if (t == NULL)
        return -1;
    for (unsigned i = 0; i < count; i++)
        if (strcmp(t, name(i)) == 0)
            return (int)i;
    return -2;
}

static const char *state_name(unsigned i)
{
    return fleet_state_name((enum fleet_state)i);
}

static const char *status_name(unsigned i)
{
    return fleet_status_name((enum fleet_status)i);
}

static const char *reason_name(unsigned i)
{
    return fleet_reason_name((enum fleet_reason)i);
}

/* A report's status (column @col) and reason (@col + 1) into @e. */
static bool read_report(sqlite3_stmt *st, int col, struct fleet_event *e)
{
    int status = column_enum(st, col, status_name, FLEET_STATUSES);
    int reason = column_enum(st, col + 1, reason_name, FLEET_REASONS);

    if (status < 0 || reason == -2)
        return false;
    e->is_report = true;
    e->status = (uint8_t)status;
    e->reason = (uint8_t)(reason < 0 ? FLEET_REASON_NONE : reason);
    return true;
}

/* The row of S_DEVICES into @d: false if otad would not have written it. */
static bool read_device(sqlite3_stmt *st, struct fleet_device *d)
{
    int state = column_enum(st, 8, state_name, FLEET_STATES);

    memset(d, 0, sizeof(*d));
    if (!copy_text(st, 0, d->id, sizeof(d->id)) ||
        !copy_text(st, 2, d->address, sizeof(d->address)) ||
        !copy_text(st, 3, d->firmware, sizeof(d->firmware)) || state < 0)
        return false;
    d->by_address = sqlite3_column_int(st, 1) != 0;
    d->first_seen_ms = sqlite3_column_int64(st, 4);
    d->last_seen_ms = sqlite3_column_int64(st, 5);
    d->has_installed = sqlite3_column_type(st, 6) != SQLITE_NULL;
    d->installed = (uint32_t)sqlite3_column_int64(st, 6);
    d->offered = (uint32_t)sqlite3_column_int64(st, 7);
    d->state = (enum fleet_state)state;
    d->blocks_total = (uint32_t)sqlite3_column_int64(st, 9);
    d->blocks_served = (uint32_t)sqlite3_column_int64(st, 10);
    d->bytes = (uint64_t)sqlite3_column_int64(st, 11);
    d->rate = (uint64_t)sqlite3_column_int64(st, 12);
    d->download_started_ms = sqlite3_column_int64(st, 13);
    d->has_report = sqlite3_column_type(st, 14) != SQLITE_NULL;
    if (d->has_report) {
        d->last_report.at_ms = sqlite3_column_int64(st, 14);
        d->last_report.version = (uint32_t)sqlite3_column_int64(st, 17);
        if (!read_report(st, 15, &d->last_report))
            return false;
    }
    d->seq = (uint64_t)sqlite3_column_int64(st, 18);
    return true;
}

/* The row of S_EVENTS into @e. */
static bool read_event(sqlite3_stmt *st, struct fleet_event *e)
{
    const char *kind = (const char *)sqlite3_column_text(st, 1);
    int state;

    memset(e, 0, sizeof(*e));
    e->at_ms = sqlite3_column_int64(st, 0);
    e->version = (uint32_t)sqlite3_column_int64(st, 5);
    if (kind != NULL && strcmp(kind, "report") == 0)
        return read_report(st, 3, e);
    state = column_enum(st, 2, state_name, FLEET_STATES);
    e->state = (uint8_t)state;
    return kind != NULL && strcmp(kind, "state") == 0 && state >= 0;
}

/* The last @history events of @id into @events, oldest first. */
static int read_events(struct store_db *s, const char *id, unsigned history,
                       struct fleet_event *events, size_t *ret_n)
{
    sqlite3_stmt *st = s->st[S_EVENTS];
    size_t n = 0;
    int rc;

    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, history);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < history)
        if (read_event(st, &events[history - 1 - n]))
            n++;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    /* Newest first from the query, filled from the end: move to the start. */
    memmove(events, events + (history - n), n * sizeof(*events));
    *ret_n = n;
    return 0;
}

int store_db_restore(struct store_db *s, unsigned max, unsigned history,
                     int (*cb)(void *cls, const struct fleet_device *d,
                               const struct fleet_event *events, size_t n),
                     void *cls, char *err, size_t len)
{
    sqlite3_stmt *st = s->st[S_DEVICES];
    struct fleet_event *events = NULL;
    struct fleet_device d;
    size_t n = 0;
    int rc = SQLITE_OK, r = 0;

    if (history > 0) {
        events = calloc(history, sizeof(*events));
        if (events == NULL)
            return -ENOMEM;
    }
    /* One read transaction: the rows are of one moment. */
    rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    sqlite3_bind_int64(st, 1, max);
    while (rc == SQLITE_OK && r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        if (!read_device(st, &d))
            continue;
        n = 0;
        if (history > 0)
            rc = read_events(s, d.id, history, events, &n);
        if (rc == SQLITE_OK)
            r = cb(cls, &d, events, n);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK && r == 0)
        r = db_error(s->db, rc, err, len);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    free(events);
    return r;
}

/* SPDX-License-Identifier: MIT */
/* The store against a real SQLite file in a temporary directory. What it
 * wrote is read here with SQLite's own API, and what it restores is
 * compared with rows this test wrote itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "store.h"

#include "helpers.h"

/* 2023-11-14T22:13:20Z, a time of the kind the registry holds. */
#define T0 INT64_C(1700000000000)

struct said {
    unsigned warnings, infos;
    char warning[768], last[768];   /* the last warning, the last of all */
};

/* What the store said, for the test running (one at a time). */
static struct said *said;

static void record(enum log_level level, const char *fmt, ...)
{
    char text[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (level == LOG_LEVEL_WARNING) {
        said->warnings++;
        snprintf(said->warning, sizeof(said->warning), "%s", text);
    } else {
        said->infos++;
    }
    snprintf(said->last, sizeof(said->last), "%s", text);
}

struct env {
    char *tmp;
    char path[512];   /* tmp/devices.db */
    struct fleet *fleet;
    struct store *store;
    struct said said;
};

static struct fleet *make_fleet(unsigned max_devices, unsigned history)
{
    struct fleet *f = NULL;

    assert_int_equal(fleet_new(&(struct fleet_options){.track = true,
                                                       .max_devices = max_devices,
                                                       .history = history,
                                                       .stall_seconds = 60},
                               &f),
                     0);
    return f;
}

/* A store on env->tmp into env->fleet (a new registry). */
static void open_store(struct env *e, unsigned max_devices, unsigned history)
{
    e->fleet = make_fleet(max_devices == 0 ? 16 : max_devices, history);
    assert_int_equal(store_open(&(struct store_options){.dir = e->tmp,
                                                        .max_devices = max_devices,
                                                        .history = history},
                                e->fleet, record, &e->store),
                     0);
}

static void close_store(struct env *e)
{
    store_stop(e->store);
    fleet_free(e->fleet);
    e->store = NULL;
    e->fleet = NULL;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    e->tmp = tmpdir_create();
    snprintf(e->path, sizeof(e->path), "%s/devices.db", e->tmp);
    said = &e->said;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    store_stop(e->store);
    fleet_free(e->fleet);
    chmod(e->tmp, 0700);
    tmpdir_remove(e->tmp);
    free(e);
    return 0;
}

/* Runs @sql on the file at @path with a connection of this test. */
static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* The single integer (or text, into @text) answer of @sql on @path. */
static int64_t sql_value(const char *path, const char *sql, char *text, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
        if (text != NULL)
            snprintf(text, len, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "NULL");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int64_t sql_int(const char *path, const char *fmt, ...)
{
    char sql[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return sql_value(path, sql, NULL, 0);
}

/* A device asks for the header of "app" (4 blocks, version 7). */
static void header(struct fleet *f, const char *id, const char *address, int64_t at)
{
    struct fleet_tag *tag = NULL;

    assert_int_equal(fleet_header(f, &tag, id, address, "app", 3, 7, true, 5, 4, at), 0);
    fleet_tag_free(tag);
}

static void block(struct fleet *f, const char *id, const char *address, uint32_t n, int64_t at)
{
    struct fleet_tag *tag = NULL;

    assert_int_equal(fleet_header(f, &tag, id, address, "app", 3, 7, true, 5, 4, at), 0);
    fleet_block(f, &tag, address, "app", 3, n, 4, 260, at);
    fleet_tag_free(tag);
}

static void assert_device_equal(const struct fleet_device *a, const struct fleet_device *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->by_address, b->by_address);
    assert_string_equal(a->address, b->address);
    assert_string_equal(a->firmware, b->firmware);
    assert_int_equal(a->first_seen_ms, b->first_seen_ms);
    assert_int_equal(a->last_seen_ms, b->last_seen_ms);
    assert_int_equal(a->has_installed, b->has_installed);
    if (a->has_installed)
        assert_int_equal(a->installed, b->installed);
    assert_int_equal(a->offered, b->offered);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->blocks_total, b->blocks_total);
    assert_int_equal(a->blocks_served, b->blocks_served);
    assert_int_equal(a->bytes, b->bytes);
    assert_int_equal(a->rate, b->rate);
    assert_int_equal(a->download_started_ms, b->download_started_ms);
    assert_int_equal(a->has_report, b->has_report);
    if (a->has_report) {
        assert_int_equal(a->last_report.at_ms, b->last_report.at_ms);
        assert_true(b->last_report.is_report);
        assert_int_equal(a->last_report.status, b->last_report.status);
        assert_int_equal(a->last_report.reason, b->last_report.reason);
        assert_int_equal(a->last_report.version, b->last_report.version);
    }
}

static void assert_event_equal(const struct fleet_event *a, const struct fleet_event *b)
{
    assert_int_equal(a->at_ms, b->at_ms);
    assert_int_equal(a->is_report, b->is_report);
    if (a->is_report) {
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->reason, b->reason);
    } else {
        assert_int_equal(a->state, b->state);
    }
    assert_int_equal(a->version, b->version);
}

/* Makes the schema (a store opened and closed on the empty directory). */
static void make_schema(struct env *e)
{
    open_store(e, 16, 10);
    assert_true(e->said.warnings == 0);
    close_store(e);
}

/* A row this test wrote comes back into the registry, every field of it,
 * with its events oldest first. */
static void test_restore_every_field(void **state)
{
    struct env *e = *state;
    struct fleet_device d;
    struct fleet_event ev[8];
    size_t n = 0;

    make_schema(e);
    sql_exec(e->path,
             "INSERT INTO devices VALUES ('stm32-0042', 0, '192.0.2.7', 'app', 1700000000000,"
             " 1700000005000, 6, 7, 'downloading', 1792, 900, 234000, 46800, 1700000001000,"
             " 1700000004000, 'failed', 'crc', 7, 12);"
             "INSERT INTO devices VALUES ('192.0.2.8', 1, '192.0.2.8', 'boot', 1700000000500,"
             " 1700000000600, NULL, 3, 'checking', 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 2);"
             "INSERT INTO events (device, at_ms, kind, state, status, reason, version) VALUES"
             " ('stm32-0042', 1700000000000, 'state', 'checking', NULL, NULL, 7),"
             " ('stm32-0042', 1700000001000, 'state', 'downloading', NULL, NULL, 7),"
             " ('stm32-0042', 1700000004000, 'report', NULL, 'failed', 'crc', 7),"
             " ('192.0.2.8', 1700000000500, 'state', 'checking', NULL, NULL, 3);");
    open_store(e, 16, 10);
    assert_int_equal(e->said.warnings, 0);

    assert_int_equal(fleet_get(e->fleet, "stm32-0042", &d, ev, 8, &n), 0);
    assert_string_equal(d.id, "stm32-0042");
    assert_false(d.by_address);
    assert_string_equal(d.address, "192.0.2.7");
    assert_string_equal(d.firmware, "app");
    assert_int_equal(d.first_seen_ms, T0);
    assert_int_equal(d.last_seen_ms, T0 + 5000);
    assert_true(d.has_installed);
    assert_int_equal(d.installed, 6);
    assert_int_equal(d.offered, 7);
    assert_int_equal(d.state, FLEET_DOWNLOADING);
    assert_int_equal(d.blocks_total, 1792);
    assert_int_equal(d.blocks_served, 900);
    assert_int_equal(d.bytes, 234000);
    assert_int_equal(d.rate, 46800);
    assert_int_equal(d.download_started_ms, T0 + 1000);
    assert_true(d.has_report);
    assert_true(d.last_report.is_report);
    assert_int_equal(d.last_report.at_ms, T0 + 4000);
    assert_int_equal(d.last_report.status, FLEET_REPORT_FAILED);
    assert_int_equal(d.last_report.reason, FLEET_REASON_CRC);
    assert_int_equal(d.last_report.version, 7);
    assert_int_equal(n, 3);
    assert_false(ev[0].is_report);
    assert_int_equal(ev[0].at_ms, T0);
    assert_int_equal(ev[0].state, FLEET_CHECKING);
    assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
    assert_int_equal(ev[1].at_ms, T0 + 1000);
    assert_true(ev[2].is_report);
    assert_int_equal(ev[2].status, FLEET_REPORT_FAILED);
    assert_int_equal(ev[2].reason, FLEET_REASON_CRC);
    assert_int_equal(ev[2].version, 7);

    assert_int_equal(fleet_get(e->fleet, "192.0.2.8", &d, ev, 8, &n), 0);
    assert_true(d.by_address);
    assert_false(d.has_installed);
    assert_false(d.has_report);
    assert_int_equal(d.state, FLEET_CHECKING);
    assert_int_equal(d.offered, 3);
    assert_int_equal(n, 1);
    assert_string_equal(e->said.warning, "");
    assert_non_null(strstr(e->said.last, "2 devices read back"));
}

static int64_t now_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A device the registry made is written as it is in memory, and read back
 * the same after a restart. */
static void test_write_and_read_back(void **state)
{
    struct env *e = *state;
    struct fleet_device mem, back;
    struct fleet_event ev[16], ev_back[16];
    size_t n = 0, n_back = 0;
    char text[256];

    /* Near the wall clock, at which the last flush at stop ticks: the
     * download must not be stalled by then. */
    const int64_t t = now_wall_ms();

    open_store(e, 16, 10);
    header(e->fleet, "dev-b", "192.0.2.9", t);
    block(e->fleet, "dev-b", "192.0.2.9", 0, t + 100);
    block(e->fleet, "dev-b", "192.0.2.9", 1, t + 200);
    assert_int_equal(store_flush(e->store, t + 300), 1);
    assert_int_equal(fleet_get(e->fleet, "dev-b", &mem, ev, 16, &n), 0);
    assert_true(n >= 2); /* checking, then downloading */

    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 1);
    sql_value(e->path, "SELECT address || ' ' || firmware || ' ' || state FROM devices WHERE "
                       "id = 'dev-b'", text, sizeof(text));
    assert_string_equal(text, "192.0.2.9 app downloading");
    assert_int_equal(sql_int(e->path, "SELECT first_seen_ms FROM devices"), t);
    assert_int_equal(sql_int(e->path, "SELECT last_seen_ms FROM devices"), t + 200);
    assert_int_equal(sql_int(e->path, "SELECT installed FROM devices"), 5);
    assert_int_equal(sql_int(e->path, "SELECT offered FROM devices"), 7);
    assert_int_equal(sql_int(e->path, "SELECT blocks_total FROM devices"), 4);
    assert_int_equal(sql_int(e->path, "SELECT blocks_served FROM devices"), 2);
    assert_int_equal(sql_int(e->path, "SELECT bytes FROM devices"), (int64_t)mem.bytes);
    assert_int_equal(sql_int(e->path, "SELECT rate FROM devices"), (int64_t)mem.rate);
    assert_int_equal(sql_int(e->path, "SELECT download_started_ms FROM devices"),
                     mem.download_started_ms);
    assert_int_equal(sql_int(e->path, "SELECT report_at_ms IS NULL FROM devices"), 1);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM events WHERE device = 'dev-b'"),
                     (int64_t)n);
    sql_value(e->path, "SELECT kind || ' ' || state FROM events ORDER BY n LIMIT 1", text,
              sizeof(text));
    assert_string_equal(text, "state checking");
    assert_int_equal(sql_int(e->path, "SELECT at_ms FROM events ORDER BY n LIMIT 1"), t);
    /* Nothing changed: nothing to write. */
    assert_int_equal(store_flush(e->store, t + 1300), 0);
    close_store(e);

    open_store(e, 16, 10);
    assert_int_equal(fleet_get(e->fleet, "dev-b", &back, ev_back, 16, &n_back), 0);
    assert_device_equal(&mem, &back);
    assert_int_equal(n_back, n);
    for (size_t i = 0; i < n; i++)
        assert_event_equal(&ev[i], &ev_back[i]);
    /* Restored devices are not written again unless they change. */
    assert_int_equal(store_flush(e->store, t + 2300), 0);
}

/* A report, its reason and its event reach the file. */
static void test_report_written(void **state)
{
    static const char body[] = "status=failed&version=7&reason=signature";
    struct env *e = *state;
    struct fleet_report_result res;
    struct fleet_tag *tag = NULL;
    char text[256];

    open_store(e, 16, 10);
    header(e->fleet, "dev-r", "192.0.2.10", T0);
    fleet_report(e->fleet, &tag, "dev-r", "192.0.2.10", "app", 3, true, body, strlen(body),
                 T0 + 500, &res);
    fleet_tag_free(tag);
    assert_int_equal(res.status, 204);
    assert_int_equal(store_flush(e->store, T0 + 600), 1);
    sql_value(e->path, "SELECT report_status || ' ' || report_reason || ' ' || report_version "
                       "|| ' ' || report_at_ms FROM devices", text, sizeof(text));
    assert_string_equal(text, "failed signature 7 1700000000500");
    sql_value(e->path, "SELECT status || ' ' || reason FROM events WHERE kind = 'report'", text,
              sizeof(text));
    assert_string_equal(text, "failed signature");
}

/* A device that left memory and came back keeps its first sighting in the
 * file: the upsert keeps the earliest. */
static void test_first_seen_kept(void **state)
{
    struct env *e = *state;

    make_schema(e);
    sql_exec(e->path,
             "INSERT INTO devices VALUES ('dev-f', 0, '192.0.2.11', 'app', 1600000000000,"
             " 1600000001000, 5, 7, 'checking', 4, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 1)");
    /* Nothing read back: the registry knows the device from now only. */
    open_store(e, 0, 10);
    header(e->fleet, "dev-f", "192.0.2.12", T0);
    assert_int_equal(store_flush(e->store, T0 + 100), 1);
    assert_int_equal(sql_int(e->path, "SELECT first_seen_ms FROM devices"), INT64_C(1600000000000));
    assert_int_equal(sql_int(e->path, "SELECT last_seen_ms FROM devices"), T0);
    assert_int_equal(sql_int(e->path, "SELECT address = '192.0.2.12' FROM devices"), 1);
}

/* Events beyond fleet.history per device are trimmed, the newest kept,
 * across flushes and within one. */
static void test_history_trimmed(void **state)
{
    static const char *const bodies[] = {"status=downloading", "status=downloaded",
                                         "status=verified", "status=installed&version=7",
                                         "status=confirmed&version=7"};
    struct env *e = *state;
    struct fleet_report_result res;
    struct fleet_device d;
    struct fleet_event ev[8];
    char text[256];
    size_t n = 0;

    open_store(e, 16, 3);
    header(e->fleet, "dev-h", "192.0.2.13", T0);
    header(e->fleet, "dev-other", "192.0.2.14", T0);
    for (size_t i = 0; i < 5; i++) {
        struct fleet_tag *tag = NULL;

        fleet_report(e->fleet, &tag, "dev-h", "192.0.2.13", "app", 3, true, bodies[i],
                     strlen(bodies[i]), T0 + 60000 * (int64_t)(i + 1), &res);
        fleet_tag_free(tag);
        assert_int_equal(res.status, 204);
        if (i >= 2)
            assert_true(store_flush(e->store, T0 + 60000 * (int64_t)(i + 1) + 1) >= 1);
    }
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM events WHERE device = 'dev-h'"), 3);
    /* The newest three, as the registry (holding three) has them. */
    assert_int_equal(fleet_get(e->fleet, "dev-h", &d, ev, 8, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sql_int(e->path, "SELECT at_ms FROM events WHERE device = 'dev-h' "
                                          "ORDER BY n LIMIT 1 OFFSET %zu", i),
                         ev[i].at_ms);
    }
    assert_true(ev[2].is_report);
    assert_int_equal(ev[2].status, FLEET_REPORT_CONFIRMED);
    assert_int_equal(ev[2].at_ms, T0 + 300000);
    sql_value(e->path, "SELECT status FROM events WHERE device = 'dev-h' ORDER BY n DESC LIMIT 1",
              text, sizeof(text));
    assert_string_equal(text, "confirmed");
    assert_int_equal(sql_int(e->path, "SELECT min(at_ms) FROM events WHERE device = 'dev-h'"),
                     ev[0].at_ms);
    assert_true(ev[0].at_ms >= T0 + 180000);
    /* The other device's history is its own. */
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM events WHERE device = 'dev-other'"),
                     1);
}

/* The entries of @dir whose names start with @prefix. */
static unsigned count_entries(const char *dir, const char *prefix, char *found, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            if (found != NULL)
                snprintf(found, len, "%s/%s", dir, de->d_name);
            n++;
        }
    closedir(d);
    return n;
}

/* Random bytes where devices.db should be: moved aside under a name with
 * the time, one warning, and a new database that works. */
static void test_corrupt_moved_aside(void **state)
{
    struct env *e = *state;
    uint8_t junk[8192], *kept;
    char aside[1024], text[64];
    struct store_stats st;
    size_t len = 0;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7919u >> 3 ^ i);
    assert_int_equal(write_file(e->tmp, "devices.db", junk, sizeof(junk)), 0);
    open_store(e, 16, 10);
    assert_int_equal(e->said.warnings, 1);
    assert_non_null(strstr(e->said.warning, "moved aside"));
    assert_int_equal(count_entries(e->tmp, "devices.db.corrupt-", aside, sizeof(aside)), 1);
    /* devices.db.corrupt-YYYYMMDDTHHMMSSZ */
    assert_int_equal(strlen(strrchr(aside, '/') + 1), strlen("devices.db.corrupt-") + 16);
    assert_int_equal(aside[strlen(aside) - 1], 'Z');
    assert_int_equal(aside[strlen(aside) - 8], 'T');
    kept = read_file(aside, &len);
    assert_non_null(kept);
    assert_int_equal(len, sizeof(junk));
    assert_memory_equal(kept, junk, sizeof(junk));
    free(kept);
    store_stats(e->store, &st);
    assert_true(st.persistent);
    header(e->fleet, "dev-c", "192.0.2.15", T0);
    assert_int_equal(store_flush(e->store, T0 + 100), 1);
    sql_value(e->path, "PRAGMA integrity_check", text, sizeof(text));
    assert_string_equal(text, "ok");
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices WHERE id = 'dev-c'"), 1);
    assert_int_equal(sql_int(e->path, "PRAGMA user_version"), 1);
}

static void count_drained(void *cls, const struct fleet_device *d,
                          const struct fleet_event *events, size_t n)
{
    (void)cls;
    (void)d;
    (void)events;
    (void)n;
}

/* A state_dir that cannot be made (its parent is a regular file: even
 * root cannot write there): one warning, then memory only, where the
 * registry still ticks, so a download with no request becomes stalled. */
static void test_unwritable_memory_only(void **state)
{
    struct env *e = *state;
    struct fleet_device d;
    struct store_stats st;
    char dir[600];
    size_t n;

    assert_int_equal(write_file(e->tmp, "file", "x", 1), 0);
    snprintf(dir, sizeof(dir), "%s/file/state", e->tmp);
    assert_int_equal(fleet_new(&(struct fleet_options){.track = true, .max_devices = 16,
                                                       .history = 10, .stall_seconds = 1},
                               &e->fleet),
                     0);
    assert_int_equal(store_open(&(struct store_options){.dir = dir, .max_devices = 16,
                                                        .history = 10},
                                e->fleet, record, &e->store),
                     0);
    assert_int_equal(e->said.warnings, 1);
    assert_non_null(strstr(e->said.warning, "Not a directory"));
    assert_non_null(strstr(e->said.warning, "memory only"));
    store_stats(e->store, &st);
    assert_false(st.persistent);
    block(e->fleet, "dev-m", "192.0.2.16", 0, T0);
    assert_int_equal(store_flush(e->store, T0 + 500), 0);
    assert_int_equal(fleet_get(e->fleet, "dev-m", &d, NULL, 0, &n), 0);
    assert_int_equal(d.state, FLEET_DOWNLOADING);
    assert_int_equal(store_flush(e->store, T0 + 2500), 0);
    assert_int_equal(fleet_get(e->fleet, "dev-m", &d, NULL, 0, &n), 0);
    assert_int_equal(d.state, FLEET_STALLED);
    /* The changes are drained still, or the registry would keep every
     * device that left memory: none is left to drain after a flush. */
    for (int i = 0; i < 100; i++) {
        char id[16];

        snprintf(id, sizeof(id), "churn-%d", i);
        header(e->fleet, id, "192.0.2.17", T0 + 3000 + i);
    }
    assert_int_equal(store_flush(e->store, T0 + 4000), 0);
    assert_int_equal(fleet_drain(e->fleet, 1000, count_drained, NULL), 0);
    assert_int_equal(e->said.warnings, 1);
}

/* A state_dir that is a regular file, and (when not root, where modes
 * count) a directory of mode 0500: the same. */
static void test_state_dir_not_writable(void **state)
{
    struct env *e = *state;
    char path[600];

    assert_int_equal(write_file(e->tmp, "plain", "x", 1), 0);
    snprintf(path, sizeof(path), "%s/plain", e->tmp);
    e->fleet = make_fleet(16, 10);
    assert_int_equal(store_open(&(struct store_options){.dir = path, .max_devices = 16,
                                                        .history = 10},
                                e->fleet, record, &e->store),
                     0);
    assert_int_equal(e->said.warnings, 1);
    assert_non_null(strstr(e->said.warning, "memory only"));
    store_stop(e->store);
    e->store = NULL;
    if (geteuid() == 0)
        return;
    assert_int_equal(chmod(e->tmp, 0500), 0);
    assert_int_equal(store_open(&(struct store_options){.dir = e->tmp, .max_devices = 16,
                                                        .history = 10},
                                e->fleet, record, &e->store),
                     0);
    assert_int_equal(e->said.warnings, 2);
    assert_non_null(strstr(e->said.warning, "memory only"));
}

/* A file of a newer schema is left as it is: memory only, one warning. */
static void test_newer_schema_left_alone(void **state)
{
    struct env *e = *state;
    struct store_stats st;

    make_schema(e);
    sql_exec(e->path, "PRAGMA user_version = 2;"
                      "INSERT INTO devices VALUES ('dev-n', 0, '192.0.2.50', 'app', 1, 2, 5, 7,"
                      " 'checking', 4, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 1)");
    open_store(e, 16, 10);
    assert_int_equal(e->said.warnings, 1);
    assert_non_null(strstr(e->said.warning, "schema version 2"));
    assert_non_null(strstr(e->said.warning, "memory only"));
    store_stats(e->store, &st);
    assert_false(st.persistent);
    assert_int_equal(fleet_get(e->fleet, "dev-n", &(struct fleet_device){0}, NULL, 0,
                               &(size_t){0}),
                     -ENOENT);
    header(e->fleet, "dev-x", "192.0.2.51", T0);
    store_stop(e->store);
    e->store = NULL;
    assert_int_equal(sql_int(e->path, "PRAGMA user_version"), 2);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 1);
    assert_int_equal(count_entries(e->tmp, "devices.db.corrupt-", NULL, 0), 0);
}

/* The most recently seen devices are read back, up to max_devices, the
 * least recent first: a new device then pushes out the least recent. */
static void test_restore_order_and_limit(void **state)
{
    static const char *const gone[] = {"d1", "d3", "d4"}, *const kept[] = {"d5", "d2", "new"};
    struct env *e = *state;
    struct fleet_device d;
    char sql[2048] = "";
    size_t n;

    make_schema(e);
    for (int i = 1; i <= 5; i++)
        snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
                 "INSERT INTO devices VALUES ('d%d', 0, '192.0.2.%d', 'app', %lld, %lld, 5, 7,"
                 " 'checking', 4, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 1);",
                 i, i, (long long)(T0 + i * 1000), (long long)(T0 + i * 1000));
    sql_exec(e->path, sql);
    /* The order is that of last_seen_ms, not of the rows: d2 is the newest. */
    sql_exec(e->path, "UPDATE devices SET last_seen_ms = 1700000009000 WHERE id = 'd2'");
    open_store(e, 3, 10);
    assert_int_equal(e->said.warnings, 0);
    assert_non_null(strstr(e->said.last, "3 devices read back"));
    assert_int_equal(fleet_get(e->fleet, "d1", &d, NULL, 0, &n), -ENOENT);
    assert_int_equal(fleet_get(e->fleet, "d3", &d, NULL, 0, &n), -ENOENT);
    assert_int_equal(fleet_get(e->fleet, "d4", &d, NULL, 0, &n), 0);
    assert_int_equal(fleet_get(e->fleet, "d2", &d, NULL, 0, &n), 0);
    assert_int_equal(d.last_seen_ms, T0 + 9000);
    header(e->fleet, "new", "192.0.2.20", T0 + 10000);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fleet_get(e->fleet, gone[i], &d, NULL, 0, &n), -ENOENT);
        assert_int_equal(fleet_get(e->fleet, kept[i], &d, NULL, 0, &n), 0);
    }
    /* Left memory, still in the file. */
    assert_int_equal(store_flush(e->store, T0 + 10100), 1);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 6);
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* A write that fails (files may not grow, as on a full disk): one warning
 * however often it fails, the batch kept, bounded by drain_max, and all of
 * it written once writing works again. */
static void test_write_error_retried(void **state)
{
    struct env *e = *state;
    struct rlimit saved, small;
    struct store_stats st;
    char id[32], wal[600];
    int r;

    signal(SIGXFSZ, SIG_IGN);
    e->fleet = make_fleet(1000, 10);
    assert_int_equal(store_open(&(struct store_options){.dir = e->tmp, .max_devices = 1000,
                                                        .history = 10, .drain_max = 300},
                                e->fleet, record, &e->store),
                     0);
    header(e->fleet, "first", "192.0.2.1", T0);
    assert_int_equal(store_flush(e->store, T0 + 1), 1);
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "device-%04d", i);
        header(e->fleet, id, "192.0.2.2", T0 + 10 + i);
    }
    snprintf(wal, sizeof(wal), "%s-wal", e->path);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = (rlim_t)(file_size(wal) > file_size(e->path) ? file_size(wal)
                                                                   : file_size(e->path)) + 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    r = store_flush(e->store, T0 + 1000);
    assert_true(r < 0);
    r = store_flush(e->store, T0 + 2000);
    assert_true(r < 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    assert_int_equal(e->said.warnings, 1);
    assert_non_null(strstr(e->said.warning, "cannot write"));
    store_stats(e->store, &st);
    assert_int_equal(st.failures, 2);
    assert_int_equal(st.pending, 300);
    assert_true(st.persistent);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 1);

    assert_int_equal(store_flush(e->store, T0 + 3000), 300);
    assert_non_null(strstr(e->said.last, "written again"));
    assert_int_equal(store_flush(e->store, T0 + 4000), 200);
    assert_int_equal(store_flush(e->store, T0 + 5000), 0);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 501);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM events"), 501);
    sql_value(e->path, "PRAGMA integrity_check", id, sizeof(id));
    assert_string_equal(id, "ok");
    assert_int_equal(e->said.warnings, 1);
}

/* The writer thread flushes on its own, at most once a second; stopping
 * writes what changed since. */
static void test_writer_thread(void **state)
{
    struct env *e = *state;
    struct store_stats st;
    struct timespec pause = {0, 50 * 1000000};
    int64_t last = 0;

    open_store(e, 16, 10);
    assert_int_equal(store_run(e->store), 0);
    /* 2.2 s of a device asking again every 50 ms. */
    for (int i = 0; i < 44; i++) {
        last = T0 + i * 50;
        header(e->fleet, "dev-t", "192.0.2.30", last);
        nanosleep(&pause, NULL);
    }
    store_stats(e->store, &st);
    assert_true(st.flushes >= 1);
    assert_true(st.flushes <= 3);
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices WHERE id = 'dev-t'"), 1);
    header(e->fleet, "dev-t", "192.0.2.30", last + 1);
    store_stop(e->store);
    e->store = NULL;
    assert_int_equal(sql_int(e->path, "SELECT last_seen_ms FROM devices WHERE id = 'dev-t'"),
                     last + 1);
}

/* Stopping writes every changed device, in as many batches as it takes. */
static void test_stop_flushes_all(void **state)
{
    struct env *e = *state;
    char id[32];

    e->fleet = make_fleet(100, 2);
    assert_int_equal(store_open(&(struct store_options){.dir = e->tmp, .max_devices = 100,
                                                        .history = 2, .drain_max = 7},
                                e->fleet, record, &e->store),
                     0);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "s-%d", i);
        header(e->fleet, id, "192.0.2.40", T0 + i);
    }
    store_stop(e->store);
    e->store = NULL;
    assert_int_equal(sql_int(e->path, "SELECT count(*) FROM devices"), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_seen_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_trimmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_memory_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_dir_not_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_order_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_flushes_all, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

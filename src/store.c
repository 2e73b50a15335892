/* SPDX-License-Identifier: MIT */
/* The store's life: the state directory, a database that can or cannot be
 * used, a corrupt one moved aside, the batch of one flush, and the writer
 * thread. The SQL is in store_db.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "array.h"
#include "store.h"
#include "store_db.h"

#define MEMORY_ONLY "; keeping the device registry in memory only"

struct store {
    struct fleet *fleet;      /* not owned */
    store_say *say;
    char *dir, *path;         /* state_dir, state_dir/devices.db */
    unsigned max_devices, history, interval_ms;
    size_t drain_max;
    struct store_db *db;      /* NULL: memory only */

    /* The batch of a flush, kept after a failed one for the next. */
    struct store_item *items; /* drain_max of them */
    size_t nitems;
    struct fleet_event *events;
    size_t nevents, cap_events;
    bool failing;             /* the last flush failed (and said so) */

    pthread_t thread;
    bool running;
    pthread_mutex_t lock;     /* stop and stats */
    pthread_cond_t wake;
    bool stop;
    struct store_stats stats;
};

static void say(struct store *s, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct store *s, enum log_level level, const char *fmt, ...)
{
    char text[768];
    va_list ap;

    if (s->say == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    s->say(level, "%s", text);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state directory, made with mode 0750 if missing. Returns 0 or a
 * negative errno. */
static int make_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0750) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Renames @from + @suffix to @to + @suffix; a missing file is no error. */
static int rename_part(const char *from, const char *to, const char *suffix, unsigned flags)
{
    char a[PATH_MAX], b[PATH_MAX];

    if ((size_t)snprintf(a, sizeof(a), "%s%s", from, suffix) >= sizeof(a) ||
        (size_t)snprintf(b, sizeof(b), "%s%s", to, suffix) >= sizeof(b))
        return -ENAMETOOLONG;
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, flags) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Moves the corrupt file (closed) with its -wal and -shm aside to
 * devices.db.corrupt-YYYYMMDDTHHMMSSZ (then -2, -3, ... if taken), the
 * names keeping the three together for sqlite3(1). Returns 0 and the name
 * in @aside, or a negative errno. */
static int move_aside(const struct store *s, char *aside, size_t len)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    int r = -EEXIST;

    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    for (unsigned i = 1; r == -EEXIST && i < 100; i++) {
        if (i == 1)
            snprintf(aside, len, "%s.corrupt-%s", s->path, stamp);
        else
            snprintf(aside, len, "%s.corrupt-%s-%u", s->path, stamp, i);
        r = rename_part(s->path, aside, "", RENAME_NOREPLACE);
    }
    if (r == 0)
        r = rename_part(s->path, aside, "-wal", 0);
    if (r == 0)
        r = rename_part(s->path, aside, "-shm", 0);
    return r;
}

/* Opens the database into s->db, moving a corrupt one aside and starting
 * afresh; says why not when it leaves s->db NULL. */
static void open_db(struct store *s)
{
    char err[256], aside[PATH_MAX + 64];
    int r;

    r = make_dir(s->dir);
    if (r < 0) {
        say(s, LOG_LEVEL_WARNING, "state_dir %s: %s" MEMORY_ONLY, s->dir, strerror(-r));
        return;
    }
    r = store_db_open(s->path, &s->db, err, sizeof(err));
    if (r == -EBADMSG) {
        r = move_aside(s, aside, sizeof(aside));
        if (r < 0) {
            say(s, LOG_LEVEL_WARNING, "%s is corrupt (%s) and cannot be moved aside: %s"
                MEMORY_ONLY, s->path, err, strerror(-r));
            return;
        }
        say(s, LOG_LEVEL_WARNING, "%s is corrupt (%s): moved aside to %s, starting a new one",
            s->path, err, aside);
        r = store_db_open(s->path, &s->db, err, sizeof(err));
    }
    if (r < 0)
        say(s, LOG_LEVEL_WARNING, "%s: cannot be used: %s" MEMORY_ONLY, s->path, err);
}

static int restore_one(void *cls, const struct fleet_device *d, const struct fleet_event *events,
                       size_t n)
{
    struct store *s = cls;
    int r = fleet_restore(s->fleet, d, events, n);

    if (r == 0)
        s->stats.restored++;
    /* A device the registry refuses alone is skipped; a full one ends it. */
    return r == -ENOSPC || r == -ENOMEM ? r : 0;
}

static void restore(struct store *s)
{
    uint64_t t0 = mono_ns();
    char err[256] = "";
    int r;

    r = store_db_restore(s->db, s->max_devices, s->history, restore_one, s, err, sizeof(err));
    if (r < 0 && r != -ENOSPC)
        say(s, LOG_LEVEL_WARNING, "%s: reading back the devices: %s", s->path,
            err[0] != '\0' ? err : strerror(-r));
    say(s, LOG_LEVEL_INFO, "%s: %llu device%s read back in %llu ms", s->path,
        (unsigned long long)s->stats.restored, s->stats.restored == 1 ? "" : "s",
        (unsigned long long)((mono_ns() - t0) / 1000000u));
}

/* The lock and the condition the writer thread waits on, which counts in
 * the monotonic clock so that a clock step neither stalls nor hurries it. */
static int sync_init(struct store *s)
{
    pthread_condattr_t attr;
    int r;

    r = pthread_mutex_init(&s->lock, NULL);
    if (r != 0)
        return -r;
    r = pthread_condattr_init(&attr);
    if (r == 0) {
        r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (r == 0)
            r = pthread_cond_init(&s->wake, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (r != 0)
        pthread_mutex_destroy(&s->lock);
    return -r;
}

int store_open(const struct store_options *o, struct fleet *f, store_say *say_cb,
               struct store **ret)
{
    struct store *s;
    int r = -ENOMEM;

    if (f == NULL || o->dir == NULL)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->fleet = f;
    s->say = say_cb;
    s->max_devices = o->max_devices;
    s->history = o->history;
    s->drain_max = o->drain_max > 0 ? o->drain_max : STORE_DRAIN_MAX;
    s->interval_ms = o->interval_ms > 0 ? o->interval_ms : 1000;
    s->dir = strdup(o->dir);
    s->items = calloc(s->drain_max, sizeof(*s->items));
    if (s->dir == NULL || s->items == NULL ||
        asprintf(&s->path, "%s/%s", o->dir, STORE_FILE) < 0) {
        s->path = NULL;
        goto fail;
    }
    r = sync_init(s);
    if (r < 0)
        goto fail;
    open_db(s);
    if (s->db != NULL)
        restore(s);
    s->stats.persistent = s->db != NULL;
    *ret = s;
    return 0;
fail:
    free(s->items);
    free(s->path);
    free(s->dir);
    free(s);
    return r;
}

/* fleet_drain's callback: one device into the batch. Only the newest
 * @history events can outlive the trim, so only those are kept. */
static void collect(void *cls, const struct fleet_device *d, const struct fleet_event *events,
                    size_t n)
{
    struct store *s = cls;
    struct store_item *it;

    if (s->nitems >= s->drain_max)
        return; /* fleet_drain hands no more than asked */
    if (n > s->history) {
        events += n - s->history;
        n = s->history;
    }
    /* Out of memory: the device is still written, without these events. */
    if (n > 0 && array_grow(&s->events, &s->cap_events, s->nevents + n, sizeof(*events)) < 0)
        n = 0;
    it = &s->items[s->nitems++];
    it->d = *d;
    it->first = s->nevents;
    it->n = n;
    if (n > 0)
        memcpy(&s->events[s->nevents], events, n * sizeof(*events));
    s->nevents += n;
}

/* What a failed transaction (@r, @err) leaves: a corrupt file is moved
 * aside and a new one opened for the next flush; anything else is tried
 * again then, and said once until it works. */
static void failed(struct store *s, int r, const char *err)
{
    if (r == -EBADMSG) {
        store_db_close(s->db);
        s->db = NULL;
        open_db(s);
        if (s->db == NULL)
            s->nitems = s->nevents = 0;
        return;
    }
    if (!s->failing)
        say(s, LOG_LEVEL_WARNING, "%s: cannot write: %s; keeping %zu changed devices and "
            "trying again every %u ms", s->path, err, s->nitems, s->interval_ms);
    s->failing = true;
}

static void forget(void *cls, const struct fleet_device *d, const struct fleet_event *events,
                   size_t n)
{
    (void)cls;
    (void)d;
    (void)events;
    (void)n;
}

/* Memory only: the changes are drained all the same, because the registry
 * keeps a device that left memory until its changes are drained. */
static void discard_changes(struct store *s)
{
    size_t rounds = s->max_devices / s->drain_max + 2;

    for (size_t i = 0; i < rounds && fleet_drain(s->fleet, s->drain_max, forget, NULL) ==
                                         s->drain_max; i++)
        ;
}

int store_flush(struct store *s, int64_t now_ms)
{
    char err[256];
    uint64_t t0, ns;
    size_t n;
    int r;

    fleet_tick(s->fleet, now_ms);
    if (s->db == NULL) {
        discard_changes(s);
        return 0;
    }
    if (s->nitems < s->drain_max)
        fleet_drain(s->fleet, s->drain_max - s->nitems, collect, s);
    n = s->nitems;
    if (n == 0)
        return 0;
    t0 = mono_ns();
    r = store_db_write(s->db, s->items, n, s->events, s->history, err, sizeof(err));
    ns = mono_ns() - t0;
    if (r == 0 && s->failing)
        say(s, LOG_LEVEL_INFO, "%s: written again", s->path);
    if (r < 0)
        failed(s, r, err);
    pthread_mutex_lock(&s->lock);
    if (r == 0) {
        s->stats.flushes++;
        s->stats.devices_written += n;
        s->stats.events_written += s->nevents;
        s->stats.last_flush_ns = ns;
        if (ns > s->stats.max_flush_ns)
            s->stats.max_flush_ns = ns;
        s->failing = false;
        s->nitems = s->nevents = 0;
    } else {
        s->stats.failures++;
    }
    s->stats.pending = s->nitems;
    s->stats.persistent = s->db != NULL;
    pthread_mutex_unlock(&s->lock);
    return r == 0 ? (int)n : r;
}

static void add_ns(struct timespec *ts, uint64_t ns)
{
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

/* Flushes every interval_ms from the start of the one before, or right
 * after it when it took longer, until store_stop. */
static void *writer(void *arg)
{
    struct store *s = arg;
    struct timespec due;

    clock_gettime(CLOCK_MONOTONIC, &due);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        add_ns(&due, (uint64_t)s->interval_ms * 1000000u);
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &due) != ETIMEDOUT)
            ;
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->lock);
        /* A flush longer than the interval leaves the next one due at
         * once. */
        clock_gettime(CLOCK_MONOTONIC, &due);
        store_flush(s, wall_ms());
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int store_run(struct store *s)
{
    int r = pthread_create(&s->thread, NULL, writer, s);

    if (r != 0)
        return -r;
    s->running = true;
    return 0;
}

int store_start(const struct store_options *o, struct fleet *f, store_say *say_cb,
                struct store **ret)
{
    struct store *s;
    int r;

    r = store_open(o, f, say_cb, &s);
    if (r < 0)
        return r;
    r = store_run(s);
    if (r < 0) {
        store_stop(s);
        return r;
    }
    *ret = s;
    return 0;
}

void store_stop(struct store *s)
{
    /* Enough batches for every device the registry can hold. */
    size_t rounds;

    if (s == NULL)
        return;
    if (s->running) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    rounds = s->max_devices / s->drain_max + 2;
    for (size_t i = 0; i < rounds && store_flush(s, wall_ms()) >= (int)s->drain_max; i++)
        ;
    store_db_close(s->db);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->events);
    free(s->items);
    free(s->path);
    free(s->dir);
    free(s);
}

void store_stats(struct store *s, struct store_stats *ret)
{
    pthread_mutex_lock(&s->lock);
    *ret = s->stats;
    pthread_mutex_unlock(&s->lock);
}

/* SPDX-License-Identifier: MIT */
/* Does the store's writer keep up? A registry of DEVICES devices all
 * downloading at once, every one served a block every second (fleet_block),
 * and the store flushing once per such second: each flush is timed, the
 * transaction alone and with the drain. Then the cost at start of reading
 * back RESTORE devices.
 *
 *   build/src/store-flush [DEVICES [ROUNDS [RESTORE]]]   (10000 20 100000)
 *
 * Runs in a temporary directory under $TMPDIR (or /tmp), removed at the end.
 * The clock passed to the registry is simulated (a second per round), so a
 * round is as fast as the machine; what is measured is real time. */
#include <errno.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fleet.h"
#include "store.h"

#define BLOCKS 1792 /* a 448 KiB image */
#define HISTORY 100
#define T0 INT64_C(1700000000000)

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void say(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level != LOG_LEVEL_WARNING)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "store: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct fleet *new_fleet(unsigned max)
{
    struct fleet *f = NULL;

    if (fleet_new(&(struct fleet_options){.track = true, .max_devices = max,
                                          .history = HISTORY, .stall_seconds = 60},
                  &f) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return f;
}

/* Device @i asks for the header (a new download). */
static void header(struct fleet *f, unsigned i, int64_t at)
{
    struct fleet_tag *tag = NULL;
    char id[32], address[32];

    snprintf(id, sizeof(id), "bench-%07u", i);
    snprintf(address, sizeof(address), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
    fleet_header(f, &tag, id, address, "app", 3, 7, true, 6, BLOCKS, at);
    fleet_tag_free(tag);
}

static struct store *open_store(const char *dir, struct fleet *f, unsigned max)
{
    struct store *s = NULL;

    if (store_open(&(struct store_options){.dir = dir, .max_devices = max, .history = HISTORY},
                   f, say, &s) < 0) {
        fprintf(stderr, "store_open failed\n");
        exit(1);
    }
    return s;
}

static void ignore(void *cls, const struct fleet_device *d, const struct fleet_event *events,
                   size_t n)
{
    (void)cls;
    (void)d;
    (void)events;
    (void)n;
}

/* Every device served block @round on its own connection tag. */
static void flush_rounds(const char *dir, unsigned devices, unsigned rounds)
{
    struct fleet *f = new_fleet(devices);
    struct store *s = open_store(dir, f, devices);
    struct fleet_tag **tags = calloc(devices, sizeof(*tags));
    double *tx = calloc(rounds, sizeof(*tx)), *all = calloc(rounds, sizeof(*all));
    size_t most = 0, pending;
    char id[32];

    for (unsigned i = 0; i < devices; i++) {
        snprintf(id, sizeof(id), "bench-%07u", i);
        fleet_header(f, &tags[i], id, "10.0.0.1", "app", 3, 7, true, 6, BLOCKS, T0);
    }
    store_flush(s, T0 + 500);
    for (unsigned r = 0; r < rounds; r++) {
        int64_t at = T0 + 1000 * (int64_t)(r + 1);
        struct store_stats st;
        double t0;
        int n;

        for (unsigned i = 0; i < devices; i++)
            fleet_block(f, &tags[i], "10.0.0.1", "app", 3, r % BLOCKS, BLOCKS, 260, at);
        t0 = now_ms();
        n = store_flush(s, at + 1);
        all[r] = now_ms() - t0;
        store_stats(s, &st);
        tx[r] = (double)st.last_flush_ns / 1e6;
        if (n < 0) {
            fprintf(stderr, "flush %u failed: %d\n", r, n);
            exit(1);
        }
        if ((size_t)n > most)
            most = (size_t)n;
    }
    qsort(tx, rounds, sizeof(*tx), cmp);
    qsort(all, rounds, sizeof(*all), cmp);
    printf("flush: %u devices downloading, each a block a second, %u rounds\n", devices,
           rounds);
    printf("flush: transaction p50 %.1f ms, max %.1f ms; with the drain p50 %.1f ms, "
           "max %.1f ms\n",
           tx[rounds / 2], tx[rounds - 1], all[rounds / 2], all[rounds - 1]);
    pending = fleet_drain(f, devices, ignore, NULL);
    printf("flush: at most %zu devices per flush (bound %d); pending after the last: %zu\n",
           most, STORE_DRAIN_MAX, pending);
    /* Each flush must have taken every device: the writer kept up. */
    if (most != devices || pending != 0)
        exit(1);
    for (unsigned i = 0; i < devices; i++)
        fleet_tag_free(tags[i]);
    store_stop(s);
    fleet_free(f);
    free(tags);
    free(tx);
    free(all);
}

/* @devices in the file, each with a few events, then read back. */
static void restore(const char *dir, unsigned devices)
{
    struct fleet *f = new_fleet(devices);
    struct store *s = open_store(dir, f, devices);
    struct store_stats st;
    char path[4400];
    struct stat sb;
    double t0;

    t0 = now_ms();
    for (unsigned i = 0; i < devices; i++)
        header(f, i, T0 + i);
    store_stop(s); /* writes them all, in batches */
    fleet_free(f);
    printf("restore: %u devices written in %.0f ms\n", devices, now_ms() - t0);

    f = new_fleet(devices);
    t0 = now_ms();
    s = open_store(dir, f, devices);
    store_stats(s, &st);
    snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    printf("restore: %llu devices read back in %.0f ms (file %.1f MiB)\n",
           (unsigned long long)st.restored, now_ms() - t0,
           stat(path, &sb) == 0 ? (double)sb.st_size / 1048576 : 0.0);
    if (st.restored != devices)
        exit(1);
    store_stop(s);
    fleet_free(f);
}

int main(int argc, char **argv)
{
    unsigned devices = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
    unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
    unsigned restored = argc > 3 ? (unsigned)atoi(argv[3]) : 100000;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], sub[4200];

    if (devices == 0 || rounds == 0) {
        fprintf(stderr, "usage: store-flush [DEVICES [ROUNDS [RESTORE]]]\n");
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/otad-store-bench-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(sub, sizeof(sub), "%s/flush", dir);
    flush_rounds(sub, devices, rounds);
    if (restored > 0) {
        snprintf(sub, sizeof(sub), "%s/restore", dir);
        restore(sub, restored);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

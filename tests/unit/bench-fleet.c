/* SPDX-License-Identifier: MIT */
/* What the registry costs: nanoseconds per fleet_block call with a tag (one
 * thread, then two on devices of their own, then two on one device), and the resident memory of
 * 100,000 devices that asked for the header and a few blocks, and the time
 * fleet_tick and fleet_each take over them.
 * Wall time suffers from other load on the machine; the CPU time of each
 * thread does less. Not a test: run build/tests/unit/bench-fleet by hand. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

#define CALLS 5000000u
#define BLOCKS 4096u
#define DEVICES 100000u

static double now_s(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kib;
}

struct run {
    struct fleet *f;
    unsigned i;
    bool shared;
    double ns, cpu_ns;
};

static void *blocks(void *arg)
{
    struct run *r = arg;
    struct fleet_tag *tag = NULL;
    char id[32];
    double t, cpu;

    snprintf(id, sizeof(id), "bench-%u", r->shared ? 0 : r->i);
    fleet_header(r->f, &tag, id, "192.0.2.1", "app", 3, 1, false, 0, BLOCKS, 0);
    t = now_s(CLOCK_MONOTONIC);
    cpu = now_s(CLOCK_THREAD_CPUTIME_ID);
    /* Never every block of a download: the bitmap path throughout. */
    for (unsigned n = 0; n < CALLS; n++)
        fleet_block(r->f, &tag, "192.0.2.1", "app", 3, n % (BLOCKS - 1), BLOCKS, 1024, n / 1000);
    r->ns = (now_s(CLOCK_MONOTONIC) - t) * 1e9 / CALLS;
    r->cpu_ns = (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu) * 1e9 / CALLS;
    fleet_tag_free(tag);
    return NULL;
}

static void time_blocks(unsigned threads, bool shared)
{
    struct fleet_options o = {.track = true, .max_devices = 100000, .history = 100,
                              .stall_seconds = 60};
    pthread_t th[2];
    struct run r[2];
    struct fleet *f;

    if (fleet_new(&o, &f) < 0)
        exit(1);
    for (unsigned i = 0; i < threads; i++) {
        r[i] = (struct run){.f = f, .i = i, .shared = shared};
        pthread_create(&th[i], NULL, blocks, &r[i]);
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        printf("fleet_block, %u thread(s)%s, thread %u: %.1f ns/call wall, %.1f ns CPU\n",
               threads, shared ? " on one device" : "", i, r[i].ns, r[i].cpu_ns);
    }
    fleet_free(f);
}

static bool count(void *cls, const struct fleet_device *d)
{
    (void)d;
    ++*(unsigned *)cls;
    return true;
}

static void memory(void)
{
    struct fleet_options o = {.track = true, .max_devices = DEVICES, .history = 100,
                              .stall_seconds = 60};
    struct fleet_tag *tag = NULL;
    long before = rss_kib();
    struct fleet *f;
    char id[32];

    if (fleet_new(&o, &f) < 0)
        exit(1);
    for (unsigned d = 0; d < DEVICES; d++) {
        snprintf(id, sizeof(id), "%024x", d * 2654435761u);
        fleet_header(f, &tag, id, "192.0.2.1", "app", 3, 1, false, 0, 512, d);
        for (unsigned n = 0; n < 8; n++)
            fleet_block(f, &tag, "192.0.2.1", "app", 3, n, 512, 1024, d);
        fleet_tag_free(tag);
        tag = NULL;
    }
    printf("%u devices downloading a 512-block image: %ld KiB RSS more\n", DEVICES,
           rss_kib() - before);
    double t = now_s(CLOCK_MONOTONIC);
    fleet_tick(f, DEVICES);
    printf("fleet_tick over them, the first: %.2f ms\n", (now_s(CLOCK_MONOTONIC) - t) * 1e3);
    t = now_s(CLOCK_MONOTONIC);
    fleet_tick(f, DEVICES + 1000);
    printf("fleet_tick a second later: %.2f ms\n", (now_s(CLOCK_MONOTONIC) - t) * 1e3);
    unsigned n = 0;
    t = now_s(CLOCK_MONOTONIC);
    fleet_each(f, NULL, -1, count, &n);
    printf("fleet_each over them (%u): %.2f ms\n", n, (now_s(CLOCK_MONOTONIC) - t) * 1e3);
    fleet_free(f);
}

int main(void)
{
    time_blocks(1, false);
    time_blocks(2, false);
    time_blocks(2, true);
    memory();
    return 0;
}

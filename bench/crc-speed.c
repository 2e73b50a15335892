/* SPDX-License-Identifier: MIT */
/* How fast is CRC-32? otad's crc_update() (src/crc.c, whichever is linked),
 * zlib's crc32_z() and, when built with ISA-L, ISA-L's crc32_gzip_refl()
 * called directly, over the same random bytes:
 *   blocks in cache   one call per 256-byte block over 1 MiB, again and again
 *   blocks over MIB   one call per 256-byte block over the whole buffer
 *                     (as indexing an image runs it)
 *   image 1 MiB       one call over 1 MiB
 *   image MIB MiB     one call over the whole buffer
 * Each figure is the best of ROUNDS rounds; within a round the
 * implementations take turns, so that they share the machine's moods.
 * Every result is checked against zlib's.
 *
 *   build/src/crc-speed [MIB [ROUNDS]]   (64 5)
 *
 * To time the hand-written PCLMULQDQ loop of otad 0.2.0, link its src/crc.c
 * in place of today's (docs/PERFORMANCE.md, "CRC-32"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>
#ifdef OTAD_HAVE_ISAL
#include <isa-l/crc.h>
#endif

#include "crc.h"

#define MIB ((size_t)1 << 20)
#define BLOCK 256

typedef uint32_t crc_fn(uint32_t crc, const uint8_t *data, size_t len);

static uint32_t via_zlib(uint32_t crc, const uint8_t *data, size_t len)
{
    return (uint32_t)crc32_z(crc, data, len);
}

#ifdef OTAD_HAVE_ISAL
static uint32_t via_isal(uint32_t crc, const uint8_t *data, size_t len)
{
    return crc32_gzip_refl(crc, data, len);
}
#endif

static const struct impl {
    const char *name;
    crc_fn *fn;
} impls[] = {
    {"crc_update (src/crc.c)", crc_update},
    {"zlib crc32_z", via_zlib},
#ifdef OTAD_HAVE_ISAL
    {"ISA-L crc32_gzip_refl", via_isal},
#endif
};
#define NIMPL (sizeof(impls) / sizeof(impls[0]))

struct test {
    const char *name;
    size_t span;  /* bytes the test runs over */
    size_t piece; /* bytes per call: BLOCK, or the whole span */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The sum of the CRCs of every @piece of @span bytes, @passes times over:
 * it keeps the calls from being optimised away, and it is checked. */
static uint32_t run(crc_fn *fn, const uint8_t *buf, size_t span, size_t piece, size_t passes)
{
    uint32_t sum = 0;

    for (size_t p = 0; p < passes; p++)
        for (size_t off = 0; off < span; off += piece)
            sum += fn(0, buf + off, piece);
    return sum;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t len = mib * MIB;
    char over[40], whole[32];
    const struct test tests[] = {
        {"256-byte blocks, in cache", MIB, BLOCK},
        {over, len, BLOCK},
        {"image of 1 MiB", MIB, MIB},
        {whole, len, len},
    };
    double best[sizeof(tests) / sizeof(tests[0])][NIMPL];
    uint8_t *buf;

    snprintf(over, sizeof(over), "256-byte blocks, %zu MiB", mib);
    snprintf(whole, sizeof(whole), "image of %zu MiB", mib);
    if (mib == 0 || rounds < 1) {
        fprintf(stderr, "usage: %s [MIB [ROUNDS]]\n", argv[0]);
        return 2;
    }
    buf = malloc(len);
    if (buf == NULL)
        return 2;
    for (size_t i = 0; i < len;) { /* touches every page, too */
        ssize_t n = getrandom(buf + i, len - i, 0);

        if (n <= 0) {
            perror("getrandom");
            free(buf);
            return 2;
        }
        i += (size_t)n;
    }
    for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
        const struct test *te = &tests[t];
        size_t passes = len / te->span; /* every test runs over @len bytes */
        uint32_t want = run(via_zlib, buf, te->span, te->piece, 1);

        for (size_t i = 0; i < NIMPL; i++)
            best[t][i] = 1e30;
        for (int r = 0; r < rounds; r++) {
            for (size_t i = 0; i < NIMPL; i++) {
                double t0 = now();
                uint32_t got = run(impls[i].fn, buf, te->span, te->piece, passes);
                double dt = now() - t0;

                if (got != (uint32_t)(want * passes)) {
                    fprintf(stderr, "%s: %s differs from zlib\n", impls[i].name, te->name);
                    free(buf);
                    return 1;
                }
                if (dt < best[t][i])
                    best[t][i] = dt;
            }
        }
    }
    printf("# crc_update(): %s; %zu MiB, best of %d\n",
           crc_accelerated() ? "accelerated" : "zlib", mib, rounds);
    printf("%-26s %-24s %8s %12s\n", "test", "implementation", "GB/s", "ns/call");
    for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
        double calls = (double)len / (double)tests[t].piece;

        for (size_t i = 0; i < NIMPL; i++)
            printf("%-26s %-24s %8.2f %12.1f\n", tests[t].name, impls[i].name,
                   (double)len / best[t][i] / 1e9, best[t][i] / calls * 1e9);
    }
    free(buf);
    return 0;
}

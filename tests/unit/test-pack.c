/* SPDX-License-Identifier: MIT */
/* Small generations carved from shared packs: byte-correct when loaded on
 * several threads at once, read-only, sharing pages, counted as the kernel
 * counts them, and freed with the last one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "generation.h"
#include "helpers.h"

enum { THREADS = 4, PER_THREAD = 100, N = THREADS * PER_THREAD };

struct fixture {
    char *dir;
    int dfd;
    uint8_t *data[N];
    size_t size[N];
    struct generation *gen[N];
    int error[N];
};

/* Sizes from 1 byte to 60,000, odd ones among them, all small enough for a
 * pack (60,000 bytes and 235 CRCs stay under 64 KiB). */
static size_t size_of(unsigned i)
{
    static const size_t fixed[] = {1, 63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 60000};

    return i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : 1 + (i * 2654435761u) % 60000;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char name[32];

    f->dir = tmpdir_create();
    f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
    for (unsigned i = 0; i < N; i++) {
        f->size[i] = size_of(i);
        f->data[i] = malloc(f->size[i]);
        fill_random(f->data[i], f->size[i], i + 1);
        snprintf(name, sizeof(name), "i%u.bin", i);
        if (write_file(f->dir, name, f->data[i], f->size[i]) < 0)
            return -1;
    }
    *state = f;
    return f->dfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    for (unsigned i = 0; i < N; i++)
        free(f->data[i]);
    close(f->dfd);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

struct job {
    struct fixture *f;
    unsigned first;
};

static void *load_some(void *arg)
{
    struct job *j = arg;
    char name[32];

    for (unsigned i = j->first; i < j->first + PER_THREAD; i++) {
        snprintf(name, sizeof(name), "i%u.bin", i);
        j->f->error[i] = generation_load(j->f->dfd, name, NULL, &j->f->gen[i]);
    }
    return NULL;
}

/* The resident bytes of every pack mapping, as the kernel's page tables
 * have them (smaps), and how many packs there are. */
static uint64_t pack_rss(unsigned *ret_packs)
{
    FILE *fp = fopen("/proc/self/smaps", "r");
    char line[512];
    bool in_pack = false;
    uint64_t total = 0;
    unsigned long kb, lo, hi;

    *ret_packs = 0;
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            in_pack = strstr(line, "memfd:otad-pack") != NULL;
            *ret_packs += in_pack;
        } else if (in_pack && sscanf(line, "Rss: %lu kB", &kb) == 1) {
            total += (uint64_t)kb * 1024;
        }
    }
    fclose(fp);
    return total;
}

/* Writes one byte into @p in a child: true if the child died of SIGSEGV. */
static bool write_faults(const uint8_t *p)
{
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* cmocka's handler would report, not die */
        *(volatile uint8_t *)p = (uint8_t)~*p;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

/* Every block's wire bytes as the shared vectors' rule makes them: the data,
 * 0xFF padding, the CRC-32 (zlib) of those 256 bytes. */
static void check_blocks(const struct generation *g, const uint8_t *data, size_t size)
{
    uint8_t want[OTA_BLOCK_WIRE], got[OTA_BLOCK_WIRE];

    assert_int_equal(g->size, size);
    assert_int_equal(g->crc, (uint32_t)crc32(0, data, (uInt)size));
    assert_memory_equal(g->data, data, size);
    for (uint32_t n = 0; n < g->nblocks; n++) {
        size_t off = (size_t)n * OTA_BLOCK_DATA, len = size - off < 256 ? size - off : 256;

        memset(want, 0xFF, OTA_BLOCK_DATA);
        memcpy(want, data + off, len);
        ota_put_le32(want + OTA_BLOCK_DATA, (uint32_t)crc32(0, want, OTA_BLOCK_DATA));
        generation_block_copy(g, n, got);
        assert_memory_equal(got, want, OTA_BLOCK_WIRE);
    }
}

static void test_concurrent_loads(void **state)
{
    struct fixture *f = *state;
    struct job jobs[THREADS];
    pthread_t tid[THREADS];
    uint64_t own = 0, bytes = 0;
    unsigned packs, shared = 0;

    assert_int_equal(generation_memory(), 0);
    for (unsigned t = 0; t < THREADS; t++) {
        jobs[t] = (struct job){.f = f, .first = t * PER_THREAD};
        assert_int_equal(pthread_create(&tid[t], NULL, load_some, &jobs[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(f->error[i], 0);
        check_blocks(f->gen[i], f->data[i], f->size[i]);
        assert_int_equal((uintptr_t)f->gen[i]->data % 64, 0);
        own += generation_footprint(f->size[i]);
        bytes += f->size[i];
    }
    /* Ranges share pages: some generation starts on the page another ends
     * on, and together they take far less than mappings of their own. */
    for (unsigned i = 0; i < N; i++)
        for (unsigned k = 0; k < N; k++)
            shared += k != i && ((uintptr_t)f->gen[k]->data >> 12) ==
                                    ((uintptr_t)f->gen[i]->data + f->size[i] - 1) >> 12;
    assert_true(shared > N / 2);
    assert_true(generation_memory() < bytes + bytes / 50 + 8 * 4096);
    assert_true(generation_memory() < own);
    /* What is counted is what the kernel has mapped, page for page. */
    assert_int_equal(pack_rss(&packs), generation_memory());
    assert_true(packs >= 2);
    /* Read-only, the first and last bytes of a range as well. */
    assert_true(write_faults(f->gen[0]->data));
    assert_true(write_faults(f->gen[N / 2]->data + f->size[N / 2] - 1));
    /* The last reference to each frees all: no pack left. */
    for (unsigned i = 0; i < N; i++)
        generation_unref(f->gen[i]);
    assert_int_equal(generation_memory(), 0);
    assert_int_equal(pack_rss(&packs), 0);
    assert_int_equal(packs, 0);
}

/* A pack lives while any generation in it does; the range of the last one
 * loaded is reused when it goes at once (a duplicate of bytes held). */
static void test_lifetime(void **state)
{
    struct fixture *f = *state;
    struct generation *a = NULL, *b = NULL, *c = NULL;
    const uint8_t *b_at;
    uint64_t with_a;
    unsigned packs;

    assert_int_equal(generation_load(f->dfd, "i4.bin", NULL, &a), 0); /* 255 bytes */
    with_a = generation_memory();
    assert_int_equal(with_a, 4096);
    assert_int_equal(generation_load(f->dfd, "i10.bin", NULL, &b), 0); /* 60,000 */
    b_at = b->data;
    assert_ptr_equal(b_at, a->data + 320); /* 255 bytes, 1 CRC, 64-aligned */
    assert_int_equal(generation_memory(), 4096 * ((320 + 60032 + 235 * 4 + 4095) / 4096));
    assert_int_equal(pack_rss(&packs), generation_memory());
    generation_unref(b);
    assert_int_equal(generation_memory(), with_a);
    assert_int_equal(pack_rss(&packs), with_a);
    assert_int_equal(generation_load(f->dfd, "i10.bin", NULL, &c), 0);
    assert_ptr_equal(c->data, b_at);
    check_blocks(c, f->data[10], f->size[10]);
    /* The first goes; the pack stays for the second, which is intact. */
    generation_unref(a);
    assert_int_equal(packs, 1);
    assert_int_equal(pack_rss(&packs), generation_memory());
    check_blocks(c, f->data[10], f->size[10]);
    assert_true(write_faults(c->data));
    generation_unref(c);
    assert_int_equal(generation_memory(), 0);
    assert_int_equal(pack_rss(&packs), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetime, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The exported tree: its paths and bytes (the shared vectors, and CRCs made
 * here with zlib), what a second export leaves alone, what retain_seconds
 * keeps and prunes, and the names it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "catalog.h"
#include "export.h"
#include "helpers.h"
#include "scan.h"

struct fixture {
    char *dir, *top;
    char out[PATH_MAX - 64];
    struct catalog *cat;
    char refused[8][64];
    size_t nrefused;
};

static void refused(void *ctx, const char *name, const char *why)
{
    struct fixture *f = ctx;

    (void)why;
    assert_true(f->nrefused < 8);
    snprintf(f->refused[f->nrefused++], 64, "%s", name);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = tmpdir_create();
    f->top = tmpdir_create();
    snprintf(f->out, sizeof(f->out), "%s/tree", f->top);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    catalog_close(f->cat);
    tmpdir_remove(f->dir);
    tmpdir_remove(f->top);
    free(f);
    return 0;
}

/* Scans the firmware directory and exports it with @retain. */
static int export_with(struct fixture *f, const struct export_options *o,
                       struct export_report *rep)
{
    /* The catalog's own retention plays no part: the tree's is the export's. */
    if (f->cat == NULL)
        assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.max_memory = 1ull << 26},
                                      NULL, NULL, &f->cat), 0);
    assert_true(scan_all(f->cat, NULL) >= 0);
    return export_write(f->cat, o, rep);
}

static int export(struct fixture *f, unsigned retain, struct export_report *rep)
{
    return export_with(f,
                       &(struct export_options){.out = f->out, .retain_seconds = retain,
                                                .refused = refused, .ctx = f},
                       rep);
}

static char *path(struct fixture *f, const char *rel)
{
    static char buf[PATH_MAX + 64];

    snprintf(buf, sizeof(buf), "%s/%s", f->out, rel);
    return buf;
}

static void assert_file(const char *p, const void *data, size_t len)
{
    size_t got = 0;
    uint8_t *bytes = read_file(p, &got);

    assert_non_null(bytes);
    assert_int_equal(got, len);
    assert_memory_equal(bytes, data, len);
    free(bytes);
}

/* The key of @data: its CRC-32 and size, as otad(8) EXPORT says. */
static void key_of(const uint8_t *data, size_t len, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%08lx-%zx", crc32(0, data, (uInt)len), len);
}

static void add_vectors(struct fixture *f, uint8_t **ret_bin, size_t *ret_len)
{
    uint8_t *bin = read_file(VECTORS_DIR "/vec.bin", ret_len);

    assert_non_null(bin);
    assert_int_equal(write_file(f->dir, "vec.bin", bin, *ret_len), 0);
    assert_int_equal(write_file(f->dir, "vec.txt", "7\n", 2), 0);
    *ret_bin = bin;
}

static void test_vectors(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;
    char key[32], want[128], link[128];
    uint8_t *bin, *expected;
    size_t len, elen = 0;
    ssize_t n;

    add_vectors(f, &bin, &len);
    assert_int_equal(export(f, 600, &rep), 0);
    expected = read_file(VECTORS_DIR "/expected/header.bin", &elen);
    assert_file(path(f, "vec/header"), expected, elen);
    free(expected);
    for (int i = 0; i < 4; i++) {
        char name[64];

        snprintf(name, sizeof(name), VECTORS_DIR "/expected/block-%d.bin", i);
        expected = read_file(name, &elen);
        snprintf(name, sizeof(name), "vec/block/%d", i);
        assert_file(path(f, name), expected, elen);
        free(expected);
    }
    assert_int_equal(access(path(f, "vec/block/4"), F_OK), -1);
    assert_file(path(f, "vec/image"), bin, len);
    assert_file(path(f, "firmware/vec.bin"), bin, len);
    assert_int_equal(access(path(f, "vec/manifest"), F_OK), -1);
    key_of(bin, len, key, sizeof(key));
    snprintf(want, sizeof(want), "n/vec/%s-7", key);
    n = readlink(path(f, "vec"), link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, want);
    assert_int_equal(access(path(f, "firmwares"), F_OK), 0);
    assert_int_equal(access(path(f, "firmwares.json"), F_OK), 0);
    assert_int_equal(rep.due, -1);
    free(bin);
}

/* A second export of the same catalog writes no generation again. */
static void test_again(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;
    struct stat a, b;
    uint8_t *bin;
    size_t len;

    add_vectors(f, &bin, &len);
    assert_int_equal(export(f, 600, &rep), 0);
    assert_int_equal(stat(path(f, "vec/block/0"), &a), 0);
    assert_int_equal(export(f, 600, &rep), 0);
    assert_int_equal(stat(path(f, "vec/block/0"), &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
    free(bin);
}

/* Replaced: the old generation stays while retain_seconds runs, and goes
 * after; removed: the name's symlinks go at once. */
static void test_retention(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;
    uint8_t old[700], new[700];
    char key[32], g[64], bin[PATH_MAX];

    fill_random(old, sizeof(old), 1);
    fill_random(new, sizeof(new), 2);
    assert_int_equal(write_file(f->dir, "app.bin", old, sizeof(old)), 0);
    assert_int_equal(export(f, 600, &rep), 0);
    assert_int_equal(write_file(f->dir, "app.bin", new, sizeof(new)), 0);
    assert_int_equal(export(f, 600, &rep), 0);
    assert_file(path(f, "app/image"), new, sizeof(new));
    key_of(old, sizeof(old), key, sizeof(key));
    snprintf(g, sizeof(g), "g/%s", key);
    assert_int_equal(access(path(f, g), F_OK), 0);
    assert_true(rep.due > 590 && rep.due <= 600);
    assert_int_equal(export(f, 0, &rep), 0);
    assert_int_equal(access(path(f, g), F_OK), -1);
    assert_int_equal(rep.due, -1);
    snprintf(bin, sizeof(bin), "%s/app.bin", f->dir);
    assert_int_equal(unlink(bin), 0);
    assert_int_equal(export(f, 600, &rep), 0);
    assert_int_equal(access(path(f, "app"), F_OK), -1);
    assert_int_equal(access(path(f, "firmware/app.bin"), F_OK), -1);
    key_of(new, sizeof(new), key, sizeof(key));
    snprintf(g, sizeof(g), "g/%s", key);
    assert_int_equal(access(path(f, g), F_OK), 0); /* retained */
}

/* The tree's own names, and a name the tree holds as something else. */
static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;

    assert_int_equal(write_file(f->dir, "n.bin", "x", 1), 0);
    assert_int_equal(write_file(f->dir, "ok.bin", "y", 1), 0);
    assert_int_equal(write_file(f->dir, "taken.bin", "z", 1), 0);
    assert_int_equal(mkdir(f->out, 0755), 0);
    assert_int_equal(mkdir(path(f, "taken"), 0755), 0);
    assert_int_equal(export(f, 600, &rep), 2);
    assert_int_equal(f->nrefused, 2);
    assert_string_equal(f->refused[0], "n");
    assert_string_equal(f->refused[1], "taken");
    assert_int_equal(access(path(f, "ok/header"), F_OK), 0);
}

static void test_cannot_write(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;

    assert_int_equal(write_file(f->top, "file", "", 0), 0);
    snprintf(f->out, sizeof(f->out), "%s/file/tree", f->top);
    assert_int_equal(export(f, 600, &rep), -ENOTDIR);
    assert_string_equal(rep.path, f->out);
}

static bool stop_at(void *ctx)
{
    unsigned *asked = ctx;

    return ++*asked >= 2;   /* the first image starts, its blocks stop */
}

/* Stopped in the middle of a generation: -EINTR, and nothing of it left. */
static void test_stopped(void **state)
{
    struct fixture *f = *state;
    struct export_report rep;
    static uint8_t big[(EXPORT_STOP_BLOCKS + 8) * 256];
    unsigned asked = 0;
    DIR *d;
    struct dirent *e;
    int entries = 0;

    fill_random(big, sizeof(big), 3);
    assert_int_equal(write_file(f->dir, "big.bin", big, sizeof(big)), 0);
    assert_int_equal(export_with(f,
                                 &(struct export_options){.out = f->out, .retain_seconds = 600,
                                                          .stop = stop_at, .stop_ctx = &asked},
                                 &rep),
                     -EINTR);
    assert_int_equal(asked, 2);
    d = opendir(path(f, "g"));
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.' || strncmp(e->d_name, ".tmp-", 5) == 0;
    closedir(d);
    assert_int_equal(entries, 0);
    assert_int_equal(access(path(f, "big"), F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

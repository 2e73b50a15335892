/* SPDX-License-Identifier: MIT */
/* The catalog as the scans fill it: which files become images, lookups,
 * rescans, retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>
#include <errno.h>
#include <sys/stat.h>

#include "catalog.h"
#include "helpers.h"
#include "scan.h"

struct fixture {
    char *dir;
    struct catalog *cat;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = tmpdir_create();
    *state = f;
    return catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 600,
                                                         .max_memory = 1ull << 30},
                        NULL, NULL, &f->cat);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    catalog_close(f->cat);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static bool has(struct catalog *cat, const char *name)
{
    struct image *img = catalog_lookup(cat, name, strlen(name));

    image_unref(img);
    return img != NULL;
}

static void test_open_errors(void **state)
{
    struct catalog *cat = NULL;
    char path[4096];
    struct fixture *f = *state;

    const struct catalog_limits lim = {.retain_seconds = 1, .max_memory = 1 << 20};

    assert_int_equal(catalog_open("/nonexistent/fw", &lim, NULL, NULL, &cat), -ENOENT);
    snprintf(path, sizeof(path), "%s/file", f->dir);
    assert_int_equal(write_file(f->dir, "file", "x", 1), 0);
    assert_int_equal(catalog_open(path, &lim, NULL, NULL, &cat), -ENOTDIR);
    assert_null(cat);
}

static void test_which_files(void **state)
{
    struct fixture *f = *state;
    char path[4096], target[4096];

    assert_int_equal(write_file(f->dir, "app.bin", "1234", 4), 0);
    assert_int_equal(write_file(f->dir, "UPPER.BIN", "1234", 4), 0);
    assert_int_equal(write_file(f->dir, ".hidden.bin", "1234", 4), 0);
    assert_int_equal(write_file(f->dir, "empty.bin", "", 0), 0);
    assert_int_equal(write_file(f->dir, "notes.txt", "1", 1), 0);
    assert_int_equal(write_file(f->dir, "x.binary", "1", 1), 0);
    assert_int_equal(write_file(f->dir, ".bin", "1", 1), 0);
    snprintf(path, sizeof(path), "%s/link.bin", f->dir);
    snprintf(target, sizeof(target), "%s/app.bin", f->dir);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/dangling.bin", f->dir);
    assert_int_equal(symlink("nowhere", path), 0);
    snprintf(path, sizeof(path), "%s/fifo.bin", f->dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    snprintf(path, sizeof(path), "%s/dir.bin", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);

    assert_int_equal(scan_all(f->cat, NULL), 3);
    assert_true(has(f->cat, "app"));
    assert_true(has(f->cat, "UPPER"));
    assert_true(has(f->cat, "link"));
    assert_false(has(f->cat, "upper"));
    assert_false(has(f->cat, ".hidden"));
    assert_false(has(f->cat, "empty"));
    assert_false(has(f->cat, "fifo"));
    assert_false(has(f->cat, "dir"));
    assert_false(has(f->cat, "dangling"));
    assert_false(has(f->cat, "ap"));
    assert_false(has(f->cat, "appx"));
}

static void test_case_duplicates(void **state)
{
    struct fixture *f = *state;
    struct image *img;

    assert_int_equal(write_file(f->dir, "a.BIN", "upper", 5), 0);
    assert_int_equal(write_file(f->dir, "a.bin", "lower!", 6), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    img = catalog_lookup(f->cat, "a", 1);
    assert_non_null(img);
    assert_string_equal(img->bin_file, "a.bin");
    image_unref(img);
}

static void test_rescan(void **state)
{
    struct fixture *f = *state;
    struct image *before, *after, *kept;
    char path[4096];

    assert_int_equal(write_file(f->dir, "a.bin", "aaaa", 4), 0);
    assert_int_equal(write_file(f->dir, "b.bin", "bbbb", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    before = catalog_lookup(f->cat, "a", 1);
    kept = catalog_lookup(f->cat, "b", 1);

    /* Changed version file: a new image object; unchanged b: the same one. */
    assert_int_equal(write_file(f->dir, "a.txt", "5", 1), 0);
    snprintf(path, sizeof(path), "%s/c.bin", f->dir);
    assert_int_equal(write_file(f->dir, "c.bin", "cc", 2), 0);
    assert_int_equal(scan_all(f->cat, NULL), 3);
    after = catalog_lookup(f->cat, "a", 1);
    assert_ptr_not_equal(before, after);
    assert_int_equal(after->version, 5);
    assert_int_equal(before->version, 1); /* the old reference stays valid */
    image_unref(after);
    after = catalog_lookup(f->cat, "b", 1);
    assert_ptr_equal(after, kept);
    image_unref(after);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    assert_false(has(f->cat, "c"));
    image_unref(before);
    image_unref(kept);
}

static void test_list_sorted(void **state)
{
    struct fixture *f = *state;
    struct catalog_item *list;
    int n;

    assert_int_equal(write_file(f->dir, "zeta.bin", "z", 1), 0);
    assert_int_equal(write_file(f->dir, "alpha.bin", "a", 1), 0);
    assert_int_equal(write_file(f->dir, "Mid.bin", "m", 1), 0);
    assert_int_equal(scan_all(f->cat, NULL), 3);
    n = catalog_list(f->cat, &list);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].img->name, "Mid");
    assert_string_equal(list[1].img->name, "alpha");
    assert_string_equal(list[2].img->name, "zeta");
    catalog_release(list, (size_t)n);
}

/* A vanished directory serves nothing, like a fresh start on an empty one;
 * the generations stay retained for the downloads under way. */
static void test_directory_gone(void **state)
{
    struct fixture *f = *state;
    struct image *img;
    struct generation *g;

    assert_int_equal(write_file(f->dir, "a.bin", "a", 1), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    img = catalog_lookup(f->cat, "a", 1);
    tmpdir_remove(f->dir);
    f->dir = tmpdir_create(); /* for teardown */
    assert_int_equal(scan_all(f->cat, NULL), -ENOENT);
    assert_false(has(f->cat, "a"));
    g = catalog_find_generation(f->cat, "a", 1, img->gen->id);
    assert_ptr_equal(g, img->gen);
    generation_unref(g);
    image_unref(img);
}

/* One name reloaded alone: added, version only, replaced, removed. */
static void test_reload_one_name(void **state)
{
    struct fixture *f = *state;
    struct image *v1, *v2, *v3;
    struct catalog_item *list;
    char path[4096];
    int n;

    assert_int_equal(scan_all(f->cat, NULL), 0);
    assert_int_equal(write_file(f->dir, "app.bin", "first", 5), 0);
    assert_int_equal(scan_reload(f->cat, "app"), 0);
    v1 = catalog_lookup(f->cat, "app", 3);
    assert_non_null(v1);
    assert_int_equal(v1->version, 1);

    assert_int_equal(write_file(f->dir, "app.txt", "2", 1), 0);
    assert_int_equal(scan_reload(f->cat, "app"), 0);
    v2 = catalog_lookup(f->cat, "app", 3);
    assert_int_equal(v2->version, 2);
    assert_ptr_equal(v2->gen, v1->gen); /* bytes not read again */

    assert_int_equal(write_file(f->dir, ".tmp", "second!", 7), 0);
    snprintf(path, sizeof(path), "%s/.tmp", f->dir);
    char dst[4096];
    snprintf(dst, sizeof(dst), "%s/app.bin", f->dir);
    assert_int_equal(rename(path, dst), 0);
    assert_int_equal(scan_reload(f->cat, "app"), 0);
    v3 = catalog_lookup(f->cat, "app", 3);
    assert_ptr_not_equal(v3->gen, v1->gen);
    assert_int_equal(v3->gen->size, 7);
    /* The replaced generation is retained, findable by id and ETag. */
    struct generation *g = catalog_find_generation(f->cat, "app", 3, v1->gen->id);
    assert_ptr_equal(g, v1->gen);
    generation_unref(g);
    g = catalog_find_etag(f->cat, "app", 3, v1->gen->etag, strlen(v1->gen->etag));
    assert_ptr_equal(g, v1->gen);
    generation_unref(g);
    assert_null(catalog_find_etag(f->cat, "app", 3, "\"nope\"", 6));
    assert_null(catalog_find_generation(f->cat, "other", 5, v1->gen->id));
    n = catalog_list(f->cat, &list);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].retained, 1);
    catalog_release(list, (size_t)n);

    assert_int_equal(unlink(dst), 0);
    assert_int_equal(scan_reload(f->cat, "app"), 0);
    assert_false(has(f->cat, "app"));
    g = catalog_find_generation(f->cat, "app", 3, v3->gen->id);
    assert_ptr_equal(g, v3->gen); /* pinned downloads can finish */
    generation_unref(g);
    /* Names the reload ignores. */
    assert_int_equal(scan_reload(f->cat, ".hidden"), 0);
    assert_int_equal(scan_reload(f->cat, ""), 0);
    image_unref(v1);
    image_unref(v2);
    image_unref(v3);
}

/* The case rule holds for single reloads too. */
static void test_reload_case_variants(void **state)
{
    struct fixture *f = *state;
    struct image *img;
    char path[4096];

    assert_int_equal(write_file(f->dir, "b.BIN", "upper", 5), 0);
    assert_int_equal(scan_reload(f->cat, "b"), 0);
    img = catalog_lookup(f->cat, "b", 1);
    assert_string_equal(img->bin_file, "b.BIN");
    image_unref(img);
    assert_int_equal(write_file(f->dir, "b.bin", "lower", 5), 0);
    assert_int_equal(scan_reload(f->cat, "b"), 0);
    img = catalog_lookup(f->cat, "b", 1);
    assert_string_equal(img->bin_file, "b.bin");
    image_unref(img);
    snprintf(path, sizeof(path), "%s/b.bin", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(scan_reload(f->cat, "b"), 0);
    img = catalog_lookup(f->cat, "b", 1);
    assert_string_equal(img->bin_file, "b.BIN");
    image_unref(img);
}

static void write_random(struct fixture *f, const char *name, size_t size, uint32_t seed)
{
    uint8_t *data = malloc(size);
    char file[256];

    fill_random(data, size, seed);
    snprintf(file, sizeof(file), "%s.bin", name);
    assert_int_equal(write_file(f->dir, file, data, size), 0);
    free(data);
}

static void replace(struct fixture *f, const char *name, size_t size, uint32_t seed)
{
    write_random(f, name, size, seed);
    assert_int_equal(scan_reload(f->cat, name), 0);
}

/* A scan loads images on several threads: with many images, empty and
 * duplicate files among them, every image must come out as if loaded alone
 * (bytes, CRC against zlib, size), and a rescan with some files replaced
 * must load exactly those again. */
static void test_many_images(void **state)
{
    enum { N = 64 };
    struct fixture *f = *state;
    struct image *kept[N];
    uint8_t *data[N];
    size_t size[N];
    char file[64], name[64], path[4096];

    for (int i = 0; i < N; i++) {
        size[i] = 1 + (size_t)i * 977 % 20000;
        data[i] = malloc(size[i]);
        fill_random(data[i], size[i], (uint32_t)i + 100);
        snprintf(file, sizeof(file), "img%02d.bin", i);
        assert_int_equal(write_file(f->dir, file, data[i], size[i]), 0);
    }
    assert_int_equal(write_file(f->dir, "empty.bin", "", 0), 0);
    assert_int_equal(write_file(f->dir, "img07.BIN", "other spelling", 14), 0);
    assert_int_equal(scan_all(f->cat, NULL), N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "img%02d", i);
        kept[i] = catalog_lookup(f->cat, name, strlen(name));
        assert_non_null(kept[i]);
        assert_string_equal(kept[i]->bin_file, strcat(name, ".bin"));
        assert_int_equal(kept[i]->gen->size, size[i]);
        assert_memory_equal(kept[i]->gen->data, data[i], size[i]);
        assert_int_equal(kept[i]->gen->crc, (uint32_t)crc32(0L, data[i], (uInt)size[i]));
    }
    assert_false(has(f->cat, "empty"));

    /* Every third image replaced: new generations for those, the same
     * image objects for the rest. */
    for (int i = 0; i < N; i += 3) {
        fill_random(data[i], size[i], (uint32_t)i + 999);
        snprintf(file, sizeof(file), "img%02d.bin", i);
        snprintf(path, sizeof(path), "%s/%s", f->dir, file);
        assert_int_equal(unlink(path), 0); /* a new inode: surely a new file */
        assert_int_equal(write_file(f->dir, file, data[i], size[i]), 0);
    }
    assert_int_equal(scan_all(f->cat, NULL), N);
    for (int i = 0; i < N; i++) {
        struct image *now;

        snprintf(name, sizeof(name), "img%02d", i);
        now = catalog_lookup(f->cat, name, strlen(name));
        assert_non_null(now);
        if (i % 3 == 0) {
            assert_ptr_not_equal(now, kept[i]);
            assert_memory_equal(now->gen->data, data[i], size[i]);
            assert_int_equal(now->gen->crc, (uint32_t)crc32(0L, data[i], (uInt)size[i]));
        } else {
            assert_ptr_equal(now, kept[i]);
        }
        image_unref(now);
        image_unref(kept[i]);
        free(data[i]);
    }
}

/* Over max_memory the oldest retained generations go first; current images
 * stay, and one that cannot fit is not loaded. */
static void test_memory_bound(void **state)
{
    struct fixture *f = *state;
    struct catalog *cat;
    struct generation *g;
    uint64_t ids[4];

    catalog_close(f->cat);
    /* Each 100000-byte image holds its bytes and 391 CRCs of 4 bytes in 25
     * pages: 100 KiB; the bound keeps three of them. */
    assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 600,
                                                                   .max_memory = 350 * 1024},
                                  NULL, NULL, &cat),
                     0);
    f->cat = cat;
    for (int i = 0; i < 4; i++) {
        struct image *img;

        replace(f, "m", 100000, (uint32_t)i + 1);
        img = catalog_lookup(cat, "m", 1);
        ids[i] = img->gen->id;
        image_unref(img);
    }
    assert_true(catalog_memory(cat) <= 350 * 1024);
    assert_null(catalog_find_generation(cat, "m", 1, ids[0]));
    g = catalog_find_generation(cat, "m", 1, ids[1]);
    assert_non_null(g);
    generation_unref(g);
    g = catalog_find_generation(cat, "m", 1, ids[3]);
    assert_non_null(g);
    generation_unref(g);
    /* An image whose generation alone is over the bound is refused before
     * it is read, and what is served stays. */
    write_random(f, "big", 800 * 1024, 9);
    assert_int_equal(scan_reload(cat, "big"), 0);
    assert_false(has(cat, "big"));
    assert_true(has(cat, "m"));
    g = catalog_find_generation(cat, "m", 1, ids[2]);
    assert_non_null(g);
    generation_unref(g);
}

/* The footprint of a 100000-byte image: its bytes and its 391 block CRCs,
 * 101,596 bytes in 25 pages. */
#define FOOTPRINT_100K 102400

/* A generation the catalog let go of still counts while a response holds it;
 * a new one is loaded only if it fits beside what is really held. */
static void test_memory_really_held(void **state)
{
    struct fixture *f = *state;
    struct generation *sending[2];
    struct image *img;
    uint64_t first, third;

    catalog_close(f->cat);
    assert_int_equal(generation_memory(), 0);
    /* Room for two generations of a 100000-byte image, not three. */
    assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 600,
                                                                   .max_memory = 250 * 1024},
                                  NULL, NULL, &f->cat),
                     0);
    replace(f, "m", 100000, 1);
    assert_int_equal(catalog_memory(f->cat), FOOTPRINT_100K);
    /* A slow download of the whole image holds it. */
    img = catalog_lookup(f->cat, "m", 1);
    sending[0] = generation_ref(img->gen);
    first = img->gen->id;
    image_unref(img);
    replace(f, "m", 100000, 2);
    assert_int_equal(catalog_memory(f->cat), 2 * FOOTPRINT_100K);
    img = catalog_lookup(f->cat, "m", 1);
    sending[1] = generation_ref(img->gen);
    image_unref(img);
    /* Both held by downloads: a third one does not fit, and is not read. */
    write_random(f, "m", 100000, 3);
    assert_int_equal(scan_reload(f->cat, "m"), -ENOBUFS);
    img = catalog_lookup(f->cat, "m", 1);
    assert_ptr_equal(img->gen, sending[1]);
    image_unref(img);
    assert_int_equal(catalog_memory(f->cat), 2 * FOOTPRINT_100K);
    /* The first download ends: its retained generation can go, so the third
     * one is loaded, and the first dropped over max_memory. */
    generation_unref(sending[0]);
    assert_int_equal(scan_reload(f->cat, "m"), 0);
    assert_null(catalog_find_generation(f->cat, "m", 1, first));
    assert_int_equal(catalog_memory(f->cat), 2 * FOOTPRINT_100K);
    img = catalog_lookup(f->cat, "m", 1);
    third = img->gen->id;
    image_unref(img);
    /* The second download still holds its generation, retained. A fourth:
     * the current one is free to go, so it fits. Then, over max_memory, the
     * oldest go: the one being sent leaves the catalog but its memory stays
     * held until the download ends, so the third goes too. */
    write_random(f, "m", 100000, 4);
    assert_int_equal(scan_reload(f->cat, "m"), 0);
    assert_null(catalog_find_generation(f->cat, "m", 1, sending[1]->id));
    assert_null(catalog_find_generation(f->cat, "m", 1, third));
    assert_int_equal(catalog_memory(f->cat), 2 * FOOTPRINT_100K);
    generation_unref(sending[1]);
    assert_int_equal(catalog_memory(f->cat), FOOTPRINT_100K);
}


static void test_expiry(void **state)
{
    struct fixture *f = *state;
    struct catalog *cat;
    struct image *img;
    uint64_t first;

    catalog_close(f->cat);
    assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 1,
                                                                   .max_memory = 1 << 30},
                                  NULL, NULL, &cat),
                     0);
    f->cat = cat;
    assert_int_equal(catalog_expire(cat), -1);
    replace(f, "e", 1000, 1);
    img = catalog_lookup(cat, "e", 1);
    first = img->gen->id;
    image_unref(img);
    replace(f, "e", 1000, 2);
    long next = catalog_expire(cat);
    assert_true(next > 0 && next <= 1000);
    struct generation *g = catalog_find_generation(cat, "e", 1, first);
    assert_non_null(g);
    generation_unref(g);
    usleep((useconds_t)(next + 20) * 1000);
    assert_int_equal(catalog_expire(cat), -1);
    assert_null(catalog_find_generation(cat, "e", 1, first));
    assert_true(has(cat, "e"));
}

/* retain_seconds 0: nothing is retained. */
static void test_no_retention(void **state)
{
    struct fixture *f = *state;
    struct catalog *cat;
    struct image *img;
    uint64_t first;

    catalog_close(f->cat);
    assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 0,
                                                                   .max_memory = 1 << 30},
                                  NULL, NULL, &cat),
                     0);
    f->cat = cat;
    replace(f, "z", 1000, 1);
    img = catalog_lookup(cat, "z", 1);
    first = img->gen->id;
    image_unref(img);
    uint64_t mem = catalog_memory(cat);
    replace(f, "z", 1000, 2);
    assert_null(catalog_find_generation(cat, "z", 1, first));
    assert_int_equal(catalog_memory(cat), mem);
}

/* Identical bytes read again (a touch, a directory put back, a rollback)
 * reuse the generation already held: no copy, no stranded pinned download. */
static void test_identical_bytes(void **state)
{
    struct fixture *f = *state;
    struct image *v1, *now;
    struct catalog_item *list;
    char path[4096];
    uint64_t mem;
    int n;

    replace(f, "t", 3000, 1);
    v1 = catalog_lookup(f->cat, "t", 1);
    mem = catalog_memory(f->cat);
    snprintf(path, sizeof(path), "%s/t.bin", f->dir);
    assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0); /* touch */
    assert_int_equal(scan_reload(f->cat, "t"), 0);
    now = catalog_lookup(f->cat, "t", 1);
    assert_ptr_equal(now->gen, v1->gen);
    image_unref(now);
    assert_int_equal(catalog_memory(f->cat), mem);

    replace(f, "t", 3000, 2);  /* v2 */
    replace(f, "t", 3000, 1);  /* back to v1's bytes */
    now = catalog_lookup(f->cat, "t", 1);
    assert_ptr_equal(now->gen, v1->gen);
    image_unref(now);
    n = catalog_list(f->cat, &list);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].retained, 1); /* v2 only: v1 is current again */
    catalog_release(list, (size_t)n);
    assert_int_equal(catalog_memory(f->cat), mem + 4096); /* v2: 3000 bytes, 12 CRCs */
    image_unref(v1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_which_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rescan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_one_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_case_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_really_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identical_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_images, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Image snapshots: loading, refusal of bad files, immunity to later changes
 * of the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "helpers.h"
#include "image.h"

struct fixture {
    char *dir;
    int dfd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = tmpdir_create();
    f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
    *state = f;
    return f->dfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->dfd);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void test_load(void **state)
{
    struct fixture *f = *state;
    uint8_t data[3000];
    struct image *img = NULL;
    struct ota_header h;

    fill_random(data, sizeof(data), 7);
    assert_int_equal(write_file(f->dir, "app.bin", data, sizeof(data)), 0);
    assert_int_equal(write_file(f->dir, "app.txt", "9\n", 2), 0);
    assert_int_equal(image_load(f->dfd, "app.bin", "app", &img), 0);
    assert_string_equal(img->name, "app");
    assert_string_equal(img->version_file, "app.txt");
    assert_int_equal(img->version, 9);
    assert_int_equal(img->version_source, VERSION_FROM_FILE);
    assert_int_equal(img->gen->size, 3000);
    assert_int_equal(img->gen->nblocks, 12);
    assert_int_equal(img->gen->crc, (uint32_t)crc32(0, data, sizeof(data)));
    assert_memory_equal(img->gen->data, data, sizeof(data));
    ota_header_decode(img->header, &h);
    assert_int_equal(h.version, 9);
    assert_int_equal(h.checksum, img->gen->crc);
    assert_int_equal(h.blocknum, 12);
    assert_int_equal(h.blocksize, 256);
    assert_int_equal(h.binsize, 3000);
    {
        uint8_t last[OTA_BLOCK_WIRE];

        generation_block_copy(img->gen, 11, last);
        assert_memory_equal(last, data + 11 * 256, 3000 - 11 * 256);
        for (size_t i = 3000 - 11 * 256; i < OTA_BLOCK_DATA; i++)
            assert_int_equal(last[i], 0xFF);
        assert_int_equal(ota_get_le32(last + OTA_BLOCK_DATA), (uint32_t)crc32(0, last, 256));
    }
    /* The ETag names the bytes: CRC and size in hex. */
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%08x-%x\"", (unsigned)crc32(0, data, sizeof(data)), 3000u);
    assert_string_equal(img->gen->etag, etag);
    image_unref(img);
}

/* Every block of images of the sizes where the last block changes shape, as
 * generation_block_copy() gives it, against the rule built here with zlib:
 * the data, 0xFF up to 256 bytes, the CRC-32 of those 256 bytes. */
static void test_every_block(void **state)
{
    static const uint32_t sizes[] = {1, 255, 256, 257, 65536, 1000003};
    struct fixture *f = *state;
    uint8_t *data = malloc(1000003);
    uint8_t got[OTA_BLOCK_WIRE], want[OTA_BLOCK_WIRE];

    assert_non_null(data);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint32_t size = sizes[k], nblocks = (size + 255) / 256;
        struct image *img = NULL;

        fill_random(data, size, (unsigned)k + 100);
        assert_int_equal(write_file(f->dir, "b.bin", data, size), 0);
        assert_int_equal(image_load(f->dfd, "b.bin", "b", &img), 0);
        assert_int_equal(img->gen->nblocks, nblocks);
        for (uint32_t n = 0; n < nblocks; n++) {
            uint32_t len = size - n * 256 < 256 ? size - n * 256 : 256;

            memset(want, 0xFF, 256);
            memcpy(want, data + (size_t)n * 256, len);
            ota_put_le32(want + 256, (uint32_t)crc32(0, want, 256));
            generation_block_copy(img->gen, n, got);
            assert_memory_equal(got, want, OTA_BLOCK_WIRE);
        }
        image_unref(img);
    }
    free(data);
}

static void test_version_defaults(void **state)
{
    struct fixture *f = *state;
    struct image *img = NULL;

    assert_int_equal(write_file(f->dir, "a.bin", "x", 1), 0);
    assert_int_equal(image_load(f->dfd, "a.bin", "a", &img), 0);
    assert_int_equal(img->version, 1);
    assert_int_equal(img->version_source, VERSION_FILE_MISSING);
    image_unref(img);
    assert_int_equal(write_file(f->dir, "a.txt", "-3", 2), 0);
    assert_int_equal(image_load(f->dfd, "a.bin", "a", &img), 0);
    assert_int_equal(img->version, 1);
    assert_int_equal(img->version_source, VERSION_FILE_INVALID);
    assert_int_equal(img->version_error, -EINVAL);
    image_unref(img);
}

static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct image *img = NULL;
    char path[4096];

    assert_int_equal(write_file(f->dir, "empty.bin", "", 0), 0);
    assert_int_equal(image_load(f->dfd, "empty.bin", "empty", &img), -ENODATA);
    snprintf(path, sizeof(path), "%s/fifo.bin", f->dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(image_load(f->dfd, "fifo.bin", "fifo", &img), -ENODEV);
    snprintf(path, sizeof(path), "%s/dir.bin", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(image_load(f->dfd, "dir.bin", "dir", &img), -ENODEV);
    assert_int_equal(image_load(f->dfd, "gone.bin", "gone", &img), -ENOENT);
    snprintf(path, sizeof(path), "%s/dangling.bin", f->dir);
    assert_int_equal(symlink("nowhere.bin", path), 0);
    assert_int_equal(image_load(f->dfd, "dangling.bin", "dangling", &img), -ENOENT);
    assert_null(img);
}

/* The snapshot is a private copy: rewriting or truncating the file in place
 * changes nothing served, and cannot raise SIGBUS. */
static void test_snapshot_survives_file_changes(void **state)
{
    struct fixture *f = *state;
    uint8_t data[5000], other[5000];
    uint8_t first_block[OTA_BLOCK_WIRE];
    struct image *img = NULL;
    char path[4096];
    FILE *fp;

    fill_random(data, sizeof(data), 1);
    fill_random(other, sizeof(other), 2);
    assert_int_equal(write_file(f->dir, "s.bin", data, sizeof(data)), 0);
    assert_int_equal(image_load(f->dfd, "s.bin", "s", &img), 0);
    generation_block_copy(img->gen, 0, first_block);

    snprintf(path, sizeof(path), "%s/s.bin", f->dir);
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fwrite(other, 1, sizeof(other), fp), sizeof(other));
    fclose(fp);
    assert_memory_equal(img->gen->data, data, sizeof(data));
    assert_int_equal(truncate(path, 0), 0);
    assert_memory_equal(img->gen->data, data, sizeof(data));
    {
        uint8_t again[OTA_BLOCK_WIRE];

        generation_block_copy(img->gen, 0, again);
        assert_memory_equal(again, first_block, OTA_BLOCK_WIRE);
    }
    assert_int_equal(img->gen->crc, (uint32_t)crc32(0, data, sizeof(data)));
    image_unref(img);
}

static void test_references(void **state)
{
    struct fixture *f = *state;
    struct image *img = NULL;

    assert_int_equal(write_file(f->dir, "r.bin", "abc", 3), 0);
    assert_int_equal(image_load(f->dfd, "r.bin", "r", &img), 0);
    assert_ptr_equal(image_ref(img), img);
    assert_int_equal(atomic_load(&img->refs), 2);
    image_unref(img);
    assert_int_equal(img->gen->data[1], 'b'); /* still alive with one reference */
    image_unref(img);
    image_unref(NULL);
}

/* A new version file alone: a new image on the same generation, bytes
 * untouched, header updated. */
static void test_reversion(void **state)
{
    struct fixture *f = *state;
    struct image *img = NULL, *img2 = NULL;
    struct ota_header h;

    assert_int_equal(write_file(f->dir, "v.bin", "abcdef", 6), 0);
    assert_int_equal(write_file(f->dir, "v.txt", "3", 1), 0);
    assert_int_equal(image_load(f->dfd, "v.bin", "v", &img), 0);
    assert_false(image_version_changed(img, f->dfd));
    assert_int_equal(write_file(f->dir, "v.txt", "40\n", 3), 0);
    assert_true(image_version_changed(img, f->dfd));
    assert_int_equal(image_make("v", "v.bin", img->gen, &img->bin_id, &img->sig_id, f->dfd, &img2), 0);
    assert_ptr_equal(img2->gen, img->gen);
    assert_int_equal(img2->version, 40);
    assert_int_equal(img->version, 3);
    ota_header_decode(img2->header, &h);
    assert_int_equal(h.version, 40);
    assert_int_equal(h.checksum, img->gen->crc);
    assert_false(image_version_changed(img2, f->dfd));
    image_unref(img);
    image_unref(img2);
}

/* Generations get increasing ids; identical bytes share an ETag. */
static void test_generation_ids(void **state)
{
    struct fixture *f = *state;
    struct generation *a = NULL, *b = NULL;

    assert_int_equal(write_file(f->dir, "g.bin", "same", 4), 0);
    assert_int_equal(generation_load(f->dfd, "g.bin", NULL, &a), 0);
    assert_int_equal(generation_load(f->dfd, "g.bin", NULL, &b), 0);
    assert_true(b->id > a->id);
    assert_string_equal(a->etag, b->etag);
    generation_unref(a);
    generation_unref(b);
}

/* The limits are checked from the file's size before anything is read or
 * mapped: a 2 GiB sparse file costs nothing to refuse. */
static void test_limits_before_reading(void **state)
{
    struct fixture *f = *state;
    struct generation *g = NULL;
    uint64_t before = generation_memory();
    int fd;

    fd = openat(f->dfd, "sparse.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 2ll << 30), 0);
    close(fd);
    assert_int_equal(generation_load(f->dfd, "sparse.bin",
                                     &(struct generation_limits){.max_size = 1 << 20,
                                                                 .max_memory = UINT64_MAX,
                                                                 .room = UINT64_MAX},
                                     &g),
                     -EFBIG);
    assert_int_equal(generation_load(f->dfd, "sparse.bin",
                                     &(struct generation_limits){.max_size = UINT64_MAX,
                                                                 .max_memory = 16 << 20,
                                                                 .room = 16 << 20},
                                     &g),
                     -ENOSPC);
    assert_int_equal(generation_load(f->dfd, "sparse.bin",
                                     &(struct generation_limits){.max_size = UINT64_MAX,
                                                                 .max_memory = UINT64_MAX,
                                                                 .room = 1 << 20},
                                     &g),
                     -ENOBUFS);
    assert_null(g);
    assert_int_equal(generation_memory(), before);
    /* The footprint: the image and 4 bytes a block, rounded up to pages. */
    assert_int_equal(generation_footprint(1), 4096);
    assert_int_equal(generation_footprint(4032), 4096);
    assert_int_equal(generation_footprint(4033), 8192); /* 4096 + 16 blocks * 4 */
    assert_int_equal(generation_footprint(4 << 20), (4 << 20) + 16384 * 4);
    assert_int_equal(write_file(f->dir, "small.bin", "abc", 3), 0);
    assert_int_equal(generation_load(f->dfd, "small.bin",
                                     &(struct generation_limits){.max_size = 3,
                                                                 .max_memory = 4096,
                                                                 .room = 4096},
                                     &g),
                     0);
    assert_int_equal(generation_memory(), before + 4096);
    generation_unref(g);
    assert_int_equal(generation_memory(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_survives_file_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_before_reading, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

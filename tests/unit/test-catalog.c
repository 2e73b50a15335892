/* The catalog: which files become images, lookups, rescans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>

#include "catalog.h"
#include "helpers.h"
#include "log.h"

struct fixture {
    char *dir;
    struct catalog *cat;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    log_init(LOG_LEVEL_ERROR); /* the scans' warnings are expected here */
    f->dir = tmpdir_create();
    *state = f;
    return catalog_open(f->dir, &f->cat);
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

    assert_int_equal(catalog_open("/nonexistent/fw", &cat), -ENOENT);
    snprintf(path, sizeof(path), "%s/file", f->dir);
    assert_int_equal(write_file(f->dir, "file", "x", 1), 0);
    assert_int_equal(catalog_open(path, &cat), -ENOTDIR);
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

    assert_int_equal(catalog_scan(f->cat), 3);
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
    assert_int_equal(catalog_scan(f->cat), 1);
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
    assert_int_equal(catalog_scan(f->cat), 2);
    before = catalog_lookup(f->cat, "a", 1);
    kept = catalog_lookup(f->cat, "b", 1);

    /* Changed version file: a new image object; unchanged b: the same one. */
    assert_int_equal(write_file(f->dir, "a.txt", "5", 1), 0);
    snprintf(path, sizeof(path), "%s/c.bin", f->dir);
    assert_int_equal(write_file(f->dir, "c.bin", "cc", 2), 0);
    assert_int_equal(catalog_scan(f->cat), 3);
    after = catalog_lookup(f->cat, "a", 1);
    assert_ptr_not_equal(before, after);
    assert_int_equal(after->version, 5);
    assert_int_equal(before->version, 1); /* the old reference stays valid */
    image_unref(after);
    after = catalog_lookup(f->cat, "b", 1);
    assert_ptr_equal(after, kept);
    image_unref(after);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(catalog_scan(f->cat), 2);
    assert_false(has(f->cat, "c"));
    image_unref(before);
    image_unref(kept);
}

static void test_list_sorted(void **state)
{
    struct fixture *f = *state;
    struct image **list;
    int n;

    assert_int_equal(write_file(f->dir, "zeta.bin", "z", 1), 0);
    assert_int_equal(write_file(f->dir, "alpha.bin", "a", 1), 0);
    assert_int_equal(write_file(f->dir, "Mid.bin", "m", 1), 0);
    assert_int_equal(catalog_scan(f->cat), 3);
    n = catalog_list(f->cat, &list);
    assert_int_equal(n, 3);
    assert_string_equal(list[0]->name, "Mid");
    assert_string_equal(list[1]->name, "alpha");
    assert_string_equal(list[2]->name, "zeta");
    catalog_release(list, (size_t)n);
}

static void test_directory_gone(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(write_file(f->dir, "a.bin", "a", 1), 0);
    assert_int_equal(catalog_scan(f->cat), 1);
    tmpdir_remove(f->dir);
    f->dir = tmpdir_create(); /* for teardown */
    /* The old catalog stays: better stale images than none. */
    assert_true(catalog_scan(f->cat) < 0);
    assert_true(has(f->cat, "a"));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

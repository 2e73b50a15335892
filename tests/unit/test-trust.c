/* SPDX-License-Identifier: MIT */
/* What the signing section lets a scan publish: trust_open() on the fixed
 * keys under sign/, then real scans of a directory holding sign/known.sig
 * (made by Python's cryptography, see sign/make-fixtures.sh) and its image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "scan.h"
#include "trust.h"

#define KEYS SIGN_KEYS_DIR "/"

/* From sign/make-fixtures.sh: a.pub's id; known.sig signs "sensor",
 * version 42, the 1000 bytes i * 7 + 3, with a.key. */
static const uint8_t a_id[8] = {0xb6, 0xa1, 0xd7, 0xbe, 0xc2, 0xfd, 0x91, 0xdf};
enum { KNOWN_SIZE = 1000 };

struct fixture {
    char *dir;
    struct trust *trust;
    struct catalog *cat;
    /* The last refusal told: */
    char file[64], reason[96];
    int skipped;
};

static void on_change(void *ctx, const struct catalog_change *c)
{
    struct fixture *f = ctx;

    if (c->event != CATALOG_SKIPPED)
        return;
    f->skipped++;
    snprintf(f->file, sizeof(f->file), "%s", c->file);
    snprintf(f->reason, sizeof(f->reason), "%s", c->reason);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t image[KNOWN_SIZE], *sig;
    size_t len = 0;

    if (f == NULL)
        return -1;
    f->dir = tmpdir_create();
    for (size_t i = 0; i < KNOWN_SIZE; i++)
        image[i] = (uint8_t)(i * 7 + 3);
    sig = read_file(KEYS "known.sig", &len);
    if (sig == NULL || write_file(f->dir, "sensor.bin", image, KNOWN_SIZE) < 0 ||
        write_file(f->dir, "sensor.txt", "42\n", 3) < 0 ||
        write_file(f->dir, "sensor.sig", sig, len) < 0)
        return -1;
    free(sig);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    catalog_close(f->cat);
    trust_close(f->trust);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Opens the catalog with the keys @paths (@n of them; none: no trust) and
 * scans it once. Returns the number of images served. */
static int scan_with(struct fixture *f, const char *const *paths, size_t n, bool require)
{
    size_t bad = 99;

    if (n > 0 || require)
        assert_int_equal(trust_open((char *const *)paths, n, require, &f->trust, &bad), 0);
    assert_int_equal(catalog_open(f->dir,
                                  &(struct catalog_limits){.retain_seconds = 60,
                                                           .max_memory = 1ull << 30,
                                                           .trust = f->trust},
                                  on_change, f, &f->cat),
                     0);
    return scan_all(f->cat, NULL);
}

static void test_verified_with_second_key(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {KEYS "b.pub", KEYS "a.pub"};
    struct image *img;

    assert_int_equal(scan_with(f, keys, 2, false), 1);
    img = catalog_current(f->cat, "sensor");
    assert_non_null(img);
    assert_true(img->verified);
    assert_memory_equal(img->key_id, a_id, sizeof(a_id));
    assert_int_equal(f->skipped, 0);
}

static void test_unknown_key(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {KEYS "b.pub"};

    assert_int_equal(scan_with(f, keys, 1, false), 0);
    assert_int_equal(f->skipped, 1);
    assert_string_equal(f->file, "sensor.sig");
    assert_string_equal(f->reason, "unknown key");
}

/* The version is NAME.txt's: a change of it alone is checked again, and the
 * image verified before stays. */
static void test_version_change_checked(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {KEYS "a.pub"};
    struct image *img;

    assert_int_equal(scan_with(f, keys, 1, false), 1);
    assert_int_equal(write_file(f->dir, "sensor.txt", "43\n", 3), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_int_equal(f->skipped, 1);
    assert_string_equal(f->file, "sensor.sig");
    assert_string_equal(f->reason, "version mismatch");
    img = catalog_current(f->cat, "sensor");
    assert_non_null(img);
    assert_int_equal(img->version, 42);
}

static void test_require(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {KEYS "a.pub"};

    assert_int_equal(write_file(f->dir, "plain.bin", "x", 1), 0);
    assert_int_equal(scan_with(f, keys, 1, true), 1);
    assert_non_null(catalog_current(f->cat, "sensor"));
    assert_null(catalog_current(f->cat, "plain"));
    assert_int_equal(f->skipped, 1);
    assert_string_equal(f->file, "plain.bin");
    assert_string_equal(f->reason, "unsigned, and signing.require is true");
}

/* No keys: the manifest is kept for serving, not verified. */
static void test_no_keys(void **state)
{
    struct fixture *f = *state;
    struct image *img;

    assert_int_equal(write_file(f->dir, "sensor.txt", "7\n", 2), 0);
    assert_int_equal(scan_with(f, NULL, 0, false), 1);
    img = catalog_current(f->cat, "sensor");
    assert_non_null(img);
    assert_false(img->verified);
    assert_int_equal(img->gen->manifest_error, 0);
    assert_int_equal(f->skipped, 0);
}

static void test_open_errors(void **state)
{
    const char *keys[] = {KEYS "a.pub", KEYS "missing.pub", KEYS "rsa.pub", KEYS "b.pub",
                          KEYS "a.pub", KEYS "a.pub", KEYS "a.pub", KEYS "a.pub",
                          KEYS "a.pub"};
    const char *wrong[] = {KEYS "b.pub", KEYS "rsa.pub"};
    struct trust *t = NULL;
    size_t bad = 99;

    (void)state;
    assert_int_equal(trust_open((char *const *)keys, 2, false, &t, &bad), -ENOENT);
    assert_int_equal(bad, 1);
    assert_int_equal(trust_open((char *const *)wrong, 2, false, &t, &bad), -EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(trust_open((char *const *)keys, TRUST_KEYS_MAX + 1, false, &t, &bad),
                     -E2BIG);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verified_with_second_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_change_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_keys, setup, teardown),
        cmocka_unit_test(test_open_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

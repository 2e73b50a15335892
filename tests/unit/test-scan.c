/* SPDX-License-Identifier: MIT */
/* What a scan of a real directory reports: added, replaced, version,
 * removed, and the files it refuses, with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>

#include "catalog.h"
#include "helpers.h"
#include "scan.h"

enum { MAX_SEEN = 16 };

/* A copy of one reported change. */
struct seen {
    enum catalog_event event;
    char name[64], file[64], other[64], reason[64], version_problem[64], etag[32];
    uint32_t version;
};

struct fixture {
    char *dir;
    struct catalog *cat;
    struct seen seen[MAX_SEEN];
    size_t n;
};

static void copy(char *to, const char *from)
{
    snprintf(to, 64, "%s", from != NULL ? from : "");
}

static void record(void *ctx, const struct catalog_change *c)
{
    struct fixture *f = ctx;
    struct seen *s = &f->seen[f->n];

    assert_true(f->n < MAX_SEEN);
    f->n++;
    *s = (struct seen){.event = c->event};
    copy(s->name, c->img != NULL ? c->img->name : c->name);
    copy(s->file, c->file);
    copy(s->other, c->other);
    copy(s->reason, c->reason);
    copy(s->version_problem, c->version_problem);
    if (c->img != NULL)
        s->version = c->img->version;
    if (c->gen != NULL || c->img != NULL)
        snprintf(s->etag, sizeof(s->etag), "%s", c->gen != NULL ? c->gen->etag : c->img->gen->etag);
}

/* Closes the catalog, which may be opened again. */
static void close_catalog(struct fixture *f)
{
    catalog_close(f->cat);
    f->cat = NULL;
}

static int open_with(struct fixture *f, unsigned retain_seconds, uint64_t max_memory)
{
    close_catalog(f);
    return catalog_open(f->dir,
                        &(struct catalog_limits){.retain_seconds = retain_seconds,
                                                 .max_memory = max_memory},
                        record, f, &f->cat);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = tmpdir_create();
    *state = f;
    return open_with(f, 600, 1ull << 30);
}

static int teardown(void **state)
{
    close_catalog(*state);
    tmpdir_remove(((struct fixture *)*state)->dir);
    free(*state);
    return 0;
}

static void assert_seen(const struct fixture *f, size_t i, enum catalog_event event,
                        const char *name)
{
    assert_true(i < f->n);
    assert_int_equal(f->seen[i].event, event);
    assert_string_equal(f->seen[i].name, name);
}

/* Checks that change @i refused @file with @event, and @why: the reason, or
 * for a duplicate the file used instead. */
static void assert_refused(const struct fixture *f, size_t i, enum catalog_event event,
                           const char *file, const char *why)
{
    assert_true(i < f->n);
    assert_int_equal(f->seen[i].event, event);
    assert_string_equal(f->seen[i].file, file);
    assert_string_equal(event == CATALOG_DUPLICATE ? f->seen[i].other : f->seen[i].reason, why);
}

static void remove_file(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(unlink(path), 0);
}

static void test_added_replaced_removed(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(write_file(f->dir, "b.bin", "bbbb", 4), 0);
    assert_int_equal(write_file(f->dir, "a.bin", "aaaa", 4), 0);
    assert_int_equal(write_file(f->dir, "a.txt", "7\n", 2), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    /* In name order; a.txt gives a's version, b has none. */
    assert_int_equal(f->n, 2);
    assert_seen(f, 0, CATALOG_ADDED, "a");
    assert_int_equal(f->seen[0].version, 7);
    assert_string_equal(f->seen[0].version_problem, "");
    assert_seen(f, 1, CATALOG_ADDED, "b");
    assert_int_equal(f->seen[1].version, 1);
    assert_string_equal(f->seen[1].version_problem, "missing");

    /* Nothing changed: nothing to tell. Same bytes rewritten: nothing either. */
    f->n = 0;
    assert_int_equal(scan_all(f->cat, NULL), 2);
    assert_int_equal(write_file(f->dir, "b.bin", "bbbb", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    assert_int_equal(f->n, 0);

    assert_int_equal(write_file(f->dir, "a.bin", "AAAAA", 5), 0);
    remove_file(f->dir, "b.bin");
    assert_int_equal(write_file(f->dir, "c.bin", "cccc", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    /* The names gone first, then the directory in order. */
    assert_int_equal(f->n, 3);
    assert_seen(f, 0, CATALOG_REMOVED, "b");
    assert_seen(f, 1, CATALOG_REPLACED, "a");
    assert_int_equal(f->seen[1].version, 7);
    assert_seen(f, 2, CATALOG_ADDED, "c");
}

/* Writes @text to a.txt and checks that reloading a tells one version
 * change, to @version, with @problem ("" for none). */
static void expect_version(struct fixture *f, const char *text, uint32_t version,
                           const char *problem)
{
    f->n = 0;
    assert_int_equal(write_file(f->dir, "a.txt", text, strlen(text)), 0);
    assert_int_equal(scan_reload(f->cat, "a"), 0);
    assert_int_equal(f->n, 1);
    assert_seen(f, 0, CATALOG_VERSION, "a");
    assert_int_equal(f->seen[0].version, version);
    assert_string_equal(f->seen[0].version_problem, problem);
}

static void test_version_changes(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(write_file(f->dir, "a.bin", "aaaa", 4), 0);
    assert_int_equal(write_file(f->dir, "a.txt", "3", 1), 0);
    assert_int_equal(scan_reload(f->cat, "a"), 0);
    assert_seen(f, 0, CATALOG_ADDED, "a");
    assert_int_equal(f->seen[0].version, 3);

    expect_version(f, "three", 1, "not a decimal number");
    /* Still the default version for another bad file: no change to tell. */
    f->n = 0;
    assert_int_equal(write_file(f->dir, "a.txt", "99999999999", 11), 0);
    assert_int_equal(scan_reload(f->cat, "a"), 0);
    assert_int_equal(f->n, 0);
    expect_version(f, "4", 4, "");
    expect_version(f, "  5\n", 5, "");
}

static void test_rejected_with_reason(void **state)
{
    struct fixture *f = *state;
    char path[4096];

    assert_int_equal(write_file(f->dir, "empty.bin", "", 0), 0);
    snprintf(path, sizeof(path), "%s/dir.bin", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(write_file(f->dir, "x.BIN", "upper", 5), 0);
    assert_int_equal(write_file(f->dir, "x.bin", "lower", 5), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_int_equal(f->n, 4);
    assert_refused(f, 0, CATALOG_SKIPPED, "dir.bin", "not a regular file");
    assert_refused(f, 1, CATALOG_SKIPPED, "empty.bin", "empty");
    /* The exact suffix wins; the other spelling is ignored, and said so. */
    assert_seen(f, 2, CATALOG_ADDED, "x");
    assert_refused(f, 3, CATALOG_DUPLICATE, "x.BIN", "x.bin");

    /* A served image whose file turns empty (an in-place rewrite, for a
     * moment) or bad is skipped and keeps what it served; only its file
     * gone removes it. */
    f->n = 0;
    assert_int_equal(write_file(f->dir, "x.bin", "", 0), 0);
    assert_int_equal(scan_reload(f->cat, "x"), -ENODATA); /* to be retried */
    assert_int_equal(f->n, 2);
    assert_refused(f, 0, CATALOG_SKIPPED, "x.bin", "empty");
    assert_string_equal(f->seen[0].name, "x");
    assert_string_equal(f->seen[0].etag, catalog_current(f->cat, "x")->gen->etag);
    assert_refused(f, 1, CATALOG_DUPLICATE, "x.BIN", "x.bin");
    assert_int_equal(catalog_current(f->cat, "x")->gen->size, 5);
    f->n = 0;
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_refused(f, 0, CATALOG_SKIPPED, "dir.bin", "not a regular file");
    assert_refused(f, 1, CATALOG_SKIPPED, "empty.bin", "empty");
    assert_refused(f, 2, CATALOG_SKIPPED, "x.bin", "empty");
    assert_int_equal(catalog_current(f->cat, "x")->gen->size, 5);
    remove_file(f->dir, "x.bin");
    remove_file(f->dir, "x.BIN");
    snprintf(path, sizeof(path), "%s/x.bin", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    f->n = 0;
    assert_int_equal(scan_reload(f->cat, "x"), 0);
    assert_refused(f, 0, CATALOG_SKIPPED, "x.bin", "not a regular file");
    assert_non_null(catalog_current(f->cat, "x"));
    assert_int_equal(rmdir(path), 0);
    f->n = 0;
    assert_int_equal(scan_reload(f->cat, "x"), 0);
    assert_seen(f, 0, CATALOG_REMOVED, "x");
    assert_null(catalog_current(f->cat, "x"));
}

static void test_directory_gone(void **state)
{
    struct fixture *f = *state;
    char path[4096];

    assert_int_equal(write_file(f->dir, "a.bin", "aaaa", 4), 0);
    assert_int_equal(write_file(f->dir, "b.bin", "bbbb", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    f->n = 0;
    remove_file(f->dir, "a.bin");
    remove_file(f->dir, "b.bin");
    snprintf(path, sizeof(path), "%s", f->dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(scan_all(f->cat, NULL), -ENOENT);
    /* The last name first. */
    assert_int_equal(f->n, 2);
    assert_seen(f, 0, CATALOG_REMOVED, "b");
    assert_seen(f, 1, CATALOG_REMOVED, "a");
    assert_int_equal(mkdir(path, 0700), 0);
}

static void test_dropped_over_memory(void **state)
{
    struct fixture *f = *state;
    uint8_t *data = malloc(100000);
    char first[32], second[32];

    /* One 100000-byte image holds 100 KiB: the bound keeps two. */
    assert_int_equal(open_with(f, 600, 250 * 1024), 0);
    fill_random(data, 100000, 1);
    assert_int_equal(write_file(f->dir, "m.bin", data, 100000), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    fill_random(data, 100000, 2);
    assert_int_equal(write_file(f->dir, "m.bin", data, 100000), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_int_equal(f->n, 2);
    assert_seen(f, 1, CATALOG_REPLACED, "m");
    snprintf(first, sizeof(first), "%s", f->seen[0].etag);
    snprintf(second, sizeof(second), "%s", f->seen[1].etag);
    assert_string_not_equal(first, second);
    f->n = 0;
    fill_random(data, 100000, 3);
    assert_int_equal(write_file(f->dir, "m.bin", data, 100000), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    /* The change first, then the oldest generation it pushed out. */
    assert_int_equal(f->n, 2);
    assert_seen(f, 0, CATALOG_REPLACED, "m");
    assert_seen(f, 1, CATALOG_DROPPED, "m");
    assert_string_equal(f->seen[1].reason, "over max_memory");
    /* The oldest one; the one replaced just now is still retained. */
    assert_string_equal(f->seen[1].etag, first);
    free(data);
}

static void test_dropped_after_retain_seconds(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(open_with(f, 1, 1ull << 30), 0);
    assert_int_equal(write_file(f->dir, "e.bin", "one", 3), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_int_equal(write_file(f->dir, "e.bin", "two!", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    f->n = 0;
    assert_true(catalog_expire(f->cat) > 0);
    assert_int_equal(f->n, 0);
    usleep(1100 * 1000);
    assert_int_equal(catalog_expire(f->cat), -1);
    assert_int_equal(f->n, 1);
    assert_seen(f, 0, CATALOG_DROPPED, "e");
    assert_string_equal(f->seen[0].reason, "retain_seconds passed");
}

static bool writing_w(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "w") == 0;
}

/* A rescan leaves alone a name whose writer is at work, served or new: the
 * half-written file is not read, and its writer's close will reload it. */
static void test_rescan_skips_writers(void **state)
{
    struct fixture *f = *state;
    const struct scan_hooks hooks = {.writing = writing_w};

    assert_int_equal(write_file(f->dir, "w.bin", "whole", 5), 0);
    assert_int_equal(write_file(f->dir, "a.bin", "aaaa", 4), 0);
    assert_int_equal(scan_all(f->cat, NULL), 2);
    f->n = 0;
    assert_int_equal(write_file(f->dir, "w.bin", "ha", 2), 0);
    assert_int_equal(write_file(f->dir, "a.bin", "AAAA", 4), 0);
    assert_int_equal(scan_all(f->cat, &hooks), 2);
    assert_int_equal(f->n, 2);
    assert_seen(f, 0, CATALOG_REPLACED, "a");
    assert_int_equal(f->seen[1].event, CATALOG_WRITING);
    assert_string_equal(f->seen[1].name, "w");
    assert_string_equal(f->seen[1].file, "w.bin");
    assert_int_equal(catalog_current(f->cat, "w")->gen->size, 5);
    /* Once closed, the final state is what is loaded. */
    f->n = 0;
    assert_int_equal(write_file(f->dir, "w.bin", "half+rest", 9), 0);
    assert_int_equal(scan_reload(f->cat, "w"), 0);
    assert_seen(f, 0, CATALOG_REPLACED, "w");
    assert_int_equal(catalog_current(f->cat, "w")->gen->size, 9);
    /* A new name being written is not added. */
    f->n = 0;
    remove_file(f->dir, "w.bin");
    assert_int_equal(scan_all(f->cat, NULL), 1);
    assert_int_equal(write_file(f->dir, "w.bin", "ha", 2), 0);
    assert_int_equal(scan_all(f->cat, &hooks), 1);
    assert_null(catalog_current(f->cat, "w"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_added_replaced_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_with_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_over_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_after_retain_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rescan_skips_writers, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Settle-time scheduling of reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pending.h"

struct calls {
    char names[16][64];
    unsigned n;
};

static void record(void *ctx, const char *name)
{
    struct calls *c = ctx;

    snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", name ? name : "(all)");
}

static struct pending *make(unsigned settle)
{
    struct pending *p = NULL;

    assert_int_equal(pending_new(settle, &p), 0);
    return p;
}

static void test_settle(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    assert_int_equal(pending_timeout(p, 0), -1);
    assert_int_equal(pending_note(p, WATCH_CHANGED, "app.bin", 1000), 0);
    assert_int_equal(pending_timeout(p, 1000), 100);
    assert_int_equal(pending_run(p, 1099, record, &c), 0);
    /* A second event restarts the quiet time. */
    assert_int_equal(pending_note(p, WATCH_CHANGED, "app.txt", 1050), 0);
    assert_int_equal(pending_run(p, 1149, record, &c), 0);
    assert_int_equal(pending_timeout(p, 1149), 1);
    assert_int_equal(pending_run(p, 1150, record, &c), 1);
    assert_string_equal(c.names[0], "app");
    assert_int_equal(pending_timeout(p, 1150), -1);
    pending_free(p);
}

/* A writer at work is never loaded, however long it pauses: only its close
 * makes the name due again. */
static void test_writer(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_CHANGED, "fw.bin", 0);    /* created */
    pending_note(p, WATCH_OPENED, "fw.bin", 0);
    pending_note(p, WATCH_MODIFIED, "fw.bin", 10);  /* first half */
    assert_int_equal(pending_timeout(p, 10), -1);
    assert_int_equal(pending_run(p, 100000, record, &c), 0);
    pending_note(p, WATCH_WRITTEN, "fw.bin", 100000); /* closed */
    assert_int_equal(pending_timeout(p, 100000), 100);
    /* Reopened and written within the settle time: wait again. */
    pending_note(p, WATCH_OPENED, "fw.bin", 100040);
    pending_note(p, WATCH_MODIFIED, "fw.bin", 100050);
    assert_int_equal(pending_run(p, 100200, record, &c), 0);
    pending_note(p, WATCH_WRITTEN, "fw.bin", 100300);
    assert_int_equal(pending_run(p, 100400, record, &c), 1);
    assert_string_equal(c.names[0], "fw");
    pending_free(p);
}

/* A modification with the file open nowhere (truncate(2) by path) is
 * complete: due after the settle time, with no close to wait for. */
static void test_truncate_by_path(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_MODIFIED, "t.bin", 0);
    assert_int_equal(pending_timeout(p, 0), 100);
    assert_int_equal(pending_run(p, 100, record, &c), 1);
    assert_string_equal(c.names[0], "t");
    pending_free(p);
}

/* Readers (otad's own loads among them) open and close without writing:
 * they neither make a name due nor hide a later truncate. */
static void test_readers(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_OPENED, "r.bin", 0);
    pending_note(p, WATCH_CLOSED, "r.bin", 1);
    assert_int_equal(pending_timeout(p, 1), -1);
    assert_int_equal(pending_run(p, 1000, record, &c), 0);
    pending_note(p, WATCH_MODIFIED, "r.bin", 1000);
    assert_int_equal(pending_run(p, 1100, record, &c), 1);
    /* A reader still holding the file makes a modification look like a
     * writer's: wait for a close by a writer. */
    pending_note(p, WATCH_OPENED, "r.bin", 2000);
    pending_note(p, WATCH_MODIFIED, "r.bin", 2001);
    assert_int_equal(pending_timeout(p, 2001), -1);
    pending_free(p);
}

static void test_ignored_names(void **state)
{
    static const char *const ignored[] = {".app.bin", ".tmp", "notes.md", "bin", ".bin",
                                          "x.TXT", "x.bi", "app.bin.tmp"};
    struct pending *p = make(0);
    struct calls c = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        assert_int_equal(pending_note(p, WATCH_CHANGED, ignored[i], 0), 0);
    assert_int_equal(pending_timeout(p, 0), -1);
    pending_note(p, WATCH_CHANGED, "Up.BIN", 0);
    pending_note(p, WATCH_CHANGED, "Up.txt", 0);
    assert_int_equal(pending_run(p, 0, record, &c), 1);
    assert_string_equal(c.names[0], "Up");
    pending_free(p);
}

/* Directory events and overflows make one full rescan that stands for every
 * name, except those still being written. */
static void test_full_rescan(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_CHANGED, "a.bin", 0);
    pending_note(p, WATCH_OPENED, "b.bin", 0);
    pending_note(p, WATCH_MODIFIED, "b.bin", 0);
    pending_note(p, WATCH_DIR, NULL, 10);
    assert_int_equal(pending_timeout(p, 10), 90); /* a.bin is due first */
    assert_int_equal(pending_run(p, 110, record, &c), 1);
    assert_string_equal(c.names[0], "(all)");
    assert_int_equal(pending_timeout(p, 110), -1);
    /* b's writer is still at work: its close makes it due after the rescan. */
    pending_note(p, WATCH_WRITTEN, "b.bin", 150);
    assert_int_equal(pending_run(p, 250, record, &c), 1);
    assert_string_equal(c.names[1], "b");
    /* An overflow loses track of opens: a modification then counts as
     * complete rather than waiting for a close that may never be seen. */
    pending_note(p, WATCH_OPENED, "d.bin", 300);
    pending_note(p, WATCH_OVERFLOW, NULL, 300);
    pending_note(p, WATCH_MODIFIED, "d.bin", 301);
    assert_int_equal(pending_timeout(p, 301), 99);
    assert_int_equal(pending_run(p, 1000, record, &c), 1); /* the rescan covers d */
    pending_free(p);
}

/* The callback may note names again (a load that found the file changing). */
static void renote(void *ctx, const char *name)
{
    struct pending *p = ctx;

    if (name != NULL && strcmp(name, "r") == 0)
        pending_note(p, WATCH_CHANGED, "r.bin", 1000);
}

static void test_renote_from_callback(void **state)
{
    struct pending *p = make(50);

    (void)state;
    for (int i = 0; i < 20; i++) {
        char name[16];

        snprintf(name, sizeof(name), "n%d.bin", i);
        pending_note(p, WATCH_CHANGED, name, 0);
    }
    pending_note(p, WATCH_CHANGED, "r.bin", 0);
    assert_int_equal(pending_run(p, 100, renote, p), 21);
    assert_int_equal(pending_timeout(p, 1000), 50);
    pending_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settle),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_truncate_by_path),
        cmocka_unit_test(test_readers),
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test(test_full_rescan),
        cmocka_unit_test(test_renote_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

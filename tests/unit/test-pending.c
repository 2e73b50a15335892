/* SPDX-License-Identifier: MIT */
/* Settle-time scheduling of reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* NAME.sig is one of the firmware's files: writing it after the .bin
 * restarts the quiet time of the same name, so both are read together. */
static void test_manifest_settles_with_image(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    assert_int_equal(pending_note(p, WATCH_CHANGED, "app.bin", 1000), 0);
    assert_int_equal(pending_note(p, WATCH_CHANGED, "app.sig", 1080), 0);
    assert_int_equal(pending_run(p, 1100, record, &c), 0);
    assert_int_equal(pending_timeout(p, 1100), 80);
    assert_int_equal(pending_run(p, 1180, record, &c), 1);
    assert_string_equal(c.names[0], "app");
    /* A lone .sig change makes its firmware due too. */
    assert_int_equal(pending_note(p, WATCH_CHANGED, "fw.sig", 2000), 0);
    assert_int_equal(pending_run(p, 2100, record, &c), 1);
    assert_string_equal(c.names[1], "fw");
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

/* truncate(2) by path while a reader holds the file open looks like a
 * writer at work; the reader's close, which wrote nothing, completes it. */
static void test_truncate_while_read(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_OPENED, "t.bin", 0);      /* a reader */
    pending_note(p, WATCH_MODIFIED, "t.bin", 10);   /* truncate(2) by path */
    assert_int_equal(pending_timeout(p, 10), -1);
    pending_note(p, WATCH_CLOSED, "t.bin", 500);    /* the reader leaves */
    assert_int_equal(pending_timeout(p, 500), 100);
    assert_int_equal(pending_run(p, 600, record, &c), 1);
    assert_string_equal(c.names[0], "t");
    /* Two readers: only the last close completes it. */
    pending_note(p, WATCH_OPENED, "t.bin", 1000);
    pending_note(p, WATCH_OPENED, "t.bin", 1000);
    pending_note(p, WATCH_MODIFIED, "t.bin", 1001);
    pending_note(p, WATCH_CLOSED, "t.bin", 1002);
    assert_int_equal(pending_timeout(p, 1002), -1);
    pending_note(p, WATCH_CLOSED, "t.bin", 1003);
    assert_int_equal(pending_run(p, 1103, record, &c), 1);
    pending_free(p);
}

struct retrier {
    struct pending *p;
    struct calls calls;
    bool again;           /* ask for a retry from the callback */
    bool was_retrying;    /* pending_retrying() during the last call */
};

static void load_fails(void *ctx, const char *name)
{
    struct retrier *r = ctx;

    record(&r->calls, name);
    r->was_retrying = pending_retrying(r->p, name);
    if (r->again)
        assert_int_equal(pending_retry(r->p, name, 1000, 1000), 0);
}

/* A load that found the file changing asks for a retry by firmware name (not
 * a file name): due again then, retrying until it succeeds or an event on
 * the name comes. */
static void test_retry(void **state)
{
    struct retrier r = {.p = make(100), .again = true};

    (void)state;
    pending_note(r.p, WATCH_WRITTEN, "app.bin", 0);
    assert_int_equal(pending_run(r.p, 100, load_fails, &r), 1);
    assert_false(r.was_retrying);              /* the first failure */
    assert_true(pending_retrying(r.p, "app"));
    assert_int_equal(pending_timeout(r.p, 100), 1900);
    assert_int_equal(pending_run(r.p, 1999, load_fails, &r), 0);
    assert_int_equal(pending_run(r.p, 2000, load_fails, &r), 1);
    assert_string_equal(r.calls.names[1], "app");
    assert_true(r.was_retrying);               /* told once is enough */
    /* Succeeds: forgotten. */
    r.again = false;
    assert_int_equal(pending_run(r.p, 2000, load_fails, &r), 1);
    assert_true(r.was_retrying);
    assert_false(pending_retrying(r.p, "app"));
    assert_int_equal(pending_timeout(r.p, 2000), -1);
    /* An event on the files: a new state, no longer retrying. */
    assert_int_equal(pending_retry(r.p, "app", 2400, 10), 0);
    assert_int_equal(pending_timeout(r.p, 2400), 100); /* the settle time */
    pending_note(r.p, WATCH_CHANGED, "app.txt", 2500);
    assert_false(pending_retrying(r.p, "app"));
    assert_int_equal(pending_timeout(r.p, 2500), 100);
    /* A writer at work: the retry waits for its close. */
    pending_note(r.p, WATCH_OPENED, "w.bin", 4000);
    pending_note(r.p, WATCH_MODIFIED, "w.bin", 4000);
    assert_true(pending_writing(r.p, "w"));
    assert_int_equal(pending_retry(r.p, "w", 4000, 10), 0);
    assert_int_equal(pending_run(r.p, 9000, load_fails, &r), 1); /* app only */
    pending_note(r.p, WATCH_WRITTEN, "w.bin", 9000);
    assert_false(pending_writing(r.p, "w"));
    assert_int_equal(pending_run(r.p, 9100, load_fails, &r), 1);
    pending_free(r.p);
}

/* Events lost while a writer was at work: its close may be among them. The
 * name stays "being written" (a rescan leaves it alone), but not forever. */
static void test_writer_lost_in_overflow(void **state)
{
    struct pending *p = make(100);
    struct calls c = {0};

    (void)state;
    pending_note(p, WATCH_OPENED, "w.bin", 0);
    pending_note(p, WATCH_MODIFIED, "w.bin", 0);
    pending_note(p, WATCH_OVERFLOW, NULL, 1000);
    assert_int_equal(pending_run(p, 1100, record, &c), 1); /* the rescan */
    assert_true(pending_writing(p, "w"));
    assert_int_equal(pending_timeout(p, 1100), PENDING_LOST_WRITER_MS - 100);
    assert_int_equal(pending_run(p, 1000 + PENDING_LOST_WRITER_MS, record, &c), 1);
    assert_string_equal(c.names[1], "w");
    assert_false(pending_writing(p, "w"));
    assert_int_equal(pending_timeout(p, 1000 + PENDING_LOST_WRITER_MS), -1);
    /* A close heard in time makes it due as usual. */
    pending_note(p, WATCH_OPENED, "v.bin", 0);
    pending_note(p, WATCH_MODIFIED, "v.bin", 0);
    pending_note(p, WATCH_OVERFLOW, NULL, 100000);
    assert_int_equal(pending_run(p, 100100, record, &c), 1); /* the rescan */
    pending_note(p, WATCH_WRITTEN, "v.bin", 100200);
    assert_int_equal(pending_timeout(p, 100200), 100);
    assert_int_equal(pending_run(p, 100300, record, &c), 1);
    assert_string_equal(c.names[3], "v");
    assert_int_equal(pending_timeout(p, 100300), -1);
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
        cmocka_unit_test(test_manifest_settles_with_image),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_truncate_by_path),
        cmocka_unit_test(test_readers),
        cmocka_unit_test(test_truncate_while_read),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_writer_lost_in_overflow),
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test(test_full_rescan),
        cmocka_unit_test(test_renote_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* inotify events as the daemon sees them: real ones from the kernel, and an
 * injected queue overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "helpers.h"
#include "watch.h"

struct seen {
    unsigned changed, modified, written, opened, closed, dir, overflow;
    char last[64];
};

static void record(void *ctx, enum watch_kind kind, const char *name)
{
    struct seen *s = ctx;

    switch (kind) {
    case WATCH_CHANGED:
        s->changed++;
        break;
    case WATCH_MODIFIED:
        s->modified++;
        break;
    case WATCH_WRITTEN:
        s->written++;
        break;
    case WATCH_OPENED:
        s->opened++;
        break;
    case WATCH_CLOSED:
        s->closed++;
        break;
    case WATCH_DIR:
        s->dir++;
        break;
    case WATCH_OVERFLOW:
        s->overflow++;
        break;
    }
    if (name != NULL)
        snprintf(s->last, sizeof(s->last), "%s", name);
}

/* Reads events until none came for 50 ms (bounded: 40 rounds). */
static void drain(struct watch *w, struct seen *s)
{
    for (int i = 0; i < 40; i++) {
        struct pollfd pfd = {.fd = watch_fd(w), .events = POLLIN};

        if (poll(&pfd, 1, 50) <= 0)
            return;
        assert_int_equal(watch_read(w, record, s), 0);
    }
}

static void test_overflow_injected(void **state)
{
    char *dir = tmpdir_create();
    struct watch *w = NULL;
    struct seen s = {0};
    struct inotify_event ev = {.wd = -1, .mask = IN_Q_OVERFLOW, .len = 0};

    (void)state;
    assert_int_equal(watch_open(dir, &w), 0);
    watch_parse(w, &ev, sizeof(ev), record, &s);
    assert_int_equal(s.overflow, 1);
    assert_int_equal(s.changed + s.modified + s.written + s.dir, 0);
    /* A truncated record is ignored, not read past its end. */
    watch_parse(w, &ev, sizeof(ev) - 1, record, &s);
    assert_int_equal(s.overflow, 1);
    watch_close(w);
    tmpdir_remove(dir);
}

/* A name that is not NUL-terminated within its record (no kernel sends one)
 * is dropped, not read past the record; the next record still counts. */
static void test_unterminated_name(void **state)
{
    char *dir = tmpdir_create();
    struct watch *w = NULL;
    struct seen s = {0};
    union {
        struct inotify_event ev;
        char bytes[2 * (sizeof(struct inotify_event) + 16)];
    } buf;
    struct inotify_event ev = {.mask = IN_CLOSE_WRITE, .len = 16};
    size_t rec = sizeof(ev) + 16;

    (void)state;
    assert_int_equal(watch_open(dir, &w), 0);
    ev.wd = 2; /* the directory's watch: added after its parent's */
    memcpy(buf.bytes, &ev, sizeof(ev));
    memset(buf.bytes + sizeof(ev), 'a', 16);
    memcpy(buf.bytes + rec, &ev, sizeof(ev));
    memset(buf.bytes + rec + sizeof(ev), 0, 16);
    memcpy(buf.bytes + rec + sizeof(ev), "b.bin", 5);
    watch_parse(w, buf.bytes, sizeof(buf.bytes), record, &s);
    assert_int_equal(s.written, 1);
    assert_string_equal(s.last, "b.bin");
    watch_close(w);
    tmpdir_remove(dir);
}

static void test_file_events(void **state)
{
    char *dir = tmpdir_create();
    char path[4096], path2[4096];
    struct watch *w = NULL;
    struct seen s = {0};
    FILE *f;

    (void)state;
    assert_int_equal(watch_open(dir, &w), 0);
    snprintf(path, sizeof(path), "%s/app.bin", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("half", f);
    fflush(f);
    drain(w, &s);
    assert_true(s.opened >= 1);
    assert_true(s.modified >= 1); /* being written, not yet closed */
    assert_int_equal(s.written, 0);
    fclose(f);
    drain(w, &s);
    assert_int_equal(s.written, 1);
    assert_string_equal(s.last, "app.bin");

    /* A reader: opened and closed without writing. */
    memset(&s, 0, sizeof(s));
    f = fopen(path, "rb");
    assert_non_null(f);
    fclose(f);
    drain(w, &s);
    assert_int_equal(s.opened, 1);
    assert_int_equal(s.closed, 1);
    assert_int_equal(s.written + s.modified, 0);

    /* truncate(2) by path: a modification with no open at all. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(truncate(path, 2), 0);
    drain(w, &s);
    assert_true(s.modified >= 1);
    assert_int_equal(s.opened, 0);

    snprintf(path2, sizeof(path2), "%s/.tmp", dir);
    assert_int_equal(write_file(dir, ".tmp", "x", 1), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(rename(path2, path), 0);
    drain(w, &s);
    assert_true(s.changed >= 1);
    assert_string_equal(s.last, "app.bin");
    watch_close(w);
    tmpdir_remove(dir);
}

/* The directory removed, then created again: both are seen, and after a
 * rearm files in the new directory are seen too. */
static void test_directory_replaced(void **state)
{
    char *dir = tmpdir_create();
    char sub[4096];
    struct watch *w = NULL;
    struct seen s = {0};

    (void)state;
    snprintf(sub, sizeof(sub), "%s/fw", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(watch_open(sub, &w), 0);
    assert_int_equal(rmdir(sub), 0);
    drain(w, &s);
    assert_true(s.dir >= 1);
    assert_int_equal(watch_rearm(w), -ENOENT);
    s.dir = 0;
    assert_int_equal(mkdir(sub, 0755), 0);
    drain(w, &s);
    assert_true(s.dir >= 1);
    assert_int_equal(watch_rearm(w), 0);
    assert_int_equal(write_file(sub, "new.bin", "n", 1), 0);
    drain(w, &s);
    assert_string_equal(s.last, "new.bin");
    watch_close(w);
    tmpdir_remove(dir);
}

static void test_missing_directory(void **state)
{
    char *dir = tmpdir_create();
    char sub[4096];
    struct watch *w = NULL;

    (void)state;
    snprintf(sub, sizeof(sub), "%s/not-yet", dir);
    /* The parent is watched for it to appear. */
    assert_int_equal(watch_open(sub, &w), 0);
    watch_close(w);
    tmpdir_remove(dir);
    assert_true(watch_open("/nonexistent-otad/a/b", &w) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_injected),
        cmocka_unit_test(test_unterminated_name),
        cmocka_unit_test(test_file_events),
        cmocka_unit_test(test_directory_replaced),
        cmocka_unit_test(test_missing_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

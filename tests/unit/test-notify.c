/* SPDX-License-Identifier: MIT */
/* sd_notify messages as the main loop's clock advances: a socket of the
 * test stands in for the service manager, and the times are made up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

struct manager {
    char dir[64];
    char path[96];
    int fd;
};

static int setup(void **state)
{
    struct manager *m = calloc(1, sizeof(*m));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    assert_non_null(m);
    strcpy(m->dir, "/tmp/test-notify-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
    strcpy(sa.sun_path, m->path);
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(m->fd >= 0);
    assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", m->path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    struct manager *m = *state;

    close(m->fd);
    unlink(m->path);
    rmdir(m->dir);
    free(m);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

/* The next message, or "" when none is waiting. */
static const char *next(struct manager *m)
{
    static char buf[256];
    ssize_t n = recv(m->fd, buf, sizeof(buf) - 1, 0);

    if (n < 0) {
        assert_int_equal(errno, EAGAIN);
        n = 0;
    }
    buf[n] = '\0';
    return buf;
}

/* A notify state read from the environment, with WATCHDOG_USEC=@usec (NULL: unset). */
static struct notify *open_notify(const char *usec)
{
    struct notify *n = NULL;

    if (usec != NULL)
        setenv("WATCHDOG_USEC", usec, 1);
    assert_int_equal(notify_new(&n), 0);
    return n;
}

static void test_states(void **state)
{
    struct manager *m = *state;
    struct notify *n = open_notify(NULL);

    notify_ready(n);
    assert_string_equal(next(m), "READY=1");
    notify_reloading(n);
    assert_string_equal(next(m), "RELOADING=1");
    notify_stopping(n);
    assert_string_equal(next(m), "STOPPING=1");
    assert_string_equal(next(m), "");
    notify_free(n);
}

/* A tick of @n at @now with @firmwares and @connections sends @first, then
 * @second ("" for none), then nothing more. */
static void tick(struct manager *m, struct notify *n, int64_t now, size_t firmwares,
                 int64_t connections, const char *first, const char *second)
{
    notify_tick(n, now, firmwares, connections);
    assert_string_equal(next(m), first);
    assert_string_equal(next(m), second);
    assert_string_equal(next(m), "");
}

static void test_status_at_most_once_a_second(void **state)
{
    struct manager *m = *state;
    struct notify *n = open_notify(NULL);

    /* Without a watchdog the loop still wakes once a second for the status. */
    assert_int_equal(notify_timeout(n, 0), 1000);
    tick(m, n, 0, 3, 0, "STATUS=serving 3 firmwares, 0 connections open", "");
    tick(m, n, 400, 3, 7, "", "");
    tick(m, n, 999, 3, 8, "", "");
    tick(m, n, 1000, 3, 8, "STATUS=serving 3 firmwares, 8 connections open", "");
    /* Unchanged: nothing, however late. */
    tick(m, n, 5000, 3, 8, "", "");
    tick(m, n, 5001, 1, 1, "STATUS=serving 1 firmware, 1 connection open", "");
    notify_free(n);
}

static void test_watchdog_every_half_interval(void **state)
{
    struct manager *m = *state;
    struct notify *n = open_notify("600000");

    tick(m, n, 10000, 0, 0, "WATCHDOG=1", "STATUS=serving 0 firmwares, 0 connections open");
    assert_int_equal(notify_timeout(n, 10100), 200);
    tick(m, n, 10299, 0, 0, "", "");
    tick(m, n, 10300, 0, 0, "WATCHDOG=1", "");
    /* Late: the next is due half an interval after this one, not before. */
    tick(m, n, 11000, 0, 0, "WATCHDOG=1", "");
    assert_int_equal(notify_timeout(n, 11000), 300);
    assert_int_equal(notify_timeout(n, 12000), 0);
    notify_free(n);
}

static void test_watchdog_of_another_process(void **state)
{
    struct manager *m = *state;
    char pid[32];

    /* WATCHDOG_PID names the process the watchdog is for (sd_watchdog_enabled(3)). */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    struct notify *n = open_notify("600000");

    tick(m, n, 0, 0, 0, "STATUS=serving 0 firmwares, 0 connections open", "");
    notify_free(n);
}

static void test_unmanaged(void **state)
{
    struct manager *m = *state;
    struct notify *n;

    unsetenv("NOTIFY_SOCKET");
    n = open_notify("600000");
    assert_int_equal(notify_timeout(n, 0), -1);
    notify_ready(n);
    tick(m, n, 0, 1, 1, "", "");
    notify_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_at_most_once_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_every_half_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_of_another_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmanaged, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The legacy keep-alive's decisions: the close token, and the count of the
 * bytes read from a socket (on a real TCP connection over 127.0.0.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "legacy.h"

static void test_close_token(void **state)
{
    static const char *const yes[] = {
        "close", "Close", "CLOSE", " close\t", "keep-alive, close", "close, keep-alive",
        "keep-alive,close", "upgrade ,\tclose , te", ",close,",
    };
    static const char *const no[] = {
        "", "keep-alive", "notclose", "closed", "close-ish", "x close", "close x",
        "clos", "keep-alive, notclose", "\"close\"", ",,", " ",
    };

    (void)state;
    assert_false(legacy_asks_close(NULL));
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!legacy_asks_close(yes[i]))
            fail_msg("'%s' does not ask for close", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (legacy_asks_close(no[i]))
            fail_msg("'%s' asks for close", no[i]);
}

/* A connected pair over 127.0.0.1: @ret[0] the client, @ret[1] the server. */
static void tcp_pair(int ret[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    ret[0] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(ret[0], (struct sockaddr *)&a, sizeof(a)), 0);
    ret[1] = accept(l, NULL, NULL);
    assert_true(ret[1] >= 0);
    close(l);
}

/* Waits (10 s at most) until @fd has @n bytes queued. */
static void wait_queued(int fd, int n)
{
    for (int i = 0; i < 1000; i++) {
        int queued = 0;

        assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
        if (queued >= n)
            return;
        poll(NULL, 0, 10);
    }
    fail_msg("%d bytes never arrived", n);
}

static void test_in_sync(void **state)
{
    char buf[64];
    int fd[2];

    (void)state;
    tcp_pair(fd);
    assert_true(legacy_in_sync(fd[1], 0));
    assert_int_equal(write(fd[0], "GET /a\r\n\r\nGET /b\r\n\r\n", 20), 20);
    wait_queued(fd[1], 20);
    /* Queued, not read: nothing lost yet. */
    assert_true(legacy_in_sync(fd[1], 0));
    assert_int_equal(read(fd[1], buf, 10), 10);
    assert_true(legacy_in_sync(fd[1], 10));
    assert_false(legacy_in_sync(fd[1], 9));
    assert_false(legacy_in_sync(fd[1], 11));
    /* Read ahead into the second request: out of step with the first. */
    assert_int_equal(read(fd[1], buf, 4), 4);
    assert_false(legacy_in_sync(fd[1], 10));
    assert_true(legacy_in_sync(fd[1], 14));
    /* A socket the client has half-closed is not in step either. */
    assert_int_equal(read(fd[1], buf, 6), 6);
    assert_true(legacy_in_sync(fd[1], 20));
    shutdown(fd[0], SHUT_WR);
    assert_int_equal(read(fd[1], buf, sizeof(buf)), 0);
    assert_false(legacy_in_sync(fd[1], 20));
    close(fd[0]);
    close(fd[1]);
    /* Not a TCP socket: cannot tell. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    assert_false(legacy_in_sync(fd[1], 0));
    close(fd[0]);
    close(fd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_token),
        cmocka_unit_test(test_in_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Request-head deadlines: the watch shuts down the descriptors past due and
 * only those. The sockets are socketpair() ends; the other end sees EOF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"

/* The watch looks four times a second: 5 s is far beyond a late tick. */
enum { SHUT_WITHIN_MS = 5000, QUIET_MS = 800 };

struct pair {
    int fd[2]; /* fd[0] is watched, fd[1] the peer */
};

static void pair_open(struct pair *p)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd), 0);
}

static void pair_close(struct pair *p)
{
    close(p->fd[0]);
    close(p->fd[1]);
}

/* True if the peer of @p reads the end of the stream within @ms. */
static bool peer_sees_eof(const struct pair *p, int ms)
{
    struct pollfd pfd = {.fd = p->fd[1], .events = POLLIN};
    char byte;

    if (poll(&pfd, 1, ms) != 1)
        return false;
    return read(p->fd[1], &byte, 1) == 0;
}

static void test_past_due_is_shut_down(void **state)
{
    struct deadline_watch *w = NULL;
    struct deadline *e = NULL;
    struct pair p;

    (void)state;
    pair_open(&p);
    assert_int_equal(deadline_watch_start(&w), 0);
    assert_int_equal(deadline_add(w, p.fd[0], deadline_now() + 100, &e), 0);
    assert_true(peer_sees_eof(&p, SHUT_WITHIN_MS));
    deadline_remove(w, e);
    deadline_watch_stop(w);
    pair_close(&p);
}

static void test_not_due_stays_open(void **state)
{
    struct deadline_watch *w = NULL;
    struct deadline *idle = NULL, *cleared = NULL, *later = NULL;
    struct pair a, b, c;

    (void)state;
    pair_open(&a);
    pair_open(&b);
    pair_open(&c);
    assert_int_equal(deadline_watch_start(&w), 0);
    assert_int_equal(deadline_add(w, a.fd[0], 0, &idle), 0);
    /* Due soon, then the head came in: no longer due. */
    assert_int_equal(deadline_add(w, b.fd[0], deadline_now() + 300, &cleared), 0);
    deadline_set(cleared, 0);
    assert_int_equal(deadline_add(w, c.fd[0], deadline_now() + 60000, &later), 0);
    assert_false(peer_sees_eof(&a, QUIET_MS));
    assert_false(peer_sees_eof(&b, 0));
    assert_false(peer_sees_eof(&c, 0));
    /* Set due again: shut down after all. */
    deadline_set(cleared, deadline_now());
    assert_true(peer_sees_eof(&b, SHUT_WITHIN_MS));
    assert_false(peer_sees_eof(&a, 0));
    deadline_remove(w, later);
    deadline_remove(w, cleared);
    deadline_remove(w, idle);
    deadline_watch_stop(w);
    pair_close(&a);
    pair_close(&b);
    pair_close(&c);
}

static void test_removed_is_left_alone(void **state)
{
    struct deadline_watch *w = NULL;
    struct deadline *e[3] = {NULL};
    struct pair p[3];

    (void)state;
    assert_int_equal(deadline_watch_start(&w), 0);
    for (int i = 0; i < 3; i++) {
        pair_open(&p[i]);
        assert_int_equal(deadline_add(w, p[i].fd[0], deadline_now() + 400, &e[i]), 0);
    }
    /* The first, the middle and the last of the list: each unlinks cleanly. */
    deadline_remove(w, e[1]);
    deadline_remove(w, e[0]);
    deadline_remove(w, e[2]);
    for (int i = 0; i < 3; i++)
        assert_false(peer_sees_eof(&p[i], i == 0 ? QUIET_MS : 0));
    deadline_remove(w, NULL);
    deadline_set(NULL, 1);
    deadline_watch_stop(w);
    deadline_watch_stop(NULL);
    for (int i = 0; i < 3; i++)
        pair_close(&p[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_past_due_is_shut_down),
        cmocka_unit_test(test_not_due_stays_open),
        cmocka_unit_test(test_removed_is_left_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* epoll_wait() for libmicrohttpd's event loop, linked into the otad
 * executable so that the library's calls resolve here first.
 *
 * Why: libmicrohttpd 0.9.75 (and later releases) drains its epoll set with
 *
 *     n = MAX_EVENTS;                       MAX_EVENTS is 128
 *     while (n == MAX_EVENTS)
 *         n = epoll_wait(fd, events, MAX_EVENTS, timeout);
 *
 * where timeout was computed before the first call: the time to the next
 * connection timeout, up to idle_timeout. When exactly 128 connections of a
 * thread are ready at once, the first call returns them all and the second
 * one sleeps until some other socket stirs, with 128 requests read and not
 * answered. Under a steady load of 128 connections per thread nothing else
 * stirs: with `threads: 1` (the default on a one-core machine) 128 busy
 * clients were answered at under 100 requests/s instead of 90,000.
 *
 * The fix keeps the library's loop and removes the wait it did not mean:
 * a call made by a thread right after that thread's previous call filled the
 * whole array returns at once with what is ready. Every other call passes
 * through unchanged, to the next definition (the C library's, or a
 * sanitizer's interceptor in the sanitizer builds). otad's own code does not
 * call epoll_wait(). */

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>

typedef int epoll_wait_fn(int, struct epoll_event *, int, int);

static _Atomic(epoll_wait_fn *) next_epoll_wait;
static _Thread_local bool filled_last_time;

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    epoll_wait_fn *next = atomic_load_explicit(&next_epoll_wait, memory_order_acquire);
    int n;

    if (next == NULL) {
        /* dlsym() returns a void *; the C library guarantees it is callable. */
        next = (epoll_wait_fn *)dlsym(RTLD_NEXT, "epoll_wait");
        if (next == NULL) {
            errno = ENOSYS;
            return -1;
        }
        atomic_store_explicit(&next_epoll_wait, next, memory_order_release);
    }
    if (filled_last_time)
        timeout = 0;
    n = next(epfd, events, maxevents, timeout);
    filled_last_time = maxevents > 0 && n == maxevents;
    return n;
}

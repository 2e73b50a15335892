/* SPDX-License-Identifier: MIT */
/* Deadlines for request heads.
 *
 * libmicrohttpd has only an idle timeout, which every byte received
 * restarts, and calls otad for a request only once its head is complete. So
 * otad keeps its own list: each open connection's descriptor with the time
 * its head is due (http.c sets it), and a thread that looks at the list four
 * times a second and calls shutdown(SHUT_RDWR) on the descriptors past due.
 * The library then reads the end of the stream and closes the connection
 * through its usual path, with every callback, in the connection's own
 * thread; otad never closes a descriptor the library owns.
 *
 * Why the descriptor is safe to shut down: libmicrohttpd 0.9.75 announces
 * MHD_CONNECTION_NOTIFY_CLOSED before it closes the descriptor, on every
 * path (a normal close, a failed start, the daemon stopping), and http.c
 * removes the entry in that callback. An entry is removed under the lock the
 * thread holds while it shuts descriptors down, so a descriptor still listed
 * is still the connection's and cannot have been reused for another file. */
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

enum { TICK_MS = 250 };

struct deadline {
    struct deadline *prev, *next;
    int fd;
    _Atomic int64_t due;  /* written by the connection's thread, read by the watch */
};

struct deadline_watch {
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* on CLOCK_MONOTONIC */
    pthread_t thread;
    bool stopping;        /* under lock */
    struct deadline *head;
};

int64_t deadline_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shuts down the connections past due, once each. Called with the lock held. */
static void expire(struct deadline_watch *w, int64_t now)
{
    for (struct deadline *e = w->head; e != NULL; e = e->next) {
        int64_t due = atomic_load_explicit(&e->due, memory_order_relaxed);

        if (due != 0 && due <= now) {
            atomic_store_explicit(&e->due, 0, memory_order_relaxed);
            /* Fails only if the peer has gone already: the library sees that too. */
            (void)shutdown(e->fd, SHUT_RDWR);
        }
    }
}

static void *watch(void *arg)
{
    struct deadline_watch *w = arg;
    struct timespec until;

    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
            expire(w, deadline_now());
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int deadline_watch_start(struct deadline_watch **ret)
{
    struct deadline_watch *w = calloc(1, sizeof(*w));
    pthread_condattr_t attr;
    int r;

    if (w == NULL)
        return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    r = pthread_create(&w->thread, NULL, watch, w);
    if (r != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return -r;
    }
    *ret = w;
    return 0;
}

void deadline_watch_stop(struct deadline_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int deadline_add(struct deadline_watch *w, int fd, int64_t due, struct deadline **ret)
{
    struct deadline *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return -ENOMEM;
    e->fd = fd;
    atomic_init(&e->due, due);
    pthread_mutex_lock(&w->lock);
    e->next = w->head;
    if (w->head != NULL)
        w->head->prev = e;
    w->head = e;
    pthread_mutex_unlock(&w->lock);
    *ret = e;
    return 0;
}

void deadline_set(struct deadline *e, int64_t due)
{
    if (e != NULL)
        atomic_store_explicit(&e->due, due, memory_order_relaxed);
}

void deadline_remove(struct deadline_watch *w, struct deadline *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        w->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&w->lock);
    free(e);
}

/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct watch {
    int fd;
    int dir_wd;      /* -1 while the directory is missing */
    int parent_wd;
    char *dir;
    char *base;      /* the directory's name inside its parent */
};

/* Everything that can change what a file holds or whether it is there.
 * IN_MODIFY alone does not say whether a writer is still at work: opens and
 * closes are watched too, so that a truncate(2) by path, which modifies
 * without any open, can be told from a writer pausing between two writes. */
#define DIR_EVENTS                                                                \
    (IN_OPEN | IN_CLOSE_NOWRITE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO |        \
     IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | \
     IN_ONLYDIR)
/* The directory's own entry in its parent: created, renamed in, removed. */
#define PARENT_EVENTS (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR)

int watch_open(const char *dir, struct watch **ret)
{
    struct watch *w;
    char *copy1 = NULL, *copy2 = NULL;
    int r;

    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->dir_wd = w->parent_wd = -1;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        r = -errno;
        goto fail;
    }
    w->dir = strdup(dir);
    copy1 = strdup(dir);
    copy2 = strdup(dir);
    if (w->dir == NULL || copy1 == NULL || copy2 == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    w->base = strdup(basename(copy1));
    if (w->base == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    w->parent_wd = inotify_add_watch(w->fd, dirname(copy2), PARENT_EVENTS);
    r = watch_rearm(w);
    if (r < 0 && w->parent_wd < 0)
        goto fail;
    free(copy1);
    free(copy2);
    *ret = w;
    return 0;

fail:
    free(copy1);
    free(copy2);
    watch_close(w);
    return r;
}

void watch_close(struct watch *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->dir);
    free(w->base);
    free(w);
}

int watch_fd(const struct watch *w)
{
    return w->fd;
}

int watch_rearm(struct watch *w)
{
    int wd;

    /* Adding a watch for the same inode returns the same descriptor; a new
     * directory at the path gets a new one. The old one goes by itself
     * (IN_IGNORED) when its directory is deleted; a directory renamed away
     * would keep reporting, so it is dropped here. */
    wd = inotify_add_watch(w->fd, w->dir, DIR_EVENTS);
    if (w->dir_wd >= 0 && w->dir_wd != wd)
        inotify_rm_watch(w->fd, w->dir_wd);
    w->dir_wd = wd;
    return wd < 0 ? -errno : 0;
}

static enum watch_kind kind_of(uint32_t mask)
{
    if (mask & IN_OPEN)
        return WATCH_OPENED;
    if (mask & IN_CLOSE_NOWRITE)
        return WATCH_CLOSED;
    if (mask & IN_MODIFY)
        return WATCH_MODIFIED;
    if (mask & IN_CLOSE_WRITE)
        return WATCH_WRITTEN;
    return WATCH_CHANGED;
}

void watch_parse(struct watch *w, const void *buf, size_t len, watch_fn fn, void *ctx)
{
    const char *p = buf, *end = p + len;

    while ((size_t)(end - p) >= sizeof(struct inotify_event)) {
        struct inotify_event ev;
        const char *name;

        memcpy(&ev, p, sizeof(ev));
        if ((size_t)(end - p) < sizeof(ev) + ev.len)
            break;
        name = ev.len > 0 ? p + sizeof(ev) : NULL;
        p += sizeof(ev) + ev.len;
        /* The kernel pads names with NULs; a record that is not terminated
         * within its length is not trusted as a name. */
        if (name != NULL && memchr(name, '\0', ev.len) == NULL)
            continue;

        if (ev.mask & IN_Q_OVERFLOW) {
            fn(ctx, WATCH_OVERFLOW, NULL);
        } else if (ev.wd == w->parent_wd && w->parent_wd >= 0) {
            if (name != NULL && strcmp(name, w->base) == 0)
                fn(ctx, WATCH_DIR, NULL);
        } else if (ev.wd == w->dir_wd && w->dir_wd >= 0) {
            if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
                if (ev.mask & IN_IGNORED)
                    w->dir_wd = -1;
                fn(ctx, WATCH_DIR, NULL);
            } else if (name != NULL && !(ev.mask & IN_ISDIR)) {
                fn(ctx, kind_of(ev.mask), name);
            }
        }
        /* Events of a watch removed by watch_rearm() are stale: dropped. */
    }
}

int watch_read(struct watch *w, watch_fn fn, void *ctx)
{
    /* Aligned as the kernel's records require. */
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -errno;
        }
        if (n == 0)
            return 0;
        watch_parse(w, buf, (size_t)n, fn, ctx);
    }
}

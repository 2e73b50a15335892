/* SPDX-License-Identifier: MIT */
/* Watching the firmware directory with inotify: turns kernel events into
 * what the daemon cares about. Watches the directory itself and its parent,
 * so that a directory removed, renamed away or replaced (a symlink swapped
 * with ln -sfn included) is noticed too. */
#ifndef OTAD_WATCH_H
#define OTAD_WATCH_H

#include <stddef.h>

enum watch_kind {
    WATCH_OPENED,   /* @name was opened (by a reader or a writer) */
    WATCH_CLOSED,   /* @name was closed by one who did not write */
    WATCH_MODIFIED, /* @name's contents changed: a writer at work, or a truncate */
    WATCH_WRITTEN,  /* @name was closed by a writer */
    WATCH_CHANGED,  /* @name was renamed in or away, created, removed or chmod'ed */
    WATCH_DIR,      /* the directory itself went or came: rescan it all */
    WATCH_OVERFLOW, /* events were lost: rescan it all */
};

/* Called for each event; @name is the entry's name for the per-file kinds,
 * NULL for DIR and OVERFLOW. */
typedef void (*watch_fn)(void *ctx, enum watch_kind kind, const char *name);

struct watch;

/* Starts watching @dir (path copied). The directory may be missing: its
 * parent is watched for it to appear. Returns 0, or a negative errno if
 * neither can be watched. */
int watch_open(const char *dir, struct watch **ret);

/* Stops watching and frees @w. NULL is ignored. */
void watch_close(struct watch *w);

/* The descriptor to poll for readability. */
int watch_fd(const struct watch *w);

/* Reads the queued events and reports them to @fn. Returns 0 or a negative
 * errno. */
int watch_read(struct watch *w, watch_fn fn, void *ctx);

/* Reports the events in @len bytes of raw struct inotify_event records at
 * @buf to @fn: the parser behind watch_read(), open to tests. */
void watch_parse(struct watch *w, const void *buf, size_t len, watch_fn fn, void *ctx);

/* Watches whatever directory is at the path now (after WATCH_DIR). Returns 0,
 * or -ENOENT if there is none yet. */
int watch_rearm(struct watch *w);

#endif

/* SPDX-License-Identifier: MIT */
/* State notifications to the service manager through libsystemd's
 * sd_notify(3): readiness, reloads, a status line and the watchdog.
 *
 * Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
 * Only the main thread calls these. */
#ifndef OTAD_NOTIFY_H
#define OTAD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct notify;

/* Reads whether the watchdog is on (WATCHDOG_USEC, sd_watchdog_enabled(3))
 * and returns the state in *@ret, freed with notify_free(). 0 or -ENOMEM;
 * a bad WATCHDOG_USEC is ignored, as systemd itself would not set one. */
int notify_new(struct notify **ret);
void notify_free(struct notify *n);

/* READY=1: loaded and listening, or done reloading. */
void notify_ready(struct notify *n);

/* RELOADING=1: a SIGHUP rescan starts; notify_ready() ends it. */
void notify_reloading(struct notify *n);

/* STOPPING=1: shutdown began. */
void notify_stopping(struct notify *n);

/* Called at every wake of the main loop at @now_ms (monotonic): sends
 * WATCHDOG=1 when half the watchdog interval has passed since the last one,
 * and STATUS= with @firmwares served and @connections open when they changed,
 * at most once a second. */
void notify_tick(struct notify *n, int64_t now_ms, size_t firmwares, int64_t connections);

/* Milliseconds until notify_tick() has to run again (-1: never): the main
 * loop sleeps no longer than this. */
long notify_timeout(const struct notify *n, int64_t now_ms);

#endif

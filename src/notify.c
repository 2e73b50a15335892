/* SPDX-License-Identifier: MIT */
#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

/* STATUS= changes are sent at most this often: a busy server changes its
 * connection count thousands of times a second, and every message wakes
 * the service manager. */
#define STATUS_INTERVAL_MS 1000

struct notify {
    bool managed;                /* $NOTIFY_SOCKET was set at notify_new() */
    int64_t watchdog_ms;         /* interval between WATCHDOG=1; 0: off */
    int64_t watchdog_last;       /* when WATCHDOG=1 was last sent */
    int64_t status_last;         /* when STATUS= was last sent */
    bool status_sent;
    size_t firmwares;            /* the values last sent in STATUS= */
    int64_t connections;
};

int notify_new(struct notify **ret)
{
    struct notify *n = calloc(1, sizeof(*n));
    uint64_t usec = 0;
    const char *socket = getenv("NOTIFY_SOCKET");

    if (n == NULL)
        return -ENOMEM;
    n->managed = socket != NULL && socket[0] != '\0';
    /* systemd asks for a ping at least every WATCHDOG_USEC; its own
     * documentation advises half that, which leaves room for a late wake. */
    if (n->managed && sd_watchdog_enabled(0, &usec) > 0)
        n->watchdog_ms = (int64_t)(usec / 2000) > 0 ? (int64_t)(usec / 2000) : 1;
    n->watchdog_last = INT64_MIN / 2;
    n->status_last = INT64_MIN / 2;
    *ret = n;
    return 0;
}

void notify_free(struct notify *n)
{
    free(n);
}

/* sd_notify() failures are not reported: the service manager that missed
 * READY=1 or a ping acts on it by itself (a timeout, a restart). */
static void send_state(const struct notify *n, const char *state)
{
    if (n != NULL && n->managed)
        (void)sd_notify(0, state);
}

void notify_ready(struct notify *n)
{
    send_state(n, "READY=1");
}

void notify_reloading(struct notify *n)
{
    send_state(n, "RELOADING=1");
}

void notify_stopping(struct notify *n)
{
    send_state(n, "STOPPING=1");
}

void notify_tick(struct notify *n, int64_t now_ms, size_t firmwares, int64_t connections)
{
    if (n == NULL || !n->managed)
        return;
    if (n->watchdog_ms > 0 && now_ms - n->watchdog_last >= n->watchdog_ms) {
        send_state(n, "WATCHDOG=1");
        n->watchdog_last = now_ms;
    }
    if ((n->status_sent && firmwares == n->firmwares && connections == n->connections) ||
        now_ms - n->status_last < STATUS_INTERVAL_MS)
        return;
    (void)sd_notifyf(0, "STATUS=serving %zu firmware%s, %" PRId64 " connection%s open",
                     firmwares, firmwares == 1 ? "" : "s", connections,
                     connections == 1 ? "" : "s");
    n->status_sent = true;
    n->firmwares = firmwares;
    n->connections = connections;
    n->status_last = now_ms;
}

long notify_timeout(const struct notify *n, int64_t now_ms)
{
    int64_t wait = STATUS_INTERVAL_MS;

    if (n == NULL || !n->managed)
        return -1;
    /* A change of status is seen within a second of the last STATUS=. */
    if (n->watchdog_ms > 0 && n->watchdog_last + n->watchdog_ms - now_ms < wait)
        wait = n->watchdog_last + n->watchdog_ms - now_ms;
    return wait < 0 ? 0 : (long)wait;
}

/* SPDX-License-Identifier: MIT */
/* Sync check. libmicrohttpd reads up to its buffer's free room (1 KiB at
 * first) at a time and drops what it holds when it closes a connection: a
 * request pipelined behind a "close" one would be lost in part, and the
 * next library connection would start parsing in its middle; a header
 * value could then pass for a request. The kernel knows how far the
 * library read: the bytes received on the socket minus those still queued.
 * The requests the library parsed account for all of them, or the socket
 * is closed instead of handed back. */
#include "legacy.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

bool legacy_asks_close(const char *value)
{
    const char *p = value;

    while (p != NULL && *p != '\0') {
        size_t len;

        p += strspn(p, " \t,");
        len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 5 && strncasecmp(p, "close", 5) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static int bytes_received(int fd, uint64_t *ret)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -1;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
        return -1;
    *ret = ti.tcpi_bytes_received;
    return 0;
}

bool legacy_in_sync(int fd, uint64_t parsed)
{
    /* The two counts are taken apart; a read between two equal counts of
     * the bytes received saw no byte arrive in between. The client may be
     * writing its next request right now: a few tries. */
    for (int tries = 0; tries < 8; tries++) {
        uint64_t before, after;
        int queued;

        if (bytes_received(fd, &before) < 0 || ioctl(fd, SIOCINQ, &queued) < 0 ||
            bytes_received(fd, &after) < 0)
            return false;
        if (before == after)
            return queued >= 0 && before - (uint64_t)queued == parsed;
    }
    return false;
}

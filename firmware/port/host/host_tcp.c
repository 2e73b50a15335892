/* SPDX-License-Identifier: MIT */
#include "host_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void host_tcp_init(struct host_tcp *t, const char *host, uint16_t port,
                   uint32_t connect_timeout_ms)
{
    *t = (struct host_tcp){.host = host, .port = port,
                           .connect_timeout_ms = connect_timeout_ms, .fd = -1};
}

/* Records the failure and returns -@err. */
static int failed(struct host_tcp *t, enum host_tcp_fail what, int err)
{
    t->fail = what;
    t->fail_errno = err;
    return -err;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* connect() bounded by @timeout_ms; returns 0 or a negative errno. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0, flags = fcntl(fd, F_GETFL);
    socklen_t elen = sizeof(err);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    if (connect(fd, sa, len) < 0) {
        int r;

        if (errno != EINPROGRESS)
            return -errno;
        do
            r = poll(&pfd, 1, (int)timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0)
            return -errno;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return -errno;
        if (err != 0)
            return -err;
    }
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

int host_tcp_open(void *ctx)
{
    struct host_tcp *t = ctx;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    char port[8];
    int r, err = ECONNREFUSED, one = 1;

    t->fd = -1;
    snprintf(port, sizeof(port), "%u", t->port);
    r = getaddrinfo(t->host, port, &hints, &res);
    if (r != 0) {
        t->fail_gai = r;
        failed(t, HOST_TCP_RESOLVE, r == EAI_SYSTEM ? errno : 0);
        return -EHOSTUNREACH;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        t->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (t->fd < 0) {
            err = errno;
            continue;
        }
        r = connect_within(t->fd, ai->ai_addr, ai->ai_addrlen, t->connect_timeout_ms);
        if (r == 0)
            break;
        err = -r;
        close(t->fd);
        t->fd = -1;
    }
    freeaddrinfo(res);
    if (t->fd < 0)
        return failed(t, HOST_TCP_CONNECT, err);
    /* Each small request waits for its answer: no Nagle delay. */
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

int host_tcp_send(void *ctx, const void *data, uint32_t len)
{
    struct host_tcp *t = ctx;
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t k = send(t->fd, p, len, MSG_NOSIGNAL);

        if (k < 0) {
            if (errno == EINTR)
                continue;
            return failed(t, HOST_TCP_SEND, errno);
        }
        p += k;
        len -= (uint32_t)k;
    }
    return 0;
}

int host_tcp_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct host_tcp *t = ctx;
    struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
    uint64_t deadline = now_ms() + timeout_ms;
    ssize_t k;
    int r;

    for (;;) {
        uint64_t now = now_ms();

        r = poll(&pfd, 1, now >= deadline ? 0 : (int)(deadline - now));
        if (r >= 0 || errno != EINTR)
            break;
    }
    if (r == 0)
        return 0;
    if (r < 0)
        return failed(t, HOST_TCP_RECV, errno);
    do
        k = recv(t->fd, buf, len, 0);
    while (k < 0 && errno == EINTR);
    if (k == 0) {
        failed(t, HOST_TCP_CLOSED, 0);
        return -ECONNRESET;
    }
    if (k < 0)
        return failed(t, HOST_TCP_RECV, errno);
    return (int)k;
}

void host_tcp_close(void *ctx)
{
    struct host_tcp *t = ctx;

    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

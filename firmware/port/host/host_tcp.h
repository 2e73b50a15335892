/* SPDX-License-Identifier: MIT */
/* The host port's TCP transport: one connection to a host name or address
 * (IPv4, or IPv6 without brackets), with a bounded connect time, that
 * remembers why it last failed so that a caller can name the failure. Used
 * by the host port as its default transport and by otaget. */
#ifndef OTA_HOST_TCP_H
#define OTA_HOST_TCP_H

#include <stdint.h>

enum host_tcp_fail {
    HOST_TCP_FINE,
    HOST_TCP_RESOLVE,  /* getaddrinfo() failed: fail_gai, fail_errno if EAI_SYSTEM */
    HOST_TCP_CONNECT,  /* no address accepted the connection: fail_errno */
    HOST_TCP_SEND,     /* fail_errno */
    HOST_TCP_RECV,     /* fail_errno */
    HOST_TCP_CLOSED,   /* the server closed the connection */
};

struct host_tcp {
    const char *host;             /* borrowed: "127.0.0.1", "::1", "localhost" */
    uint16_t port;
    uint32_t connect_timeout_ms;
    int fd;                       /* -1 while closed */
    enum host_tcp_fail fail;      /* what went wrong last; the caller may reset it */
    int fail_errno;
    int fail_gai;
};

/* Sets up @t, closed, for @host (kept, not copied) and @port. */
void host_tcp_init(struct host_tcp *t, const char *host, uint16_t port,
                   uint32_t connect_timeout_ms);

/* The four operations of struct host_net_ops, @ctx a struct host_tcp; they
 * return 0 or a negative errno (recv: the count, or 0 on timeout). */
int host_tcp_open(void *ctx);
int host_tcp_send(void *ctx, const void *data, uint32_t len);
int host_tcp_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms);
void host_tcp_close(void *ctx);

#endif

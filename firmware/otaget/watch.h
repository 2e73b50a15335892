/* SPDX-License-Identifier: MIT */
/* otaget's transport: the host port's TCP client (host_tcp.h), with a
 * second HTTP parser over the received bytes that keeps the status of each
 * response, so that a failure can be named (the engine says "a status other
 * than 200", not which one, and "the connection failed", not why: the
 * client's fail fields say that). Any failure or timeout ends a progress
 * bar first, since the engine may log next. */
#ifndef OTAGET_WATCH_H
#define OTAGET_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"
#include "host_tcp.h"
#include "ota_http.h"
#include "otad/proto.h"

struct watch {
    struct host_tcp tcp;
    struct ota_http_parser parser;
    uint8_t body[OTA_BLOCK_WIRE];
    bool watching;            /* false after bytes the parser refused */
    uint32_t last_status;     /* of the last complete response, 0: none */
};

/* Sets up @w, closed, for @host (kept, not copied) and @port. */
void watch_init(struct watch *w, const char *host, uint16_t port, uint32_t connect_timeout_ms);

/* Forgets the last failure and status, before an attempt. */
void watch_attempt(struct watch *w);

/* The transport for host_net_use(), over @w (which must outlive its use). */
struct host_net_ops watch_ops(struct watch *w);

#endif

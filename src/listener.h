/* SPDX-License-Identifier: MIT */
/* The listening socket. otad creates and binds it itself (rather than letting
 * libmicrohttpd do it) so bind errors are reported precisely and IPv4 and
 * IPv6 literals are handled alike; libmicrohttpd then accepts on it. */
#ifndef OTAD_LISTENER_H
#define OTAD_LISTENER_H

#include <stddef.h>
#include <stdint.h>

/* Opens a TCP socket listening on @addr (an IPv4 or IPv6 literal) and @port.
 * Returns the descriptor (the caller owns it) or a negative errno. An IPv6
 * wildcard ("::") also accepts IPv4 clients. */
int listener_open(const char *addr, uint16_t port);

/* Writes "ADDR:PORT" (IPv6 as "[ADDR]:PORT") of the bound socket @fd. */
void listener_describe(int fd, char *buf, size_t len);

#endif

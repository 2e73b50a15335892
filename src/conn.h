/* SPDX-License-Identifier: MIT */
/* What otad remembers about one client TCP connection across its requests:
 * the generation it is pinned to, the device it serves (so that block
 * requests need no headers), and whether the legacy keep-alive must give its
 * socket back to the HTTP library after the library closes it.
 *
 * A legacy connection is re-added to the library as a new library
 * connection; its state is parked here in between so the pin and the device
 * survive. */
#ifndef OTAD_CONN_H
#define OTAD_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "download.h"

/* Kept small: every open connection has one, idle ones included (about
 * 220 bytes with its pin and its download). */
struct conn {
    bool reopen;            /* the last request asked for "close" (legacy) */
    uint64_t head_bytes;    /* legacy: bytes of the request heads parsed on the socket */
    uint32_t pin_version;   /* the version the pinned header announced */
    uint64_t pin_gen;       /* the generation that header described */
    char *pin_name;         /* NAME whose header was fetched, or NULL; owned */
    size_t pin_len;
    struct tls_hold *tls;   /* HTTPS: the certificate pairs this connection may use */
    struct fleet_tag *fleet; /* the device of its last header request, or NULL; owned */
    struct deadline *deadline; /* its request head's (http.c owns it), or NULL */
    /* Plain HTTP: waiting for a request line (at the start, or after a
     * response the library keeps the connection open for), with the bytes
     * the socket had received and sent then; see http_conn.c. */
    bool awaiting, keeps;
    uint64_t rx_mark, tx_mark;
    /* The access log's: the download in progress (downloads), and when
     * the head of the request being answered came in (requests; monotonic us). */
    struct download download;
    int64_t request_us;
    /* The 260 bytes of the block response being sent, made at the
     * connection's first block request (conn_block_buffer()); owned. A
     * connection sends one response at a time. */
    uint8_t *block_wire;
    /* While parked: */
    struct conn *next;
    int fd;
    socklen_t peer_len;
    union {                 /* otad listens on IPv4 and IPv6 only */
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
};

/* Connections between the library's close and their re-adding. */
struct conn_parking {
    pthread_mutex_t lock;
    struct conn *head;
};

/* Returns a new, unpinned state, or NULL. */
struct conn *conn_new(void);

/* Frees @c, its pin, its device tag and its download. NULL is ignored. */
void conn_free(struct conn *c);

/* @c's buffer for the wire bytes of a block response (OTA_BLOCK_WIRE), made
 * on first use; NULL if out of memory. It is free again once the response
 * written into it was sent. */
uint8_t *conn_block_buffer(struct conn *c);

/* Pins @c to generation @gen of @name (@len bytes), announced as @version.
 * Returns 0 or -ENOMEM (then @c is unpinned). */
int conn_pin(struct conn *c, const char *name, size_t len, uint64_t gen, uint32_t version);

/* True when @c is pinned to a generation of @name; writes it to @ret_gen. */
bool conn_pinned(const struct conn *c, const char *name, size_t len, uint64_t *ret_gen);

void conn_parking_init(struct conn_parking *p);

/* Frees every state still parked. */
void conn_parking_fini(struct conn_parking *p);

/* Parks @c for the socket @fd connected to @peer; the parking owns it. */
void conn_park(struct conn_parking *p, struct conn *c, int fd, const struct sockaddr *peer,
               socklen_t peer_len);

/* Takes back the state parked for @fd and @peer (both must match: a failed
 * re-add closes the descriptor, whose number may then serve another client).
 * Returns it (the caller owns it) or NULL. */
struct conn *conn_claim(struct conn_parking *p, int fd, const struct sockaddr *peer,
                        socklen_t peer_len);

#endif

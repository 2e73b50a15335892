/* The HTTP front end: libmicrohttpd serving the block protocol from the
 * catalog, with keep-alive, pipelining and the legacy keep-alive for clients
 * that send "Connection: close" yet keep writing on the same socket. */
#ifndef OTAD_HTTP_H
#define OTAD_HTTP_H

#include <stdbool.h>

#include "catalog.h"

struct tls;

struct http_options {
    int listen_fd;            /* bound, listening socket; ownership passes to http */
    struct tls *tls;          /* HTTPS with these certificates, or NULL (borrowed) */
    unsigned idle_timeout;    /* seconds */
    bool legacy_keep_alive;   /* plain HTTP only: ignored with tls */
    unsigned threads;         /* worker threads, >= 1 */
    unsigned max_connections;
    size_t connection_memory; /* the library's memory per connection */
};

struct http;

/* Starts the worker threads serving @cat (borrowed: it must outlive the
 * server). Returns 0 or a negative errno; the listening socket is closed on
 * failure too. */
int http_start(const struct http_options *o, struct catalog *cat, struct http **ret);

/* Starts stopping: legacy sockets are no longer handed back; connections
 * keep being served until http_stop(). */
void http_begin_stop(struct http *h);

/* Waits until no request is being answered, at most @timeout_ms. Returns true
 * if none is left. */
bool http_drain(struct http *h, unsigned timeout_ms);

/* Closes every connection, stops the threads and frees @h. NULL is ignored. */
void http_stop(struct http *h);

#endif

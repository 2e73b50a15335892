/* SPDX-License-Identifier: MIT */
/* The HTTP front end: libmicrohttpd serving the block protocol from the
 * catalog, with keep-alive, pipelining and the legacy keep-alive for clients
 * that send "Connection: close" yet keep writing on the same socket. */
#ifndef OTAD_HTTP_H
#define OTAD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "download.h"
#include "fleet.h"
#include "route.h"

struct tls;

enum http_event_kind {
    HTTP_EVENT_REQUEST,          /* a request was answered */
    HTTP_EVENT_CONNECTION,       /* a client connection opened or closed */
    HTTP_EVENT_KEEP_ALIVE_FAILED, /* a legacy socket could not be kept open */
    HTTP_EVENT_HEADER_ROOM,      /* the library closed a connection: no room for the response */
    HTTP_EVENT_LIBRARY,          /* any other message of the library */
    HTTP_EVENT_DOWNLOAD,         /* a download ended (http_options.log_downloads) */
};

/* Something an operator may want to know; valid during the callback only.
 * Nothing in it is formatted for the callback: counting is cheap. */
struct http_event {
    enum http_event_kind kind;
    void *connection;            /* REQUEST, DOWNLOAD: the client, for http_peer_name() */
    const char *method;          /* REQUEST */
    const char *url;             /* REQUEST */
    unsigned status;             /* REQUEST */
    enum route_kind endpoint;    /* REQUEST: what the path named (ROUTE_NONE also for 431) */
    uint64_t body_bytes;         /* REQUEST: bytes of the response body (0 for HEAD) */
    const char *address;         /* REQUEST: the client's address if it was formatted, or NULL */
    /* REQUEST: the access log wants its line (http_options.log_requests),
     * and the microseconds from its head's arrival to its answer queued. */
    bool log_request;
    uint64_t duration_us;
    /* DOWNLOAD: the one that ended, and whether it was finished. */
    const struct download *download;
    bool finished;
    const char *device;          /* DOWNLOAD: its X-Device-Id, or NULL */
    /* REQUEST: POST /NAME/report as the registry decided it, or NULL. */
    const struct fleet_report_result *report;
    /* REQUEST: an Arduino updater's request refused with 403 (espota.h):
     * why, and the STA-MAC it sent (the client's bytes, or NULL); else NULL. */
    const char *esp_refused;
    const char *esp_device;
    /* CONNECTION: +1 opened, -1 closed. A legacy socket handed back stays
     * one open connection. */
    int connections;
    int error;                   /* KEEP_ALIVE_FAILED: negative errno */
    const char *message;         /* HEADER_ROOM, LIBRARY: the library's words */
};

struct http_options {
    int listen_fd;            /* bound, listening socket; ownership passes to http */
    struct tls *tls;          /* HTTPS with these certificates, or NULL (borrowed) */
    unsigned idle_timeout;    /* seconds */
    unsigned request_timeout; /* seconds for a request head (see http.c) */
    bool legacy_keep_alive;   /* plain HTTP only: ignored with tls */
    unsigned threads;         /* worker threads, >= 1 */
    unsigned max_connections;
    unsigned max_connections_per_address; /* 0: no limit */
    size_t connection_memory; /* the library's memory per connection */
    /* Devices are tracked in it (borrowed: it must outlive the server), and
     * POST /NAME/report is served; NULL: neither (/NAME/report is 404). */
    struct fleet *fleet;
    /* Called from the worker threads with what happened, or NULL. It runs
     * for every request: a costly report should be skipped early. */
    void (*event)(void *cls, const struct http_event *e);
    void *event_cls;
    /* The access log: report each download's end (HTTP_EVENT_DOWNLOAD), or
     * time each request (log_request). Neither costs anything when false. */
    bool log_downloads;
    bool log_requests;
};

struct http;

/* Starts the worker threads serving @cat (borrowed: it must outlive the
 * server). Returns 0 or a negative errno; the listening socket is closed on
 * failure too. */
int http_start(const struct http_options *o, struct catalog *cat, struct http **ret);

/* Room for any client address as text (INET6_ADDRSTRLEN). */
#define HTTP_PEER_NAME_MAX 46

/* Formats the client address of the REQUEST event @e ("?" if unknown) into
 * @buf of @len bytes (e->address if set). Only asked for when needed: it
 * costs more than the rest of a block request. */
void http_peer_name(const struct http_event *e, char *buf, size_t len);

/* The client port of the REQUEST or DOWNLOAD event @e (0 if unknown). */
unsigned http_peer_port(const struct http_event *e);

/* Starts stopping: legacy sockets are no longer handed back; connections
 * keep being served until http_stop(). */
void http_begin_stop(struct http *h);

/* Waits until no request is being answered, at most @timeout_ms. Returns true
 * if none is left. */
bool http_drain(struct http *h, unsigned timeout_ms);

/* Closes every connection, stops the threads and frees @h. NULL is ignored. */
void http_stop(struct http *h);

#endif

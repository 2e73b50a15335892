/* SPDX-License-Identifier: MIT */
/* The http module's own parts, shared by http.c (the daemon and its
 * requests) and http_conn.c (its connections): not for other modules. */
#ifndef OTAD_HTTP_INT_H
#define OTAD_HTTP_INT_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "conn.h"
#include "http.h"
#include "reply.h"
#include "serve.h"

struct http {
    /* Written once MHD_start_daemon() returns; worker threads may already
     * serve connections from the backlog before that. */
    _Atomic(struct MHD_Daemon *) daemon;
    struct catalog *cat;
    struct tls *tls;                 /* HTTPS only: the certificate pairs */
    bool legacy_keep_alive;
    atomic_bool stopping;
    atomic_long in_flight;           /* requests between handler and completion */
    struct conn_parking parking;     /* legacy sockets between two library connections */
    struct reply_set replies;        /* shared, reusable responses */
    size_t connection_memory;        /* as given to the library */
    struct deadline_watch *deadlines; /* of request heads */
    struct fleet *fleet;             /* NULL: no tracking */
    int64_t first_head_ms, later_head_ms; /* how long heads may take (see http.c) */
    void (*event)(void *cls, const struct http_event *e);
    void *event_cls;
    bool log_downloads, log_requests; /* the access log's (http_options) */
};

static inline void http_report(const struct http *h, const struct http_event *e)
{
    if (h->event != NULL)
        h->event(h->event_cls, e);
}

/* Plain HTTP: @conn (on @c) now waits for a request line; a close before
 * one is parsed answers 400 if bytes came (see http_conn.c). */
void http_conn_await(struct MHD_Connection *c, struct conn *conn);

/* Counts what the answer @s to a request for @route served into the
 * download of @conn (access_log: downloads), reporting the download it ends. */
void http_count_download(const struct http *h, struct MHD_Connection *c, struct conn *conn,
                         const struct route *route, const struct serve_response *s);

/* MHD_OPTION_NOTIFY_CONNECTION (@cls is the http): a connection's state
 * made when it starts (or taken back from the parking), and released, or
 * parked by the legacy keep-alive, when it closes. */
void http_connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe);

#endif

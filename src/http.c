/* SPDX-License-Identifier: MIT */
/* The HTTP front end.
 *
 * Legacy keep-alive. The bootloaders in the field send "Connection: close" on
 * every request and then write the next request on the same TCP connection:
 * an ESP8266 in transparent mode cannot open a new one by itself. The server
 * they were built against ignored the header, so they depend on the socket
 * staying open. libmicrohttpd honours the header and closes the connection
 * after the response. Rather than patch the library, otad lets it finish the
 * connection and gives the socket back to it:
 *
 *   1. The request handler notes in the connection's context whether the
 *      request asked for "close" (and legacy_keep_alive is on). Only an
 *      HTTP/1.1 request: the bootloaders send those, and an HTTP/1.0 client
 *      (the Arduino ESP updaters) waits for the close to end the body.
 *   2. When the response was sent completely (MHD_OPTION_NOTIFY_COMPLETED
 *      reports COMPLETED_OK) the note stays; any failure clears it.
 *   3. libmicrohttpd calls MHD_OPTION_NOTIFY_CONNECTION with
 *      MHD_CONNECTION_NOTIFY_CLOSED before it closes its descriptor. There,
 *      otad duplicates the descriptor and hands the duplicate back with
 *      MHD_add_connection(): the TCP connection survives the library's
 *      close() because another descriptor refers to it, and the next request
 *      on it is read by a fresh libmicrohttpd connection.
 *
 * This relies on MHD_USE_TURBO: without it libmicrohttpd calls
 * shutdown(SHUT_WR) before closing, which would end the TCP stream for the
 * duplicate as well. Bytes of a request pipelined behind a "Connection:
 * close" one that the library read die with its buffer, so such a socket is
 * closed, not handed back in the middle of a request (legacy.c). The legacy
 * devices wait for each response before writing the next request, and HTTP
 * allows a server to drop requests sent after "close".
 *
 * The response to such a request still says "Connection: close" (the library
 * always announces the close it believes in); legacy devices skip headers.
 * Step 3, and the rest of a connection's life, is in http_conn.c.
 *
 * Consistent downloads (see serve.c) pin a connection to a generation. The
 * pin lives in the connection's state (struct conn), which the legacy
 * keep-alive parks while the socket passes from one library connection to
 * the next.
 *
 * Request heads have a deadline (deadline.c closes): request_timeout after
 * the connection's start for the first. otad does not see the first byte of
 * a later one, so it is due idle_timeout + request_timeout after the previous
 * response (a legacy socket handed back counts as later): never before a head
 * that starts within the idle timeout and takes request_timeout.
 *
 * Reports. POST /NAME/report is the one request whose body otad reads: at
 * most SERVE_REPORT_MAX bytes, collected from the library's upload calls
 * into a buffer that is the request's context. A Content-Length beyond that
 * is answered 413 before the body is read, and the library then closes the
 * connection rather than read it. A chunked body that grows past it cannot
 * be answered (the library queues no response in the middle of a body): the
 * refusal closes the connection at once.
 *
 * What happens that an operator may want to know (each request, connections
 * opened and closed, a socket the keep-alive could not keep, the library's
 * messages) is reported to the caller's event callback; this module does not
 * log. */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "deadline.h"
#include "http_int.h"
#include "legacy.h"
#include "reply.h"
#include "serve.h"
#include "tls.h"

/* Marks a request as counted in in_flight (its request context). */
static char in_flight_marker;

/* Marks a request whose target is longer than REPLY_URI_MAX, from the
 * library's URI callback until the first call of handle(). */
static char uri_too_long_marker;

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* Sets when the head of the next request on @c is due (0: not due). */
static void head_due(struct MHD_Connection *c, int64_t due)
{
    struct conn *conn = conn_of(c);

    if (conn != NULL)
        deadline_set(conn->deadline, due);
}

static bool asks_close(struct MHD_Connection *c)
{
    return legacy_asks_close(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION));
}

/* Legacy keep-alive: counts the bytes of each request head read from the
 * socket, to tell at the hand-back whether the library read further. */
static void count_head(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct conn *conn = conn_of(c);

    if (ci != NULL && conn != NULL)
        conn->head_bytes += ci->header_size;
}


/* The registry's clock: wall-clock milliseconds since the epoch. */
static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Queues @r for the request event @e (filled but for its kind and
 * connection) and reports it. */
static enum MHD_Result respond(struct http *h, struct MHD_Connection *c, struct http_event *e,
                               struct MHD_Response *r)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO; /* out of memory: the library closes the connection */
    ret = MHD_queue_response(c, e->status, r);
    e->kind = HTTP_EVENT_REQUEST;
    e->connection = c;
    e->log_request = h->log_requests;
    if (h->log_requests && conn_of(c) != NULL)
        e->duration_us = (uint64_t)(download_now_us() - conn_of(c)->request_us);
    if (strcmp(e->method, "HEAD") == 0)
        e->body_bytes = 0;
    http_report(h, e);
    return ret;
}

/* Answers the request, a report with its body @b (or NULL). */
static enum MHD_Result answer(struct http *h, struct MHD_Connection *c, const char *url,
                              const char *method, const struct reply_body *b)
{
    struct serve_request rq;
    struct serve_response s;
    struct MHD_Response *r;
    enum MHD_Result ret;
    char address[HTTP_PEER_NAME_MAX];
    struct http_event e = {.method = method, .url = url};

    rq.method = method;
    route_parse(url, strlen(url), &rq.route);
    rq.conn = conn_of(c);
    rq.fleet = h->fleet;
    rq.address = NULL;
    rq.body = b != NULL ? b->data : NULL;
    rq.body_len = b != NULL ? b->len : 0;
    rq.now_ms = h->fleet != NULL ? wall_ms() : 0;
    reply_read_request(c, &rq);
    if (serve_needs_address(&rq)) {
        reply_peer_name(c, address, sizeof(address));
        rq.address = address;
    }
    serve_handle(h->cat, &rq, &s);
    e.endpoint = rq.route.kind;
    e.address = rq.address;
    e.report = s.has_report ? &s.report : NULL;
    e.esp_refused = s.esp_refused;
    e.esp_device = rq.esp.sta_mac;
    r = reply_response(&h->replies, &s);
    if (r == NULL) {
        e.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        e.body_bytes = h->replies.canned_len[SERVE_NO_MEMORY];
        return respond(h, c, &e, h->replies.canned[SERVE_NO_MEMORY]);
    }
    e.status = s.status;
    e.body_bytes = reply_body_bytes(&h->replies, &s);
    if (h->log_downloads)
        http_count_download(h, c, rq.conn, &rq.route, &s);
    ret = respond(h, c, &e, r);
    if (s.canned == SERVE_BODY)
        MHD_destroy_response(r);
    return ret;
}

/* A report's body: the first call, with the head, makes its buffer the
 * request's context (@req_cls); a body announced too long is refused now. */
static enum MHD_Result start_body(struct http *h, struct MHD_Connection *c, const char *url,
                                  const char *method, void **req_cls)
{
    struct reply_body *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return MHD_NO; /* out of memory: the library closes the connection */
    *req_cls = b;
    if (!reply_body_announced_too_long(c))
        return MHD_YES;
    b->len = SERVE_REPORT_MAX + 1;
    b->answered = true;
    return answer(h, c, url, method, b);
}

/* The next calls: a piece of the body, or (none left) its end. A piece
 * past the limit is refused at once: the library cannot queue that answer
 * before the body's end, so it closes the connection instead. */
static enum MHD_Result take_body(struct http *h, struct MHD_Connection *c, const char *url,
                                 const char *method, struct reply_body *b, const char *data,
                                 size_t *size)
{
    size_t n = *size;

    *size = 0;
    if (b->answered)
        return MHD_YES;
    if (n > 0 && reply_body_add(b, data, n))
        return MHD_YES;
    b->answered = true;
    return answer(h, c, url, method, b);
}

/* True when the request is a report to be read (with a registry only). */
static bool is_report(const struct http *h, const char *url, const char *method)
{
    struct route route;

    if (h->fleet == NULL || strcmp(method, "POST") != 0)
        return false;
    route_parse(url, strlen(url), &route);
    return route.kind == ROUTE_REPORT;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the only look at the request target as sent
 * (query included) once the request line is in; what it returns becomes the
 * request's context. */
static void *check_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct conn *conn = conn_of(c);

    (void)cls;
    if (conn != NULL)
        conn->awaiting = false; /* a request line was parsed */
    return uri != NULL && strlen(uri) > REPLY_URI_MAX ? &uri_too_long_marker : NULL;
}

/* Answers the first call with a 414 or 431 from @set, after which the
 * library closes the connection. */
static enum MHD_Result refuse(struct http *h, struct MHD_Connection *c, const char *url,
                              const char *method, unsigned status, struct MHD_Response *r,
                              size_t len)
{
    struct conn *conn = conn_of(c);

    if (conn != NULL)
        conn->reopen = false; /* the library closes after this answer */
    return respond(h, c,
                   &(struct http_event){
                       .method = method, .url = url, .status = status, .body_bytes = len},
                   r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct http *h = cls;

    bool uri_too_long = *req_cls == &uri_too_long_marker;
    bool first = *req_cls == NULL || uri_too_long;

    if (*req_cls != NULL && *req_cls != &in_flight_marker && !uri_too_long)
        return take_body(h, c, url, method, *req_cls, upload_data, upload_data_size);
    if (first) {
        *req_cls = &in_flight_marker;
        atomic_fetch_add_explicit(&h->in_flight, 1, memory_order_relaxed);
        head_due(c, 0); /* the head is in */
        if (h->log_requests && conn_of(c) != NULL)
            conn_of(c)->request_us = download_now_us();
        if (h->legacy_keep_alive)
            count_head(c);
        /* libmicrohttpd closes the connection after a response queued from
         * this first call, made as soon as the headers are in, so requests
         * are answered from the second call, after the (empty) body. Only a
         * request announcing a body is refused at once: otad never reads
         * bodies, and closing beats draining an upload nobody wants. */
        if (uri_too_long)
            return refuse(h, c, url, method, MHD_HTTP_URI_TOO_LONG, h->replies.uri_too_long,
                          h->replies.uri_too_long_len);
        if (reply_head_too_large(c, h->connection_memory))
            return refuse(h, c, url, method, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                          h->replies.too_large, h->replies.too_large_len);
        if (!reply_has_body(c))
            return MHD_YES;
        if (is_report(h, url, method))
            return start_body(h, c, url, method, req_cls);
    }
    {
        struct conn *conn = conn_of(c);
        /* A request is answered from its first call only when it has a body
         * (see above): no need to walk its headers again for that, nor for
         * "close" twice (about 320 instructions of a block request). */
        bool again = conn != NULL && !first && strcmp(version, MHD_HTTP_VERSION_1_1) == 0,
             close = again && asks_close(c);

        /* An unread body would be taken for the next request. */
        if (conn != NULL && h->legacy_keep_alive)
            conn->reopen = close;
        /* Whether the library reads another request line after this answer. */
        if (conn != NULL)
            conn->keeps = again && !close;
    }
    return answer(h, c, url, method, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;

    /* A request refused by the library after its request line was read
     * never reached handle(): it was not counted. */
    if (*req_cls == &uri_too_long_marker)
        *req_cls = NULL;
    if (*req_cls != NULL) {
        atomic_fetch_sub_explicit(&h->in_flight, 1, memory_order_relaxed);
        if (*req_cls != &in_flight_marker)
            free(*req_cls); /* a report's body */
        *req_cls = NULL;
    }
    head_due(c, deadline_now() + h->later_head_ms);
    {
        struct conn *conn = conn_of(c);

        if (conn != NULL && h->tls == NULL && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK &&
            conn->keeps)
            http_conn_await(c, conn);
        if (conn != NULL)
            conn->keeps = false;
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        struct conn *conn = conn_of(c);

        /* A socket whose last exchange failed is not in sync: let it close. */
        if (conn != NULL)
            conn->reopen = false;
    }
}

static void library_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    reply_library_message(msg, sizeof(msg), fmt, ap);
    /* The one message an operator can act on: a request so large that its
     * response header did not fit. */
    http_report(cls, &(struct http_event){
                    .kind = strstr(msg, "failed to create response header") != NULL
                                ? HTTP_EVENT_HEADER_ROOM
                                : HTTP_EVENT_LIBRARY,
                    .message = msg,
                });
}

int http_start(const struct http_options *o, struct catalog *cat, struct http **ret)
{
    struct MHD_Daemon *d;
    struct http *h;
    unsigned flags;
    int r;

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(o->listen_fd);
        return -ENOMEM;
    }
    h->cat = cat;
    /* The hand-over of legacy sockets would lose the TLS session; the
     * devices that need it speak plain HTTP anyway. */
    h->legacy_keep_alive = o->legacy_keep_alive && o->tls == NULL;
    h->tls = o->tls;
    h->connection_memory = o->connection_memory;
    h->event = o->event;
    h->event_cls = o->event_cls;
    h->log_downloads = o->log_downloads;
    h->log_requests = o->log_requests;
    h->fleet = o->fleet;
    h->first_head_ms = (int64_t)o->request_timeout * 1000;
    h->later_head_ms = ((int64_t)o->idle_timeout + o->request_timeout) * 1000;
    conn_parking_init(&h->parking);
    r = reply_open(&h->replies);
    if (r < 0)
        goto fail;
    r = deadline_watch_start(&h->deadlines);
    if (r < 0)
        goto fail;

    /* ITC: MHD_add_connection() from other threads. No Date header: devices
     * parse tiny buffers. Plain HTTP: epoll, and TURBO for no shutdown()
     * before close, which the legacy keep-alive needs (see the top).
     * HTTPS: poll(), no TURBO. In the library's epoll loop a TLS handshake
     * stays marked readable once a byte came, so one waiting for more spins
     * its worker through epoll_wait(..., 0); TURBO skips the TLS shutdown
     * that lets a handshake that timed out be closed at all. */
    flags = MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG;
    if (o->tls != NULL)
        flags |= MHD_USE_TLS | MHD_USE_POLL_INTERNAL_THREAD;
    else
        flags |= MHD_USE_TURBO | MHD_USE_EPOLL_INTERNAL_THREAD;
    struct MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, o->tls != NULL ? tls_retrieve_callback() : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities()},
        {MHD_OPTION_END, 0, NULL},
    };
    /* connection_memory: the library keeps each connection's request line
     * and headers, their parsed form and the response header in one block
     * of this size, zeroes all of it after every request and holds it while
     * the connection idles. Its default, 32 KiB, cost a sixth of the CPU
     * time of a block request and 326 MiB for 10,000 idle devices. */
    errno = 0;
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h,
        /* First, or the library prints what it says of the options before
         * it on stderr itself. */
        MHD_OPTION_EXTERNAL_LOGGER, library_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)o->listen_fd,
        MHD_OPTION_UNESCAPE_CALLBACK, reply_unescape, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, check_uri, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_address,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->connection_memory,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, http_connection_event, h,
        MHD_OPTION_ARRAY, o->tls != NULL ? tls_options : &tls_options[2],
        MHD_OPTION_END);
    if (d == NULL) {
        /* The library says nothing of why; the errno of the call that
         * failed inside it (threads, epoll, memory) is the best cause. */
        r = errno > 0 ? -errno : -EIO;
        goto fail;
    }
    atomic_store(&h->daemon, d);
    *ret = h;
    return 0;

fail:
    deadline_watch_stop(h->deadlines);
    reply_close(&h->replies);
    conn_parking_fini(&h->parking);
    free(h);
    close(o->listen_fd);
    return r;
}

void http_begin_stop(struct http *h)
{
    /* MHD_quiesce_daemon() is not used: with a pool of epoll threads it
     * races with the workers removing the listening socket themselves, and
     * the library aborts when it loses. New connections in the last moments
     * are closed by http_stop() like idle ones. */
    atomic_store(&h->stopping, true);
}

bool http_drain(struct http *h, unsigned timeout_ms)
{
    const struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};

    for (unsigned waited = 0; atomic_load(&h->in_flight) > 0; waited += 10) {
        if (waited >= timeout_ms)
            return false;
        nanosleep(&tick, NULL);
    }
    return true;
}

void http_stop(struct http *h)
{
    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    MHD_stop_daemon(atomic_load(&h->daemon));
    deadline_watch_stop(h->deadlines); /* the library's closes removed every entry */
    reply_close(&h->replies);
    conn_parking_fini(&h->parking);
    free(h);
}

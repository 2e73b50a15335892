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
 *      request asked for "close" (and legacy_keep_alive is on).
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
 * What happens that an operator may want to know (each request, a socket the
 * keep-alive could not keep, the library's messages) is reported to the
 * caller's event callback; this module does not log. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "deadline.h"
#include "legacy.h"
#include "reply.h"
#include "serve.h"
#include "tls.h"

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
    int64_t first_head_ms, later_head_ms; /* how long heads may take (see the top) */
    void (*event)(void *cls, const struct http_event *e);
    void *event_cls;
};

/* Marks a request as counted in in_flight (its request context). */
static char in_flight_marker;

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

static void report(const struct http *h, const struct http_event *e)
{
    if (h->event != NULL)
        h->event(h->event_cls, e);
}

static enum MHD_Result respond(struct http *h, struct MHD_Connection *c, const char *method,
                               const char *url, unsigned status, struct MHD_Response *r)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO; /* out of memory: the library closes the connection */
    ret = MHD_queue_response(c, status, r);
    report(h, &(struct http_event){
                  .kind = HTTP_EVENT_REQUEST,
                  .connection = c,
                  .method = method,
                  .url = url,
                  .status = status,
              });
    return ret;
}

static enum MHD_Result answer(struct http *h, struct MHD_Connection *c, const char *url,
                              const char *method)
{
    struct serve_request rq;
    struct serve_response s;
    struct MHD_Response *r;
    enum MHD_Result ret;

    rq.method = method;
    route_parse(url, strlen(url), &rq.route);
    rq.conn = conn_of(c);
    reply_read_request(c, &rq);
    serve_handle(h->cat, &rq, &s);
    r = reply_response(&h->replies, &s);
    if (r == NULL)
        return respond(h, c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       h->replies.canned[SERVE_NO_MEMORY]);
    ret = respond(h, c, method, url, s.status, r);
    if (s.canned == SERVE_BODY)
        MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct http *h = cls;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (*req_cls == NULL) {
        *req_cls = &in_flight_marker;
        atomic_fetch_add_explicit(&h->in_flight, 1, memory_order_relaxed);
        head_due(c, 0); /* the head is in */
        if (h->legacy_keep_alive)
            count_head(c);
        /* libmicrohttpd closes the connection after a response queued from
         * this first call, made as soon as the headers are in, so requests
         * are answered from the second call, after the (empty) body. Only a
         * request announcing a body is refused at once: otad never reads
         * bodies, and closing beats draining an upload nobody wants. */
        if (reply_head_too_large(c, h->connection_memory)) {
            struct conn *conn = conn_of(c);

            if (conn != NULL)
                conn->reopen = false; /* the library closes after this answer */
            return respond(h, c, method, url, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                           h->replies.too_large);
        }
        if (!reply_has_body(c))
            return MHD_YES;
    }
    if (h->legacy_keep_alive) {
        struct conn *conn = conn_of(c);

        /* An unread body would be taken for the next request. */
        if (conn != NULL)
            conn->reopen = asks_close(c) && !reply_has_body(c);
    }
    return answer(h, c, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;

    if (*req_cls == &in_flight_marker) {
        atomic_fetch_sub_explicit(&h->in_flight, 1, memory_order_relaxed);
        *req_cls = NULL;
    }
    head_due(c, deadline_now() + h->later_head_ms);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        struct conn *conn = conn_of(c);

        /* A socket whose last exchange failed is not in sync: let it close. */
        if (conn != NULL)
            conn->reopen = false;
    }
}

static socklen_t address_length(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Legacy keep-alive, step 3 (see the top of this file). Takes @conn. */
static void reopen(struct http *h, struct MHD_Connection *c, struct conn *conn)
{
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct MHD_Daemon *d;
    socklen_t len;
    int fd;

    /* Bytes read past the last request died with the library's buffer:
     * the stream cannot be resumed in step, so it is closed. */
    if (fdi == NULL || ai == NULL || ai->client_addr == NULL ||
        !legacy_in_sync(fdi->connect_fd, conn->head_bytes)) {
        conn_free(conn);
        return;
    }
    len = address_length(ai->client_addr);
    fd = fcntl(fdi->connect_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        report(h, &(struct http_event){.kind = HTTP_EVENT_KEEP_ALIVE_FAILED, .error = -errno});
        conn_free(conn);
        return;
    }
    /* Parked before the library may start the new connection, in any thread. */
    conn->reopen = false;
    conn_park(&h->parking, conn, fd, ai->client_addr, len);
    /* A connection accepted from the backlog while the library was starting
     * can get here before MHD_start_daemon() has returned the daemon. */
    while ((d = atomic_load(&h->daemon)) == NULL)
        sched_yield();
    /* The library takes the descriptor and closes it itself on failure. */
    if (MHD_add_connection(d, fd, ai->client_addr, len) != MHD_YES) {
        report(h, &(struct http_event){.kind = HTTP_EVENT_KEEP_ALIVE_FAILED, .error = -errno});
        conn_free(conn_claim(&h->parking, fd, ai->client_addr, len));
    }
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct http *h = cls;
    struct conn *conn = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fdi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        int64_t head_ms = h->later_head_ms;

        if (h->legacy_keep_alive && fdi != NULL && ai != NULL && ai->client_addr != NULL)
            conn = conn_claim(&h->parking, fdi->connect_fd, ai->client_addr,
                              address_length(ai->client_addr));
        if (conn == NULL) {
            conn = conn_new();
            head_ms = h->first_head_ms;
        }
        /* Without memory for it the connection has the idle timeout only. */
        if (conn != NULL && fdi != NULL)
            (void)deadline_add(h->deadlines, fdi->connect_fd, deadline_now() + head_ms,
                               &conn->deadline);
        /* A handshake may be handed any pair current from now to the close. */
        if (h->tls != NULL)
            tls_hold(h->tls, conn != NULL ? &conn->tls : NULL);
        *socket_context = conn;
        return;
    }
    *socket_context = NULL;
    if (conn != NULL) {
        /* Before the library closes the descriptor (see deadline.c). */
        deadline_remove(h->deadlines, conn->deadline);
        conn->deadline = NULL;
    }
    if (h->tls != NULL)
        tls_release(h->tls, conn != NULL ? conn->tls : NULL);
    if (conn != NULL && conn->reopen && !atomic_load(&h->stopping))
        reopen(h, c, conn);
    else
        conn_free(conn);
}

static void library_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t len;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    /* The one message an operator can act on: a request so large that its
     * response header did not fit. */
    report(cls, &(struct http_event){
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
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_address,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->connection_memory,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, connection_event, h,
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

_Static_assert(HTTP_PEER_NAME_MAX >= INET6_ADDRSTRLEN, "room for an IPv6 address");

void http_peer_name(const struct http_event *e, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(e->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = ci != NULL ? ci->client_addr : NULL;
    const void *addr = NULL;

    if (peer != NULL && peer->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)peer)->sin_addr;
    else if (peer != NULL && peer->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    if (addr == NULL || inet_ntop(peer->sa_family, addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
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

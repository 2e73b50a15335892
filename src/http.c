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
 * duplicate as well. A request pipelined behind a "Connection: close" request
 * may be discarded by the library with the old connection; the legacy devices
 * wait for each response before writing the next request, so they never do
 * that, and HTTP allows a server to drop requests sent after "close".
 *
 * The response to such a request still says "Connection: close" (the library
 * always announces the close it believes in); legacy devices skip headers. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "listing.h"
#include "log.h"
#include "route.h"

struct http {
    /* Written once MHD_start_daemon() returns; worker threads may already
     * serve connections from the backlog before that. */
    _Atomic(struct MHD_Daemon *) daemon;
    struct catalog *cat;
    bool legacy_keep_alive;
    atomic_bool stopping;
    atomic_long in_flight;           /* requests between handler and completion */
    struct MHD_Response *not_found;  /* shared, reusable error responses */
    struct MHD_Response *out_of_range;
    struct MHD_Response *not_allowed;
    struct MHD_Response *no_memory;
};

/* Per-connection state, in libmicrohttpd's socket context. */
struct conn {
    bool reopen; /* legacy: give the socket back after the library closes it */
};

/* Marks a request as counted in in_flight (its request context). */
static char in_flight_marker;

static const char octet_stream[] = "application/octet-stream";

static struct MHD_Response *static_response(const char *body, const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

    if (r == NULL)
        return NULL;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain") != MHD_YES ||
        (allow != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static void release_image(void *cls)
{
    image_unref(cls);
}

static bool asks_close(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);

    return v != NULL && strcasestr(v, "close") != NULL;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (len != NULL && strcmp(len, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static bool wants_json(struct MHD_Connection *c)
{
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *accept;

    if (fmt != NULL)
        return strcmp(fmt, "json") == 0;
    accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    return accept != NULL && strcasestr(accept, "application/json") != NULL;
}

static void log_request(struct MHD_Connection *c, const char *method, const char *url,
                        unsigned status)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[INET6_ADDRSTRLEN] = "?";

    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
                      sizeof(addr));
    }
    log_debug("%s %s %s %u", addr, method, url, status);
}

static enum MHD_Result respond(struct MHD_Connection *c, const char *method, const char *url,
                               unsigned status, struct MHD_Response *r)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO; /* out of memory: the library closes the connection */
    ret = MHD_queue_response(c, status, r);
    log_request(c, method, url, status);
    return ret;
}

/* A response whose body points into @img's precomputed memory: no copy. It
 * owns the reference to @img and drops it when the library frees it. */
static struct MHD_Response *image_response(struct image *img, const uint8_t *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)body, release_image, img);

    if (r == NULL) {
        image_unref(img);
        return NULL;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, octet_stream) != MHD_YES) {
        MHD_destroy_response(r); /* calls release_image */
        return NULL;
    }
    return r;
}

static enum MHD_Result serve_listing(struct http *h, struct MHD_Connection *c,
                                     const char *method, const char *url)
{
    struct MHD_Response *r = NULL;
    struct image **list;
    bool json = wants_json(c);
    char *body;
    size_t len;
    enum MHD_Result ret;
    int n;

    n = catalog_list(h->cat, &list);
    if (n < 0)
        return respond(c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR, h->no_memory);
    if (listing_render(list, (size_t)n, json ? LISTING_JSON : LISTING_TEXT, &body, &len) == 0) {
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (r == NULL)
            free(body);
    }
    catalog_release(list, (size_t)n);
    if (r == NULL ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                json ? "application/json" : "text/plain; charset=utf-8") !=
            MHD_YES) {
        if (r != NULL)
            MHD_destroy_response(r);
        return respond(c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR, h->no_memory);
    }
    ret = respond(c, method, url, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct http *h = cls;
    struct route route;
    struct image *img;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (*req_cls == NULL) {
        *req_cls = &in_flight_marker;
        atomic_fetch_add_explicit(&h->in_flight, 1, memory_order_relaxed);
        /* libmicrohttpd closes the connection after a response queued from
         * this first call, made as soon as the headers are in, so requests
         * are answered from the second call, after the (empty) body. Only a
         * request announcing a body is refused at once: otad never reads
         * bodies, and closing beats draining an upload nobody wants. */
        if (!has_body(c))
            return MHD_YES;
    }
    if (h->legacy_keep_alive) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *conn = ci != NULL ? ci->socket_context : NULL;

        if (conn != NULL)
            conn->reopen = asks_close(c);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(c, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);

    route_parse(url, strlen(url), &route);
    if (route.kind == ROUTE_LISTING)
        return serve_listing(h, c, method, url);
    if (route.kind == ROUTE_NONE)
        return respond(c, method, url, MHD_HTTP_NOT_FOUND, h->not_found);
    img = catalog_lookup(h->cat, route.name, route.name_len);
    if (img == NULL)
        return respond(c, method, url, MHD_HTTP_NOT_FOUND, h->not_found);
    if (route.kind == ROUTE_HEADER) {
        r = image_response(img, img->header, OTA_HEADER_WIRE);
    } else if (route.index >= img->nblocks) {
        image_unref(img);
        return respond(c, method, url, MHD_HTTP_RANGE_NOT_SATISFIABLE, h->out_of_range);
    } else {
        r = image_response(img, image_block(img, (uint32_t)route.index), OTA_BLOCK_WIRE);
    }
    if (r == NULL)
        return respond(c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR, h->no_memory);
    ret = respond(c, method, url, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;

    if (*req_cls == &in_flight_marker) {
        atomic_fetch_sub_explicit(&h->in_flight, 1, memory_order_relaxed);
        *req_cls = NULL;
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *conn = ci != NULL ? ci->socket_context : NULL;

        /* A socket whose last exchange failed is not in sync: let it close. */
        if (conn != NULL)
            conn->reopen = false;
    }
}

static socklen_t address_length(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Legacy keep-alive, step 3 (see the top of this file). */
static void reopen(struct http *h, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct sockaddr_storage addr;
    struct MHD_Daemon *d;
    socklen_t len;
    int fd;

    if (fdi == NULL || ai == NULL || ai->client_addr == NULL)
        return;
    len = address_length(ai->client_addr);
    memcpy(&addr, ai->client_addr, len);
    fd = fcntl(fdi->connect_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        log_warning("legacy keep-alive: cannot keep a connection open: %s", strerror(errno));
        return;
    }
    /* A connection accepted from the backlog while the library was starting
     * can get here before MHD_start_daemon() has returned the daemon. */
    while ((d = atomic_load(&h->daemon)) == NULL)
        sched_yield();
    /* The library takes the descriptor and closes it itself on failure. */
    if (MHD_add_connection(d, fd, (const struct sockaddr *)&addr, len) != MHD_YES)
        log_warning("legacy keep-alive: cannot keep a connection open: %s", strerror(errno));
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct http *h = cls;
    struct conn *conn = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn));
        return;
    }
    if (conn != NULL && conn->reopen && !atomic_load(&h->stopping))
        reopen(h, c);
    free(conn);
    *socket_context = NULL;
}

static void library_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t len;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    log_debug("libmicrohttpd: %s", msg);
}

static void free_responses(struct http *h)
{
    struct MHD_Response **all[] = {&h->not_found, &h->out_of_range, &h->not_allowed,
                                   &h->no_memory};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (*all[i] != NULL)
            MHD_destroy_response(*all[i]);
        *all[i] = NULL;
    }
}

int http_start(const struct http_options *o, struct catalog *cat, struct http **ret)
{
    struct MHD_Daemon *d;
    struct http *h;
    unsigned flags;

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(o->listen_fd);
        return -ENOMEM;
    }
    h->cat = cat;
    h->legacy_keep_alive = o->legacy_keep_alive;
    h->not_found = static_response("not found\n", NULL);
    h->out_of_range = static_response("block out of range\n", NULL);
    h->not_allowed = static_response("method not allowed\n", "GET, HEAD");
    h->no_memory = static_response("out of memory\n", NULL);
    if (h->not_found == NULL || h->out_of_range == NULL || h->not_allowed == NULL ||
        h->no_memory == NULL)
        goto fail;

    /* TURBO: no shutdown() before close, which the legacy keep-alive needs
     * (see the top of this file). ITC: MHD_add_connection() and quiescing
     * from other threads. No Date header: devices parse tiny buffers. */
    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC |
            MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG;
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)o->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, connection_event, h,
        MHD_OPTION_EXTERNAL_LOGGER, library_log, NULL,
        MHD_OPTION_END);
    if (d == NULL)
        goto fail;
    atomic_store(&h->daemon, d);
    *ret = h;
    return 0;

fail:
    free_responses(h);
    free(h);
    close(o->listen_fd);
    return -EIO;
}

void http_quiesce(struct http *h)
{
    MHD_socket fd;

    atomic_store(&h->stopping, true);
    fd = MHD_quiesce_daemon(atomic_load(&h->daemon));
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
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
    free_responses(h);
    free(h);
}

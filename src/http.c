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
 * always announces the close it believes in); legacy devices skip headers.
 *
 * Consistent downloads. Every image load is a generation with an ETag. A
 * connection that fetched /NAME/header is pinned to that header's generation:
 * its /NAME/block/N requests are served from it for as long as the catalog
 * retains it, even after the file was replaced, so an old device on one
 * connection can never assemble blocks of two images. The pin lives in the
 * connection's state (struct conn), which the legacy keep-alive parks while
 * the socket passes from one library connection to the next. A block request
 * with If-Match names its generation explicitly instead. */
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
#include "listing.h"
#include "range.h"
#include "tls.h"
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
    struct conn_parking parking;     /* legacy sockets between two library connections */
    struct MHD_Response *not_found;  /* shared, reusable error responses */
    struct MHD_Response *out_of_range;
    struct MHD_Response *not_allowed;
    struct MHD_Response *gone;
    struct MHD_Response *no_match;
    struct MHD_Response *no_memory;
    struct MHD_Response *too_large;
    size_t connection_memory;        /* as given to the library */
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

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

static void release_image(void *cls)
{
    image_unref(cls);
}

static void release_generation(void *cls)
{
    generation_unref(cls);
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

/* Room the largest response header otad sends (a 206 of an image: about
 * 400 bytes) needs in the connection's memory, with the library's rounding. */
enum { RESPONSE_HEADER_ROOM = 640, PARSED_HEADER_SIZE = 64 };

/* True when the response header might not fit in the connection's memory
 * beside the request: the library would then close the connection without
 * a word, so otad answers 431 first. Requests whose headers do not even fit
 * get the library's own 431. The library's memory holds the request head as
 * read, an entry per header, argument and cookie, and a copy of the Cookie
 * header, which it takes apart. */
static bool head_too_large(const struct http *h, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *cookie;
    size_t used;

    if (ci == NULL)
        return false;
    used = ci->header_size + RESPONSE_HEADER_ROOM;
    if (used <= h->connection_memory / 2)
        return false; /* the common case, without counting the headers */
    used += PARSED_HEADER_SIZE *
            (size_t)(MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL) +
                     MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) +
                     MHD_get_connection_values(c, MHD_COOKIE_KIND, NULL, NULL));
    cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    if (cookie != NULL)
        used += strlen(cookie) + 1;
    return used > h->connection_memory;
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
    const union MHD_ConnectionInfo *ci;
    char addr[INET6_ADDRSTRLEN] = "?";

    /* Checked first: the address formatting costs more than the rest of a
     * block request. */
    if (!log_enabled(LOG_LEVEL_DEBUG))
        return;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
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

/* A response whose body points into memory kept alive by the reference
 * @owner (dropped by @release when the library frees the response): no copy. */
static struct MHD_Response *body_response(const uint8_t *body, size_t len, const char *etag,
                                          void (*release)(void *), void *owner)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)body, release, owner);

    if (r == NULL) {
        release(owner);
        return NULL;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, octet_stream) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag) != MHD_YES) {
        MHD_destroy_response(r); /* calls @release */
        return NULL;
    }
    return r;
}

static enum MHD_Result serve_listing(struct http *h, struct MHD_Connection *c,
                                     const char *method, const char *url)
{
    struct MHD_Response *r = NULL;
    struct catalog_item *list;
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

static enum MHD_Result send_body(struct MHD_Connection *c, const char *method,
                                 const char *url, struct MHD_Response *r, struct http *h)
{
    enum MHD_Result ret;

    if (r == NULL)
        return respond(c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR, h->no_memory);
    ret = respond(c, method, url, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_header(struct http *h, struct MHD_Connection *c,
                                    const struct route *route, const char *method,
                                    const char *url)
{
    struct image *img = catalog_lookup(h->cat, route->name, route->name_len);
    struct conn *conn = conn_of(c);

    if (img == NULL)
        return respond(c, method, url, MHD_HTTP_NOT_FOUND, h->not_found);
    /* The blocks this connection asks for next come from this generation. */
    if (conn != NULL)
        (void)conn_pin(conn, route->name, route->name_len, img->gen->id, img->version);
    return send_body(c, method, url,
                     body_response(img->header, OTA_HEADER_WIRE, img->gen->etag,
                                   release_image, img),
                     h);
}

/* Finds the generation named by an If-Match value: "*" (the current one) or
 * a list of entity tags. Weak tags never match (RFC 9110 strong comparison). */
static struct generation *if_match(struct http *h, const struct route *route, const char *value)
{
    const char *p = value;

    while (*p == ' ' || *p == '\t')
        p++;
    if (strcmp(p, "*") == 0) {
        struct image *img = catalog_lookup(h->cat, route->name, route->name_len);
        struct generation *g = img != NULL ? generation_ref(img->gen) : NULL;

        image_unref(img);
        return g;
    }
    while (*p != '\0') {
        const char *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p != '"') {
            p += strcspn(p, ",");
            continue;
        }
        end = strchr(p + 1, '"');
        if (end == NULL)
            break;
        struct generation *g =
            catalog_find_etag(h->cat, route->name, route->name_len, p, (size_t)(end - p + 1));
        if (g != NULL)
            return g;
        p = end + 1;
    }
    return NULL;
}

static enum MHD_Result serve_block(struct http *h, struct MHD_Connection *c,
                                   const struct route *route, const char *method,
                                   const char *url)
{
    const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    struct generation *g;
    uint64_t pinned;

    if (match != NULL) {
        g = if_match(h, route, match);
        if (g == NULL)
            return respond(c, method, url, MHD_HTTP_PRECONDITION_FAILED, h->no_match);
    } else if (conn_pinned(conn_of(c), route->name, route->name_len, &pinned)) {
        g = catalog_find_generation(h->cat, route->name, route->name_len, pinned);
        /* Serving the current image instead would mix two images. */
        if (g == NULL)
            return respond(c, method, url, MHD_HTTP_PRECONDITION_FAILED, h->gone);
    } else {
        struct image *img = catalog_lookup(h->cat, route->name, route->name_len);

        if (img == NULL)
            return respond(c, method, url, MHD_HTTP_NOT_FOUND, h->not_found);
        g = generation_ref(img->gen);
        image_unref(img);
    }
    if (route->index >= g->nblocks) {
        generation_unref(g);
        return respond(c, method, url, MHD_HTTP_RANGE_NOT_SATISFIABLE, h->out_of_range);
    }
    return send_body(c, method, url,
                     body_response(generation_block(g, (uint32_t)route->index), OTA_BLOCK_WIRE,
                                   g->etag, release_generation, g),
                     h);
}

/* Adds the headers every image response carries: what a device or script
 * needs to decide before downloading (HEAD), and the validators. */
static bool image_headers(struct MHD_Response *r, const struct generation *g,
                          int64_t version, bool etag)
{
    char date[32], num[16], crc[16], size[16];

    http_date(g->file.mtime.tv_sec, date);
    snprintf(num, sizeof(num), "%lld", (long long)version);
    snprintf(crc, sizeof(crc), "0x%08X", g->crc);
    snprintf(size, sizeof(size), "%u", g->size);
    return (!etag || MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, g->etag) == MHD_YES) &&
           MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") == MHD_YES &&
           MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, date) == MHD_YES &&
           (version < 0 || MHD_add_response_header(r, "X-Firmware-Version", num) == MHD_YES) &&
           MHD_add_response_header(r, "X-Firmware-CRC32", crc) == MHD_YES &&
           MHD_add_response_header(r, "X-Firmware-Size", size) == MHD_YES;
}

/* The generation an image request is served from: If-Match names one; a
 * connection pinned to this name keeps its generation for range requests;
 * HEAD and full GETs (a new download) take the current one and pin it.
 * @version gets the version announced with those bytes (-1: unknown, for a
 * retained generation named by If-Match). */
static struct generation *image_generation(struct http *h, struct MHD_Connection *c,
                                           const struct route *route, bool ranged,
                                           unsigned *status, struct MHD_Response **error,
                                           int64_t *version)
{
    const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    struct image *img = catalog_lookup(h->cat, route->name, route->name_len);
    struct conn *conn = conn_of(c);
    struct generation *g = NULL;
    uint64_t pinned;

    *version = -1;
    if (match != NULL) {
        g = if_match(h, route, match);
        if (g == NULL) {
            *status = MHD_HTTP_PRECONDITION_FAILED;
            *error = h->no_match;
        }
    } else if (ranged && conn_pinned(conn, route->name, route->name_len, &pinned)) {
        g = catalog_find_generation(h->cat, route->name, route->name_len, pinned);
        if (g == NULL) {
            *status = MHD_HTTP_PRECONDITION_FAILED;
            *error = h->gone;
        } else {
            *version = conn->pin_version;
        }
    } else if (img != NULL) {
        g = generation_ref(img->gen);
        if (conn != NULL)
            (void)conn_pin(conn, route->name, route->name_len, g->id, img->version);
    } else {
        *status = MHD_HTTP_NOT_FOUND;
        *error = h->not_found;
    }
    if (g != NULL && img != NULL && img->gen == g && *version < 0)
        *version = img->version;
    image_unref(img);
    return g;
}

static enum MHD_Result serve_image(struct http *h, struct MHD_Connection *c,
                                   const struct route *route, const char *method,
                                   const char *url)
{
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    const char *if_range =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
    const char *if_none =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *r = NULL, *error = NULL;
    struct generation *g;
    unsigned status = MHD_HTTP_OK;
    uint64_t first = 0, last = 0;
    enum range_result rr;
    enum MHD_Result ret;
    int64_t version;
    char date[32], content_range[64];

    g = image_generation(h, c, route, range != NULL, &status, &error, &version);
    if (g == NULL)
        return respond(c, method, url, status, error);
    if (if_none != NULL && etag_list_matches(if_none, g->etag, true)) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
        if (r != NULL && !image_headers(r, g, version, true)) {
            MHD_destroy_response(r);
            r = NULL;
        }
        generation_unref(g);
        goto send;
    }
    /* A stale If-Range validator (an ETag, or the date of Last-Modified)
     * means the client's partial copy is of other bytes: send them all. */
    if (if_range != NULL) {
        http_date(g->file.mtime.tv_sec, date);
        if (strcmp(if_range, g->etag) != 0 && strcmp(if_range, date) != 0)
            range = NULL;
    }
    rr = range_parse(range, g->size, &first, &last);
    if (rr == RANGE_UNSATISFIABLE) {
        snprintf(content_range, sizeof(content_range), "bytes */%u", g->size);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
        if (r != NULL &&
            (!image_headers(r, g, version, true) ||
             MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range) != MHD_YES)) {
            MHD_destroy_response(r);
            r = NULL;
        }
        generation_unref(g);
        goto send;
    }
    if (rr == RANGE_FULL)
        last = g->size - 1;
    else
        status = MHD_HTTP_PARTIAL_CONTENT;
    snprintf(content_range, sizeof(content_range), "bytes %llu-%llu/%u",
             (unsigned long long)first, (unsigned long long)last, g->size);
    /* Zero-copy: the body is the generation's own bytes, kept alive by the
     * reference the response owns. */
    r = body_response(g->data + first, (size_t)(last - first + 1), g->etag,
                      release_generation, generation_ref(g));
    if (r != NULL && (!image_headers(r, g, version, false) ||
                      (status == MHD_HTTP_PARTIAL_CONTENT &&
                       MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range) !=
                           MHD_YES))) {
        MHD_destroy_response(r);
        r = NULL;
    }
    generation_unref(g);
send:
    if (r == NULL)
        return respond(c, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR, h->no_memory);
    ret = respond(c, method, url, status, r);
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
        if (head_too_large(h, c)) {
            struct conn *conn = conn_of(c);

            if (conn != NULL)
                conn->reopen = false; /* the library closes after this answer */
            return respond(c, method, url, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                           h->too_large);
        }
        if (!has_body(c))
            return MHD_YES;
    }
    if (h->legacy_keep_alive) {
        struct conn *conn = conn_of(c);

        /* An unread body would be taken for the next request. */
        if (conn != NULL)
            conn->reopen = asks_close(c) && !has_body(c);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(c, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);

    route_parse(url, strlen(url), &route);
    switch (route.kind) {
    case ROUTE_LISTING:
        return serve_listing(h, c, method, url);
    case ROUTE_HEADER:
        return serve_header(h, c, &route, method, url);
    case ROUTE_BLOCK:
        return serve_block(h, c, &route, method, url);
    case ROUTE_IMAGE:
        return serve_image(h, c, &route, method, url);
    case ROUTE_NONE:
        break;
    }
    return respond(c, method, url, MHD_HTTP_NOT_FOUND, h->not_found);
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

    if (fdi == NULL || ai == NULL || ai->client_addr == NULL) {
        conn_free(conn);
        return;
    }
    len = address_length(ai->client_addr);
    fd = fcntl(fdi->connect_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        log_warning("legacy keep-alive: cannot keep a connection open: %s", strerror(errno));
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
        log_warning("legacy keep-alive: cannot keep a connection open: %s", strerror(errno));
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

        if (h->legacy_keep_alive && fdi != NULL && ai != NULL && ai->client_addr != NULL)
            conn = conn_claim(&h->parking, fdi->connect_fd, ai->client_addr,
                              address_length(ai->client_addr));
        *socket_context = conn != NULL ? conn : conn_new();
        return;
    }
    *socket_context = NULL;
    if (conn != NULL && conn->reopen && !atomic_load(&h->stopping))
        reopen(h, c, conn);
    else
        conn_free(conn);
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
    /* The one message an operator can act on, at most once a minute: a
     * request so large that its response header did not fit. */
    if (strstr(msg, "failed to create response header") != NULL &&
        log_enabled(LOG_LEVEL_WARNING)) {
        static _Atomic int64_t last_warning = INT64_MIN / 2;
        struct timespec ts;
        int64_t now, last;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (int64_t)ts.tv_sec;
        last = atomic_load(&last_warning);
        if (now - last >= 60 && atomic_compare_exchange_strong(&last_warning, &last, now)) {
            log_warning("closed a connection whose request headers left no room for the "
                        "response (raise connection_memory for such clients)");
            return;
        }
    }
    log_debug("libmicrohttpd: %s", msg);
}

static void free_responses(struct http *h)
{
    struct MHD_Response **all[] = {&h->not_found, &h->out_of_range, &h->not_allowed,
                                   &h->gone, &h->no_match, &h->no_memory, &h->too_large};

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
    /* The hand-over of legacy sockets would lose the TLS session; the
     * devices that need it speak plain HTTP anyway. */
    h->legacy_keep_alive = o->legacy_keep_alive && o->tls == NULL;
    h->not_found = static_response("not found\n", NULL);
    h->out_of_range = static_response("block out of range\n", NULL);
    h->not_allowed = static_response("method not allowed\n", "GET, HEAD");
    h->gone = static_response("generation gone\n", NULL);
    h->no_match = static_response("precondition failed\n", NULL);
    h->no_memory = static_response("out of memory\n", NULL);
    h->too_large = static_response("request header too large\n", NULL);
    h->connection_memory = o->connection_memory;
    conn_parking_init(&h->parking);
    if (h->not_found == NULL || h->out_of_range == NULL || h->not_allowed == NULL ||
        h->gone == NULL || h->no_match == NULL || h->no_memory == NULL ||
        h->too_large == NULL)
        goto fail;

    /* TURBO: no shutdown() before close, which the legacy keep-alive needs
     * (see the top of this file). ITC: MHD_add_connection() from other
     * threads. No Date header: devices parse tiny buffers. */
    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC |
            MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG;
    if (o->tls != NULL)
        flags |= MHD_USE_TLS;
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
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)o->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->connection_memory,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, connection_event, h,
        MHD_OPTION_EXTERNAL_LOGGER, library_log, NULL,
        MHD_OPTION_ARRAY, o->tls != NULL ? tls_options : &tls_options[2],
        MHD_OPTION_END);
    if (d == NULL)
        goto fail;
    atomic_store(&h->daemon, d);
    *ret = h;
    return 0;

fail:
    free_responses(h);
    conn_parking_fini(&h->parking);
    free(h);
    close(o->listen_fd);
    return -EIO;
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
    free_responses(h);
    conn_parking_fini(&h->parking);
    free(h);
}

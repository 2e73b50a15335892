/* SPDX-License-Identifier: MIT */
/* libmicrohttpd's side of serve.c: the request values an endpoint reads,
 * and the library response for an answer, built without copying the body
 * (a block's 260 bytes are gathered, see block_response()). */
#include "reply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

void reply_close(struct reply_set *set)
{
    for (size_t i = 0; i < sizeof(set->canned) / sizeof(set->canned[0]); i++) {
        if (set->canned[i] != NULL)
            MHD_destroy_response(set->canned[i]);
        set->canned[i] = NULL;
    }
    if (set->too_large != NULL)
        MHD_destroy_response(set->too_large);
    set->too_large = NULL;
    if (set->uri_too_long != NULL)
        MHD_destroy_response(set->uri_too_long);
    set->uri_too_long = NULL;
}

int reply_open(struct reply_set *set)
{
    static const char *const bodies[] = {
        [SERVE_NOT_FOUND] = "not found\n",
        [SERVE_OUT_OF_RANGE] = "block out of range\n",
        [SERVE_NOT_ALLOWED] = "method not allowed\n",
        [SERVE_POST_ONLY] = "method not allowed\n",
        [SERVE_GONE] = "generation gone\n",
        [SERVE_NO_MATCH] = "precondition failed\n",
        [SERVE_NO_MEMORY] = "out of memory\n",
    };

    for (size_t i = SERVE_BODY + 1; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        set->canned[i] = static_response(bodies[i], i == SERVE_NOT_ALLOWED ? "GET, HEAD"
                                                    : i == SERVE_POST_ONLY  ? "POST"
                                                                            : NULL);
        set->canned_len[i] = strlen(bodies[i]);
        if (set->canned[i] == NULL)
            goto fail;
    }
    set->too_large = static_response("request header too large\n", NULL);
    set->too_large_len = strlen("request header too large\n");
    set->uri_too_long = static_response("uri too long\n", NULL);
    set->uri_too_long_len = strlen("uri too long\n");
    if (set->too_large != NULL && set->uri_too_long != NULL)
        return 0;
fail:
    reply_close(set);
    return -ENOMEM;
}

size_t reply_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    size_t len = MHD_http_unescape(s);

    (void)cls;
    (void)c;
    /* As a NUL it would end the C string handed on: "/app/header%00" would
     * be served as "/app/header". A '/' is in no firmware name and makes
     * the path one no endpoint has. */
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0')
            s[i] = '/';
    return len;
}

static const char *header_of(void *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

void reply_read_request(struct MHD_Connection *c, struct serve_request *rq)
{
    rq->if_match = rq->if_none_match = rq->if_range = rq->range = NULL;
    rq->format = rq->accept = NULL;
    rq->device_id = rq->device_version = NULL;
    rq->esp = (struct espota_request){.core = ESPOTA_NONE};
    switch (rq->route.kind) {
    case ROUTE_LISTING:
        rq->format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
        rq->accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        break;
    case ROUTE_IMAGE:
        rq->range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
        rq->if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
        rq->if_none_match =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        espota_read(header_of, c, &rq->esp);
        /* fall through */
    case ROUTE_BLOCK:
    case ROUTE_MANIFEST:
        rq->if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
        break;
    case ROUTE_HEADER:
        rq->device_version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Device-Version");
        /* fall through */
    case ROUTE_REPORT:
        rq->device_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Device-Id");
        break;
    case ROUTE_NONE:
        break;
    }
}

/* A block's wire bytes and what keeps their generation alive, for a block
 * answered without a connection's buffer. */
struct block_body {
    void (*release)(void *owner);
    void *owner;
    uint8_t wire[OTA_BLOCK_WIRE];
};

static void release_block(void *cls)
{
    struct block_body *b = cls;

    b->release(b->owner);
    free(b);
}

static struct MHD_Response *add_headers(struct MHD_Response *r, const struct serve_response *s)
{
    for (size_t i = 0; i < s->nheaders; i++) {
        if (MHD_add_response_header(r, s->headers[i].name, s->headers[i].value) != MHD_YES) {
            MHD_destroy_response(r); /* calls the release */
            return NULL;
        }
    }
    return r;
}

/* A block is answered from 260 bytes gathered from the image and its CRC
 * table, not from an I/O vector over them (MHD_create_response_from_iovec):
 * libmicrohttpd 0.9.75 sends such a body in a second system call, after the
 * header, and as a second TCP segment, which cost 15 % more instructions and
 * halved the block throughput (docs/PERFORMANCE.md). One buffer goes out
 * with the header in one sendmsg(). The connection's buffer is reused from
 * one block to the next; without one the response gets its own. */
static struct MHD_Response *block_response(const struct serve_response *s)
{
    struct block_body *b = NULL;
    struct MHD_Response *r;

    if (s->gather != NULL) {
        generation_block_copy(s->block_of, s->block, s->gather);
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            OTA_BLOCK_WIRE, s->gather, s->release, s->owner);
    } else if ((b = malloc(sizeof(*b))) != NULL) {
        b->release = s->release;
        b->owner = s->owner;
        generation_block_copy(s->block_of, s->block, b->wire);
        r = MHD_create_response_from_buffer_with_free_callback_cls(OTA_BLOCK_WIRE, b->wire,
                                                                   release_block, b);
    } else
        r = NULL;
    if (r == NULL) {
        if (b != NULL)
            release_block(b);
        else
            s->release(s->owner);
        return NULL;
    }
    return add_headers(r, s);
}

struct MHD_Response *reply_response(const struct reply_set *set, const struct serve_response *s)
{
    struct MHD_Response *r;

    if (s->canned != SERVE_BODY)
        return set->canned[s->canned];
    if (s->block_of != NULL)
        return block_response(s);
    r = MHD_create_response_from_buffer_with_free_callback_cls(s->body_len, (void *)s->body,
                                                               s->release, s->owner);
    if (r == NULL) {
        s->release(s->owner);
        return NULL;
    }
    return add_headers(r, s);
}

uint64_t reply_body_bytes(const struct reply_set *set, const struct serve_response *s)
{
    return s->canned == SERVE_BODY ? s->body_len : set->canned_len[s->canned];
}

bool reply_has_body(struct MHD_Connection *c)
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

/* The library's memory holds the request head as read, an entry per header,
 * argument and cookie, and a copy of the Cookie header, which it takes
 * apart. */
bool reply_head_too_large(struct MHD_Connection *c, size_t connection_memory)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *cookie;
    size_t used;

    if (ci == NULL)
        return false;
    used = ci->header_size + RESPONSE_HEADER_ROOM;
    if (used <= connection_memory / 2)
        return false; /* the common case, without counting the headers */
    used += PARSED_HEADER_SIZE *
            (size_t)(MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL) +
                     MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) +
                     MHD_get_connection_values(c, MHD_COOKIE_KIND, NULL, NULL));
    cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    if (cookie != NULL)
        used += strlen(cookie) + 1;
    return used > connection_memory;
}

bool reply_body_announced_too_long(struct MHD_Connection *c)
{
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;

    /* The library refused a Content-Length that is not a number already. */
    if (len == NULL)
        return false;
    for (; *len >= '0' && *len <= '9' && n <= SERVE_REPORT_MAX; len++)
        n = n * 10 + (uint64_t)(*len - '0');
    return n > SERVE_REPORT_MAX;
}

bool reply_body_add(struct reply_body *b, const char *data, size_t len)
{
    if (b->len + len > SERVE_REPORT_MAX) {
        b->len = SERVE_REPORT_MAX + 1;
        return false;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return true;
}

void reply_peer_name(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = ci != NULL ? ci->client_addr : NULL;
    const void *addr = NULL;

    if (peer != NULL && peer->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)peer)->sin_addr;
    else if (peer != NULL && peer->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    if (addr == NULL || inet_ntop(peer->sa_family, addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
}

unsigned reply_peer_port(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = ci != NULL ? ci->client_addr : NULL;

    if (peer != NULL && peer->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)peer)->sin_port);
    if (peer != NULL && peer->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
    return 0;
}

void reply_library_message(char *buf, size_t len, const char *fmt, va_list ap)
{
    size_t n;

    vsnprintf(buf, len, fmt, ap);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
}

/* SPDX-License-Identifier: MIT */
/* Between libmicrohttpd and the endpoints (serve.h): a request's values in,
 * the library's response out, and the shared responses of the fixed
 * answers. */
#ifndef OTAD_REPLY_H
#define OTAD_REPLY_H

#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve.h"

/* The longest request target (path and query, as sent) otad reads: the
 * URL of any firmware name (at most NAME_MAX bytes, each %HH-escaped) with
 * its longest endpoint fits. A longer one is answered 414 by otad, if the
 * library could read its request line at all (see otad(8)). */
#define REPLY_URI_MAX 1024

/* The fixed answers, made once and queued again and again. */
struct reply_set {
    struct MHD_Response *canned[SERVE_NO_MEMORY + 1]; /* by enum serve_canned */
    size_t canned_len[SERVE_NO_MEMORY + 1];           /* their body bytes */
    struct MHD_Response *too_large; /* 431 "request header too large" */
    size_t too_large_len;
    struct MHD_Response *uri_too_long; /* 414 "uri too long" */
    size_t uri_too_long_len;
};

/* A report's body as it is read (struct serve_request says how a longer
 * one is passed on). */
struct reply_body {
    size_t len;
    bool answered;            /* refused before its end: the rest is not read */
    char data[SERVE_REPORT_MAX + 1];
};

/* Makes every response of @set (zeroed). Returns 0 or -ENOMEM (then @set
 * holds none). */
int reply_open(struct reply_set *set);

/* Frees the responses of @set; the library may still hold them queued. */
void reply_close(struct reply_set *set);

/* Decodes the %HH of the path or a query argument @s in place as the
 * library would (MHD_OPTION_UNESCAPE_CALLBACK), but a decoded %00 becomes
 * '/'. Returns the new length. */
size_t reply_unescape(void *cls, struct MHD_Connection *c, char *s);

/* Fills the header values of @rq that the endpoint of rq->route reads (see
 * serve.h) from @c, and NULL the others. The values belong to the library
 * and last as long as the request. */
void reply_read_request(struct MHD_Connection *c, struct serve_request *rq);

/* The library response for @s: a shared one of @set for a canned answer
 * (not to be destroyed), else a new one (the caller destroys it) owning
 * the body's owner. Returns NULL if out of memory; the owner is then
 * released. */
struct MHD_Response *reply_response(const struct reply_set *set, const struct serve_response *s);

/* The bytes of the body of the response for @s, as sent to a GET. */
uint64_t reply_body_bytes(const struct reply_set *set, const struct serve_response *s);

/* True when the request says its body is longer than SERVE_REPORT_MAX. */
bool reply_body_announced_too_long(struct MHD_Connection *c);

/* Appends @len bytes of @data to @b. Returns false, and marks @b as too
 * long (b->len beyond SERVE_REPORT_MAX), when it grows past SERVE_REPORT_MAX. */
bool reply_body_add(struct reply_body *b, const char *data, size_t len);

/* Formats the client address of @c ("?" if unknown) into @buf of @len bytes
 * (at least INET6_ADDRSTRLEN). */
void reply_peer_name(struct MHD_Connection *c, char *buf, size_t len);

/* The client port of @c, or 0 if unknown. */
unsigned reply_peer_port(struct MHD_Connection *c);

/* True when the request has a body (a Content-Length other than 0, or a
 * Transfer-Encoding). */
bool reply_has_body(struct MHD_Connection *c);

/* True when the response header might not fit in the connection's memory
 * (@connection_memory bytes, as given to the library) beside the request:
 * the library would then close the connection without a word, so otad
 * answers 431 first. Requests whose headers do not even fit get the
 * library's own 431. */
bool reply_head_too_large(struct MHD_Connection *c, size_t connection_memory);

/* Formats a message of the library's logger (MHD_OPTION_EXTERNAL_LOGGER)
 * into @buf of @len bytes, without the newlines it ends with. */
void reply_library_message(char *buf, size_t len, const char *fmt, va_list ap);

#endif

/* The protocol's endpoints (listing, header, block, image, manifest) as decisions:
 * a request in, the status, headers and body to answer with out. No HTTP
 * library here, so every answer can be checked without a server; http.c
 * turns a serve_response into the library's response, header by header in
 * the order given. */
#ifndef OTAD_SERVE_H
#define OTAD_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "conn.h"
#include "route.h"

/* What a request carries that an endpoint looks at. Header values are
 * borrowed and NULL when absent; only those the route's endpoint reads need
 * be filled: If-Match for a block or a manifest, If-Match, Range, If-Range and
 * If-None-Match for an image, format and Accept for the listing. */
struct serve_request {
    const char *method;
    struct route route;
    const char *if_match;
    const char *if_none_match;
    const char *if_range;
    const char *range;
    const char *format;       /* the "format" query argument */
    const char *accept;
    struct conn *conn;        /* the connection's state (its pin), or NULL */
};

/* The fixed answers, each always the same bytes. */
enum serve_canned {
    SERVE_BODY,               /* not canned: body, headers and release below */
    SERVE_NOT_FOUND,          /* 404 "not found" */
    SERVE_OUT_OF_RANGE,       /* 416 "block out of range" */
    SERVE_NOT_ALLOWED,        /* 405 "method not allowed", Allow: GET, HEAD */
    SERVE_GONE,               /* 412 "generation gone" */
    SERVE_NO_MATCH,           /* 412 "precondition failed" */
    SERVE_NO_MEMORY,          /* 500 "out of memory" */
};

struct serve_header {
    const char *name;
    const char *value;        /* borrowed from the response or its owner */
};

enum { SERVE_HEADERS_MAX = 8 };

struct serve_response {
    unsigned status;
    enum serve_canned canned;
    /* SERVE_BODY only: */
    const uint8_t *body;      /* kept alive by @owner */
    size_t body_len;
    void (*release)(void *owner); /* drops @owner once the body is sent */
    void *owner;
    size_t nheaders;
    struct serve_header headers[SERVE_HEADERS_MAX];
    /* Room for the header values made for this response. */
    char date[32], version[24], crc[16], size[16], content_range[64];
};

/* Answers @rq from @cat into @ret (always filled). A SERVE_BODY answer owns
 * a reference, or the body itself, until ret->release(ret->owner) is called;
 * its header values stay valid until then. A header or image request may pin
 * rq->conn to the generation it answers from. */
void serve_handle(struct catalog *cat, const struct serve_request *rq,
                  struct serve_response *ret);

#endif

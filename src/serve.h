/* SPDX-License-Identifier: MIT */
/* The protocol's endpoints (listing, header, block, image, manifest, report)
 * as decisions: a request in, the status, headers and body to answer with
 * out. No HTTP library here, so every answer can be checked without a
 * server; http.c turns a serve_response into the library's response, header
 * by header in the order given.
 *
 * With a fleet registry the answers feed it: a header, block or image
 * served (GET) tells it what the device got, and POST /NAME/report hands it
 * the device's report. */
#ifndef OTAD_SERVE_H
#define OTAD_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "conn.h"
#include "espota.h"
#include "fleet.h"
#include "route.h"

/* Bytes of a report body at most; a longer one is refused with 413. */
#define SERVE_REPORT_MAX 1024

/* What a request carries that an endpoint looks at. Header values are
 * borrowed and NULL when absent; only those the route's endpoint reads need
 * be filled: If-Match for a block or a manifest, If-Match, Range, If-Range and
 * If-None-Match and an updater's headers (esp) for an image, format and
 * Accept for the listing, X-Device-Id for a header or a report and
 * X-Device-Version for a header. */
struct serve_request {
    const char *method;
    struct route route;
    const char *if_match;
    const char *if_none_match;
    const char *if_range;
    const char *range;
    const char *format;       /* the "format" query argument */
    const char *accept;
    struct conn *conn;        /* the connection's state (its pin, its device), or NULL */
    const char *device_id;    /* X-Device-Id */
    const char *device_version; /* X-Device-Version */
    /* An Arduino ESP updater's headers (espota.h); core ESPOTA_NONE for any
     * other client, which the image endpoint serves as before. */
    struct espota_request esp;
    /* Tracking. NULL: no registry, and no report endpoint. */
    struct fleet *fleet;
    const char *address;      /* the client's address, when serve_needs_address() */
    int64_t now_ms;           /* wall clock */
    /* A report's body: body_len bytes of @body; more than SERVE_REPORT_MAX
     * means the body was longer, and @body then holds SERVE_REPORT_MAX + 1
     * bytes (what was read of it, else zeros). */
    const char *body;
    size_t body_len;
};

/* The fixed answers, each always the same bytes. */
enum serve_canned {
    SERVE_BODY,               /* not canned: body, headers and release below */
    SERVE_NOT_FOUND,          /* 404 "not found" */
    SERVE_OUT_OF_RANGE,       /* 416 "block out of range" */
    SERVE_NOT_ALLOWED,        /* 405 "method not allowed", Allow: GET, HEAD */
    SERVE_POST_ONLY,          /* 405 "method not allowed", Allow: POST */
    SERVE_GONE,               /* 412 "generation gone" */
    SERVE_NO_MATCH,           /* 412 "precondition failed" */
    SERVE_NO_MEMORY,          /* 500 "out of memory" */
};

struct serve_header {
    const char *name;
    const char *value;        /* borrowed from the response or its owner */
};

enum { SERVE_HEADERS_MAX = 10 };

struct serve_response {
    unsigned status;
    enum serve_canned canned;
    /* SERVE_BODY only: */
    const uint8_t *body;      /* kept alive by @owner */
    size_t body_len;
    /* A block (else NULL): its body_len bytes are gathered from block
     * @block of @block_of (kept alive by @owner) with generation_block_copy()
     * into @gather (the connection's buffer, else NULL: the response makes
     * its own); @body is NULL. */
    const struct generation *block_of;
    uint32_t block;
    uint8_t *gather;
    void (*release)(void *owner); /* drops @owner once the body is sent */
    void *owner;
    size_t nheaders;
    struct serve_header headers[SERVE_HEADERS_MAX];
    /* Room for the header values made for this response. */
    char date[32], version[24], crc[16], size[16], content_range[64];
    char md5[ESPOTA_MD5_HEX];
    /* An updater's request answered 403 (espota_decide): why, for the
     * warning; else NULL. */
    const char *esp_refused;
    /* The generation a block, the manifest or image bytes come from (kept
     * alive by @owner), or NULL; with the version announced with it (-1:
     * not known), for a block or image bytes (200, 206). For the access log. */
    const struct generation *served;
    int64_t served_version;
    /* A report the registry decided on (has_report), for its log line. */
    bool has_report;
    struct fleet_report_result report;
};

/* Answers @rq from @cat into @ret (always filled). A SERVE_BODY answer owns
 * a reference, or the body itself, until ret->release(ret->owner) is called;
 * its header values stay valid until then. A header or image request may pin
 * rq->conn to the generation it answers from. */
void serve_handle(struct catalog *cat, const struct serve_request *rq,
                  struct serve_response *ret);

/* True when serve_handle() needs rq->address for @rq (rq->route, method,
 * fleet and conn filled): formatting it costs more than a block request, so
 * it is made only for a header request or a report, for an updater's image
 * request (it names its device at every one, as a header does), or for a
 * block or an image on a connection that has no device yet. */
bool serve_needs_address(const struct serve_request *rq);

#endif

/* SPDX-License-Identifier: MIT */
/* The endpoints. Consistent downloads: a connection that fetched
 * /NAME/header is pinned to that header's generation, and its block requests
 * are served from it for as long as the catalog retains it, even after the
 * file was replaced, so a device can never assemble blocks of two images.
 * If-Match names a generation explicitly instead.
 *
 * Tracking: a header served tags the connection with its device (by its
 * X-Device-Id, else its address), so the block requests that follow reach
 * the device without headers and without formatting the address. */
#include "serve.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "range.h"
#include "scalar.h"

/* Header names and the type of every block response. libmicrohttpd runs
 * strlen() and strchr() over each header of every response; a string in
 * the last 32 bytes of a page sends those down their slow path (60
 * instructions a block request, measured), which 32-byte alignment rules
 * out. */
#define HOT_STRING __attribute__((aligned(32)))
static const char content_type[] HOT_STRING = "Content-Type";
static const char etag_name[] HOT_STRING = "ETag";
static const char octet_stream[] HOT_STRING = "application/octet-stream";

static void release_image(void *owner)
{
    image_unref(owner);
}

static void release_generation(void *owner)
{
    generation_unref(owner);
}

static void canned(struct serve_response *r, unsigned status, enum serve_canned which)
{
    r->status = status;
    r->canned = which;
}

static void add_header(struct serve_response *r, const char *name, const char *value)
{
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = value;
    r->nheaders++;
}

/* A body in memory kept alive by @owner, which the response now holds. */
static void body(struct serve_response *r, unsigned status, const void *data, size_t len,
                 void (*release)(void *), void *owner)
{
    r->status = status;
    r->canned = SERVE_BODY;
    r->body = data;
    r->body_len = len;
    r->release = release;
    r->owner = owner;
    r->nheaders = 0;
    r->served = release == release_generation ? owner : NULL;
}

/* Only GETs feed the registry: a HEAD serves no bytes, and devices download
 * with GET. */
static bool tracked(const struct serve_request *rq)
{
    return rq->fleet != NULL && strcmp(rq->method, "GET") == 0;
}

static const char *address_of(const struct serve_request *rq)
{
    return rq->address != NULL ? rq->address : "?";
}

/* The connection's device tag; without a connection state, @spare (which
 * the caller frees after the call). */
static struct fleet_tag **tag_of(const struct serve_request *rq, struct fleet_tag **spare)
{
    return rq->conn != NULL ? &rq->conn->fleet : spare;
}

static void track_header(const struct serve_request *rq, const struct image *img)
{
    const struct route *route = &rq->route;
    struct fleet_tag *spare = NULL, **tag = tag_of(rq, &spare);
    uint64_t installed = 0;
    bool has_installed = rq->device_version != NULL &&
                         scalar_uint(rq->device_version, &installed) == 0 &&
                         installed <= UINT32_MAX;

    /* -EINVAL: an X-Device-Id that is none, ignored; the registry then knows
     * the device by its address, like one that sends none. */
    (void)fleet_header(rq->fleet, tag, rq->device_id, address_of(rq), route->name,
                       route->name_len, img->version, has_installed, (uint32_t)installed,
                       img->gen->nblocks, rq->now_ms);
    fleet_tag_free(spare);
}

static void track_block(const struct serve_request *rq, const struct generation *g)
{
    struct fleet_tag *spare = NULL;

    fleet_block(rq->fleet, tag_of(rq, &spare), address_of(rq), rq->route.name,
                rq->route.name_len, (uint32_t)rq->route.index, g->nblocks, OTA_BLOCK_WIRE,
                rq->now_ms);
    fleet_tag_free(spare);
}

static void track_image(const struct serve_request *rq, const struct serve_response *r,
                        const struct generation *g)
{
    struct fleet_tag *spare = NULL;

    fleet_image(rq->fleet, tag_of(rq, &spare), address_of(rq), rq->route.name,
                rq->route.name_len, r->body_len, g->size, rq->now_ms);
    fleet_tag_free(spare);
}

bool serve_needs_address(const struct serve_request *rq)
{
    switch (rq->route.kind) {
    case ROUTE_REPORT:
        return rq->fleet != NULL && strcmp(rq->method, "POST") == 0;
    case ROUTE_HEADER:
        return tracked(rq);
    case ROUTE_BLOCK:
    case ROUTE_IMAGE:
        return tracked(rq) && (rq->conn == NULL || rq->conn->fleet == NULL ||
                               rq->esp.core != ESPOTA_NONE);
    case ROUTE_NONE:
    case ROUTE_LISTING:
    case ROUTE_MANIFEST:
        break;
    }
    return false;
}

static void serve_listing(struct catalog *cat, const struct serve_request *rq,
                          struct serve_response *r)
{
    struct catalog_item *list;
    bool json = listing_wants_json(rq->format, rq->accept);
    char *text;
    size_t len;
    int n, err;

    n = catalog_list(cat, &list);
    if (n < 0) {
        canned(r, 500, SERVE_NO_MEMORY);
        return;
    }
    err = listing_render(list, (size_t)n, json ? LISTING_JSON : LISTING_TEXT, &text, &len);
    catalog_release(list, (size_t)n);
    if (err < 0) {
        canned(r, 500, SERVE_NO_MEMORY);
        return;
    }
    body(r, 200, text, len, free, text);
    add_header(r, content_type, json ? "application/json" : "text/plain; charset=utf-8");
}

static void serve_header(struct catalog *cat, const struct serve_request *rq,
                         struct serve_response *r)
{
    const struct route *route = &rq->route;
    struct image *img = catalog_lookup(cat, route->name, route->name_len);

    if (img == NULL) {
        canned(r, 404, SERVE_NOT_FOUND);
        return;
    }
    /* The blocks this connection asks for next come from this generation. */
    if (rq->conn != NULL)
        (void)conn_pin(rq->conn, route->name, route->name_len, img->gen->id, img->version);
    if (tracked(rq))
        track_header(rq, img);
    body(r, 200, img->header, OTA_HEADER_WIRE, release_image, img);
    add_header(r, content_type, octet_stream);
    add_header(r, etag_name, img->gen->etag);
}

/* Finds the generation named by an If-Match value: "*" (the current one) or
 * a list of entity tags. Weak tags never match (RFC 9110 strong comparison). */
static struct generation *if_match(struct catalog *cat, const struct route *route,
                                   const char *value)
{
    const char *p = value, *tag;
    size_t len;
    bool weak;

    if (http_value_is(p, "*")) {
        struct image *img = catalog_lookup(cat, route->name, route->name_len);
        struct generation *g = img != NULL ? generation_ref(img->gen) : NULL;

        image_unref(img);
        return g;
    }
    while (etag_list_next(&p, &tag, &len, &weak)) {
        struct generation *g =
            weak ? NULL : catalog_find_etag(cat, route->name, route->name_len, tag, len);

        if (g != NULL)
            return g;
    }
    return NULL;
}

/* The generation a request is served from, as a reference in @ret: the one
 * If-Match names, else (with @use_pin) the one the connection is pinned to,
 * else the current one. @ret_version gets the version announced with it (-1:
 * not known here), @ret_current whether it is the current one. Returns
 * SERVE_BODY, or the canned answer that refuses the request. */
__attribute__((always_inline)) /* 45 instructions of a block request */
static inline enum serve_canned choose_generation(struct catalog *cat,
                                                  const struct serve_request *rq, bool use_pin,
                                                  struct generation **ret, int64_t *ret_version,
                                                  bool *ret_current)
{
    const struct route *route = &rq->route;
    struct generation *g;
    struct image *img;
    uint64_t pinned;

    if (rq->if_match != NULL) {
        g = if_match(cat, route, rq->if_match);
        if (g == NULL)
            return SERVE_NO_MATCH;
        *ret_version = -1;
        *ret_current = false;
    } else if (use_pin && conn_pinned(rq->conn, route->name, route->name_len, &pinned)) {
        g = catalog_find_generation(cat, route->name, route->name_len, pinned);
        /* Serving the current image instead would mix two images. */
        if (g == NULL)
            return SERVE_GONE;
        *ret_version = rq->conn->pin_version;
        *ret_current = false;
    } else {
        img = catalog_lookup(cat, route->name, route->name_len);
        if (img == NULL)
            return SERVE_NOT_FOUND;
        g = generation_ref(img->gen);
        *ret_version = img->version;
        *ret_current = true;
        image_unref(img);
    }
    *ret = g;
    return SERVE_BODY;
}

static void refuse(struct serve_response *r, enum serve_canned why)
{
    canned(r, why == SERVE_NOT_FOUND ? 404 : 412, why);
}

/* A block, or the manifest (NAME.sig as it was read with the blocks' bytes):
 * both from the generation If-Match names, else the pinned one, else the
 * current one. A manifest does not pin: a device asks for the header first,
 * which does. */
static void serve_pinned(struct catalog *cat, const struct serve_request *rq,
                         struct serve_response *r)
{
    const uint8_t *data = NULL; /* a block's: gathered for the response (reply.c) */
    struct generation *g;
    enum serve_canned why;
    int64_t version;
    bool current;
    size_t len;

    why = choose_generation(cat, rq, true, &g, &version, &current);
    if (why != SERVE_BODY) {
        refuse(r, why);
        return;
    }
    if (rq->route.kind == ROUTE_MANIFEST) {
        /* Published generations have a whole manifest or none (trust.h). */
        why = g->manifest_error != 0 ? SERVE_NOT_FOUND : SERVE_BODY;
        data = g->manifest;
        len = OTA_MANIFEST_SIZE;
    } else {
        why = rq->route.index >= g->nblocks ? SERVE_OUT_OF_RANGE : SERVE_BODY;
        len = OTA_BLOCK_WIRE;
    }
    if (why != SERVE_BODY) {
        generation_unref(g);
        canned(r, why == SERVE_NOT_FOUND ? 404 : 416, why);
        return;
    }
    if (rq->route.kind == ROUTE_BLOCK && tracked(rq))
        track_block(rq, g);
    body(r, 200, data, len, release_generation, g);
    r->block_of = rq->route.kind == ROUTE_BLOCK ? g : NULL;
    r->block = (uint32_t)rq->route.index;
    r->gather = r->block_of != NULL && rq->conn != NULL ? conn_block_buffer(rq->conn) : NULL;
    r->served_version = version;
    add_header(r, content_type, octet_stream);
    add_header(r, etag_name, g->etag);
}

/* The headers every image response carries: what a device or script needs
 * to decide before downloading (HEAD), and the validators. A response with
 * a body names its type first, as every body response does. */
static void image_headers(struct serve_response *r, const struct generation *g,
                          int64_t version)
{
    bool has_body = r->status == 200 || r->status == 206;

    http_date(g->file.mtime.tv_sec, r->date);
    snprintf(r->version, sizeof(r->version), "%lld", (long long)version);
    snprintf(r->crc, sizeof(r->crc), "0x%08X", g->crc);
    snprintf(r->size, sizeof(r->size), "%u", g->size);
    if (has_body)
        add_header(r, content_type, octet_stream);
    add_header(r, etag_name, g->etag);
    add_header(r, "Accept-Ranges", "bytes");
    add_header(r, "Last-Modified", r->date);
    if (version >= 0)
        add_header(r, "X-Firmware-Version", r->version);
    add_header(r, "X-Firmware-CRC32", r->crc);
    add_header(r, "X-Firmware-Size", r->size);
}

/* The generation comes from If-Match, or for a range request from the
 * connection's pin (a resumed download); HEAD and full GETs (a new download)
 * take the current one and pin it. */
static void serve_image(struct catalog *cat, const struct serve_request *rq,
                        struct serve_response *r)
{
    const struct route *route = &rq->route;
    const struct range_conditions cond = {
        .range = rq->range, .if_range = rq->if_range, .if_none_match = rq->if_none_match};
    struct generation *g;
    enum serve_canned why;
    uint64_t first = 0, last = 0;
    int64_t version;
    unsigned status;
    bool current;

    why = choose_generation(cat, rq, rq->range != NULL, &g, &version, &current);
    if (why != SERVE_BODY) {
        refuse(r, why);
        return;
    }
    if (current && rq->conn != NULL)
        (void)conn_pin(rq->conn, route->name, route->name_len, g->id, (uint32_t)version);
    if (version < 0) {
        /* Named by If-Match: its version is known if it is the current one. */
        struct image *img = catalog_lookup(cat, route->name, route->name_len);

        if (img != NULL && img->gen == g)
            version = img->version;
        image_unref(img);
    }
    status = range_decide(&cond, g->etag, g->file.mtime.tv_sec, g->size, &first, &last);
    if (status == 200 || status == 206) {
        body(r, status, g->data + first, g->size > 0 ? (size_t)(last - first + 1) : 0,
             release_generation, g);
        r->served_version = version;
        if (tracked(rq))
            track_image(rq, r, g);
    } else
        body(r, status, NULL, 0, release_generation, g);
    image_headers(r, g, version);
    if (rq->esp.core != ESPOTA_NONE && g->has_digests && (status == 200 || status == 206))
        add_header(r, "x-MD5", espota_md5_hex(g->md5, r->md5)); /* the whole image's */
    if (status == 416)
        snprintf(r->content_range, sizeof(r->content_range), "bytes */%u", g->size);
    else if (status == 206)
        snprintf(r->content_range, sizeof(r->content_range), "bytes %llu-%llu/%u",
                 (unsigned long long)first, (unsigned long long)last, g->size);
    else
        return;
    add_header(r, "Content-Range", r->content_range);
}

/* An Arduino updater's request (espota.h): the image of NAME, or NAME.fs for
 * its filesystem, if espota_decide() says 200; else 304, or 403 and why. */
static void serve_esp(struct catalog *cat, const struct serve_request *rq,
                      struct serve_response *r)
{
    struct serve_request fw = *rq;
    char name[FLEET_NAME_MAX + 4];
    const char *reason = NULL;
    struct image *img = NULL;
    unsigned status;

    if (espota_firmware_name(&rq->esp, &fw.route, name, sizeof(name)) == 0)
        img = catalog_lookup(cat, fw.route.name, fw.route.name_len);
    if (img == NULL) {
        canned(r, 404, SERVE_NOT_FOUND);
        return;
    }
    status = espota_decide_generation(&rq->esp, img->gen,
                                      img->version_source == VERSION_FROM_FILE, img->version,
                                      &reason);
    if (tracked(rq)) {
        struct fleet_tag *spare = NULL;

        (void)fleet_check(rq->fleet, tag_of(rq, &spare), rq->esp.sta_mac, address_of(rq),
                          fw.route.name, fw.route.name_len, img->version, status == 304,
                          rq->esp.version, img->gen->nblocks, rq->now_ms);
        fleet_tag_free(spare);
    }
    if (status == 200) {
        image_unref(img);
        serve_image(cat, &fw, r);
        return;
    }
    body(r, status, reason, status == 403 ? strlen(reason) : 0, release_image, img);
    if (status == 403) {
        r->esp_refused = reason;
        add_header(r, content_type, "text/plain");
    }
}

/* POST /NAME/report: the registry decides; the answer says why in a line
 * (a 204 has no body). */
static void serve_report(struct catalog *cat, const struct serve_request *rq,
                         struct serve_response *r)
{
    const struct route *route = &rq->route;
    struct fleet_tag *spare = NULL;
    struct image *img;
    char *text;
    bool known;
    int len;

    if (rq->fleet == NULL) {
        canned(r, 404, SERVE_NOT_FOUND);
        return;
    }
    if (strcmp(rq->method, "POST") != 0) {
        canned(r, 405, SERVE_POST_ONLY);
        return;
    }
    img = catalog_lookup(cat, route->name, route->name_len);
    known = img != NULL;
    image_unref(img);
    fleet_report(rq->fleet, tag_of(rq, &spare), rq->device_id, address_of(rq), route->name,
                 route->name_len, known, rq->body != NULL ? rq->body : "", rq->body_len,
                 rq->now_ms, &r->report);
    fleet_tag_free(spare);
    r->has_report = true;
    if (r->report.status == 204) {
        body(r, 204, NULL, 0, free, NULL);
        return;
    }
    len = (int)strnlen(r->report.message, sizeof(r->report.message));
    text = malloc((size_t)len + 2);
    if (text == NULL) {
        canned(r, 500, SERVE_NO_MEMORY);
        return;
    }
    snprintf(text, (size_t)len + 2, "%.*s\n", len, r->report.message);
    body(r, r->report.status, text, (size_t)len + 1, free, text);
    add_header(r, content_type, "text/plain");
}

void serve_handle(struct catalog *cat, const struct serve_request *rq,
                  struct serve_response *ret)
{
    ret->has_report = false;
    ret->esp_refused = NULL;
    ret->served = ret->block_of = NULL;
    if (rq->route.kind == ROUTE_REPORT) {
        serve_report(cat, rq, ret);
        return;
    }
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        canned(ret, 405, SERVE_NOT_ALLOWED);
        return;
    }
    switch (rq->route.kind) {
    case ROUTE_LISTING:
        serve_listing(cat, rq, ret);
        return;
    case ROUTE_HEADER:
        serve_header(cat, rq, ret);
        return;
    case ROUTE_BLOCK:
    case ROUTE_MANIFEST:
        serve_pinned(cat, rq, ret);
        return;
    case ROUTE_IMAGE:
        if (rq->esp.core != ESPOTA_NONE)
            serve_esp(cat, rq, ret);
        else
            serve_image(cat, rq, ret);
        return;
    case ROUTE_REPORT: /* above */
    case ROUTE_NONE:
        break;
    }
    canned(ret, 404, SERVE_NOT_FOUND);
}

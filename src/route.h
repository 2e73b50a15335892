/* SPDX-License-Identifier: MIT */
/* Routing of request paths to the protocol's endpoints. Pure string work:
 * no lookups, no allocation; the result points into the path. */
#ifndef OTAD_ROUTE_H
#define OTAD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

enum route_kind {
    ROUTE_NONE,     /* no such endpoint: 404 */
    ROUTE_LISTING,  /* /firmwares */
    ROUTE_HEADER,   /* /NAME/header */
    ROUTE_BLOCK,    /* /NAME/block/N */
    ROUTE_IMAGE,    /* /NAME/image, or /firmware/NAME.bin: the raw image */
    ROUTE_MANIFEST, /* /NAME/manifest: the bytes of NAME.sig */
    ROUTE_REPORT,   /* /NAME/report: a device says how its update went (POST) */
};
/* How many kinds there are (outside the enum: every switch stays complete). */
#define ROUTE_KINDS (ROUTE_REPORT + 1)

/* A block index too large for any image (more than 10 significant digits). */
#define ROUTE_INDEX_HUGE UINT64_MAX

struct route {
    enum route_kind kind;
    const char *name;   /* all but NONE and LISTING: NAME inside the path, not terminated */
    size_t name_len;
    uint64_t index;     /* BLOCK: N, or ROUTE_INDEX_HUGE */
};

/* Parses the (already percent-decoded) path @path of length @len. A block
 * index must be plain decimal digits (leading zeros allowed); "-1", "+1",
 * "0x1", " 1" or "" make the path ROUTE_NONE. "/firmware/NAME.bin" (the
 * layout of the usual ESP32 OTA servers) is the image of NAME, while
 * "/firmware/header" and "/firmware/block/N" stay those of a firmware called
 * "firmware". Always fills @ret. */
void route_parse(const char *path, size_t len, struct route *ret);

/* "none", "listing", "header", "block", "image", "manifest", "report": the
 * endpoint's name, as a metrics label. */
const char *route_kind_name(enum route_kind kind);

#endif

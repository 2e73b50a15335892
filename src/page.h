/* SPDX-License-Identifier: MIT */
/* The status page of the admin listener: its HTML, CSS and JavaScript
 * (src/status/), compiled into the binary by scripts/embed.py at build
 * time, so nothing is installed and nothing is fetched from elsewhere. The
 * page reads the admin API's JSON (/firmwares, /devices, /summary) and
 * changes nothing. The bytes are static: a response may point at them. */
#ifndef OTAD_PAGE_H
#define OTAD_PAGE_H

#include <stddef.h>

/* What the page's responses carry: its script and style are files of the
 * same origin, so the page works with nothing inline allowed, and a name
 * that slipped into the markup could run nothing. */
#define PAGE_POLICY "default-src 'self'"

struct page_asset {
    const char *path;            /* "/", "/status.css", ... */
    const char *type;            /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

/* The generated table, ended by a row with a NULL path. */
extern const struct page_asset page_assets[];

/* The file served at @url, or NULL. */
const struct page_asset *page_find(const char *url);

#endif

/* SPDX-License-Identifier: MIT */
/* The /firmwares listing, as text for people and JSON for scripts. The JSON
 * is made with jansson (jsontext.h): a name that is not UTF-8 (the catalog
 * serves none, but the renderer takes any bytes) has U+FFFD for each stray
 * byte in "name", and every row has "url_name", its exact bytes
 * percent-encoded. */
#ifndef OTAD_LISTING_H
#define OTAD_LISTING_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"

enum listing_format { LISTING_TEXT, LISTING_JSON };

/* The JSON listing is asked for with ?format=json (@format, the query
 * argument, or NULL) or, without that argument, an Accept header (@accept,
 * or NULL) naming application/json. The admin API's /devices asks alike. */
bool listing_wants_json(const char *format, const char *accept);

/* Renders the @n rows of @list (sorted by name) into a new malloc'ed
 * buffer (@ret, owned by the caller) of @ret_len bytes. Returns 0 or -ENOMEM. */
int listing_render(const struct catalog_item *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len);

#endif

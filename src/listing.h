/* The /firmwares listing, as text for people and JSON for scripts. */
#ifndef OTAD_LISTING_H
#define OTAD_LISTING_H

#include <stddef.h>

#include "catalog.h"

enum listing_format { LISTING_TEXT, LISTING_JSON };

/* Renders the @n rows of @list (sorted by name) into a new malloc'ed
 * buffer (@ret, owned by the caller) of @ret_len bytes. Returns 0 or -ENOMEM. */
int listing_render(const struct catalog_item *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len);

#endif

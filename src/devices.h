/* SPDX-License-Identifier: MIT */
/* The fleet's devices as the admin API shows them (GET /devices and
 * /devices/ID): text for people, JSON for scripts (made with jansson, see
 * jsontext.h). Renders copies taken from the registry (fleet.h); it never
 * reads the registry itself. */
#ifndef OTAD_DEVICES_H
#define OTAD_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "fleet.h"
#include "listing.h"

/* The orders of a listing (?sort=KEY, or -KEY for descending). */
enum devices_key {
    DEVICES_BY_ID, DEVICES_BY_FIRMWARE, DEVICES_BY_STATE, DEVICES_BY_LAST_SEEN,
    DEVICES_BY_PERCENT, DEVICES_BY_RATE,
    DEVICES_ORDERS
};
struct devices_order {
    enum devices_key key;
    bool desc;
};

/* The order @name asks for ("id", "firmware", "state", "last_seen",
 * "percent", "rate", each with a leading '-' for descending; NULL: by
 * id). Returns 0 or -EINVAL for any other name. */
int devices_order_parse(const char *name, struct devices_order *ret);

/* Sorts @n devices in order @o, ties by id, so that the listing reads the
 * same each time. */
void devices_sort(struct fleet_device *list, size_t n, struct devices_order o);

/* Renders the @n devices of @list into a new malloc'ed buffer (*@ret, owned
 * by the caller) of *@ret_len bytes: a paragraph each, or a JSON array with
 * one object a line. Returns 0 or -ENOMEM. */
int devices_render(const struct fleet_device *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len);

/* Renders one device @d with its @nevents events (oldest first) like
 * devices_render(), the events after its fields ("events" in JSON). */
int devices_render_one(const struct fleet_device *d, const struct fleet_event *events,
                       size_t nevents, enum listing_format format, char **ret,
                       size_t *ret_len);

#endif

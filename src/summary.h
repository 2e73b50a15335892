/* SPDX-License-Identifier: MIT */
/* The roll-out at a glance (GET /summary on the admin listener): the
 * fleet's devices per state, and per firmware name its devices per state
 * and the downloads of it completed over time (fleet_firmwares), as one
 * JSON object for the status page and for scripts. Renders copies; it
 * never reads the registry itself. */
#ifndef OTAD_SUMMARY_H
#define OTAD_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

/* Renders @counts and the @n firmwares of @list (sorted here by name) as
 * of @now_ms into a new malloc'ed buffer (*@ret, owned by the caller) of
 * *@ret_len bytes. Returns 0 or -ENOMEM. */
int summary_render(int64_t now_ms, const struct fleet_counts *counts,
                   struct fleet_firmware *list, size_t n, char **ret, size_t *ret_len);

#endif

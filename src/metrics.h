/* SPDX-License-Identifier: MIT */
/* The metrics of GET /metrics on the admin listener, in the Prometheus text
 * format 0.0.4.
 *
 * Two halves. The counters of what the device port does (requests by
 * endpoint and status, response bytes, open connections) and of catalog
 * reloads live here and are bumped from any thread with relaxed atomics: no
 * lock, no allocation, no formatting on the request path. Everything else
 * (the firmwares, the fleet's devices and downloads) is read only when the
 * metrics are asked for, into a struct metrics_view, and rendered with the
 * counters. */
#ifndef OTAD_METRICS_H
#define OTAD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "fleet.h"
#include "http.h"
#include "route.h"

/* The Content-Type of the text format 0.0.4. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What a catalog change counts as, in otad_reloads_total{result}. */
enum metrics_reload {
    METRICS_RELOAD_ADDED,     /* a new name */
    METRICS_RELOAD_REPLACED,  /* new bytes for a name */
    METRICS_RELOAD_VERSION,   /* another version, same bytes */
    METRICS_RELOAD_REMOVED,   /* a name served no more */
    METRICS_RELOAD_FAILED,    /* a file skipped: unreadable, invalid, a duplicate name */
    METRICS_RELOAD_DEFERRED,  /* changing or open by a writer: read again later */
    METRICS_RELOADS
};

struct metrics;

/* Returns 0 and new, zeroed counters in *@ret, or -ENOMEM. */
int metrics_new(struct metrics **ret);
void metrics_free(struct metrics *m);

/* A device-port request to @endpoint answered with @status and @bytes of
 * body. Any thread; @m NULL is ignored. */
void metrics_request(struct metrics *m, enum route_kind endpoint, unsigned status,
                     uint64_t bytes);

/* Counts an event of the device port (an http_options.event, with the
 * struct metrics as @m): a request (its endpoint, status and body bytes) or
 * a connection opened or closed. */
void metrics_http(void *m, const struct http_event *e);

/* A device-port connection opened (+1) or closed (-1). */
void metrics_connection(struct metrics *m, int delta);

/* Device-port connections open now. */
int64_t metrics_connections(const struct metrics *m);

/* A change the catalog told main.c: counted by enum metrics_reload (a
 * dropped old generation is no reload and is not counted). */
void metrics_catalog(struct metrics *m, const struct catalog_change *c);

/* An export of export_dir's tree (export_run.h) that was written (@ok) or
 * failed. @m NULL is ignored. */
void metrics_export(struct metrics *m, bool ok);

/* One line of otad_devices{firmware,state}. */
struct metrics_tally {
    char *firmware;           /* owned by the view */
    enum fleet_state state;
    uint64_t n;
};

/* What is read at scrape time. */
struct metrics_view {
    struct catalog_item *firmwares;     /* sorted by name */
    size_t nfirmwares;
    uint64_t catalog_memory;            /* bytes */
    struct fleet_counts counts;
    struct metrics_tally *tally;
    size_t ntally;
};

/* Fills @ret from @cat and @fleet (NULL: no devices). Returns 0 or
 * -ENOMEM; free with metrics_view_free() either way. */
int metrics_collect(struct catalog *cat, struct fleet *fleet, struct metrics_view *ret);
void metrics_view_free(struct metrics_view *v);

/* Renders @m and @v into a new malloc'ed buffer (*@ret, owned by the caller)
 * of *@ret_len bytes. Returns 0 or -ENOMEM. */
int metrics_render(const struct metrics *m, const struct metrics_view *v, char **ret,
                   size_t *ret_len);

#endif

/* SPDX-License-Identifier: MIT */
/* The daemon's log lines for what the catalog and the HTTP servers tell,
 * with every name and every byte a client sent escaped (they are anyone's
 * bytes, see escape.h). Part of the top level: called by main.c only. */
#ifndef OTAD_REPORT_H
#define OTAD_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "fleet.h"
#include "http.h"

/* Writes into @buf (@len bytes) the line that tells @change and returns its
 * level (a LOG_LEVEL_*), or 0 if there is nothing to tell. @listing: the
 * first scan, which lists each image ("image NAME: ...") rather than saying
 * what changed. */
int report_change(const struct catalog_change *change, bool listing, char *buf, size_t len);

/* Writes the warning about the version file of @change's image into @buf, if
 * it has a problem: returns LOG_LEVEL_WARNING then, 0 otherwise. */
int report_version(const struct catalog_change *change, char *buf, size_t len);

/* Logs the lines of report_version() and report_change() for @change. */
void report_catalog_change(const struct catalog_change *change, bool listing);

/* Logs what the HTTP servers report (http_options.event), from their threads:
 * the access log at info level (each request when the event asks for its
 * line, else at debug level; each download that ended), each report
 * accepted at info level and those
 * refused as the registry says (once a minute per address), and the warnings
 * that could come with every request at most once a minute, with the count
 * of those left out. */
void report_http(void *cls, const struct http_event *e);

#endif

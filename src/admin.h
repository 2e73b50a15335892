/* SPDX-License-Identifier: MIT */
/* The admin listener: a second libmicrohttpd daemon, apart from the device
 * port, serving the read-only fleet API to the people and programs that run
 * otad (admin.bind, by default 127.0.0.1 only, and admin.port):
 *
 *   GET /devices           every device (?firmware=NAME&state=STATE), text
 *                          or JSON (?format=json, Accept: application/json),
 *                          sorted and paged (?sort=KEY&offset=N&limit=N)
 *   GET /devices/ID        one device with its event history; 404 if unknown
 *   GET /metrics           the Prometheus text format (metrics.h)
 *   GET /firmwares         the listing of the device port
 *   GET /summary           devices per state, and per firmware with the
 *                          downloads completed over time (summary.h)
 *   GET /                  the status page (page.h), which reads the above
 *
 * GET and HEAD only (405 otherwise); request heads are bounded like the
 * device port's, in at least ADMIN_CONNECTION_MEMORY. Everything is read
 * from copies (fleet.h, catalog_list), so a slow scrape never holds the
 * device port up. This module does not log:
 * it reports each request and the library's messages to the event callback
 * given, like http.h. */
#ifndef OTAD_ADMIN_H
#define OTAD_ADMIN_H

#include <stddef.h>

#include "catalog.h"
#include "conf.h"
#include "fleet.h"
#include "http.h"
#include "metrics.h"

/* Connections the admin listener serves at once. */
#define ADMIN_MAX_CONNECTIONS 32

/* The least memory of an admin connection (connection_memory, when larger,
 * wins): a browser opening the status page sends heads of about 700 bytes
 * in 15 lines, and the cookies of whatever else the host serves, far more
 * than a device; 32 connections of it cost 512 KiB. */
#define ADMIN_CONNECTION_MEMORY 16384

/* Its worker threads: a scrape or a listing never waits for another. */
#define ADMIN_THREADS 2

struct admin;

/* Starts serving on the bound, listening socket @listen_fd (taken, closed
 * on failure too) with the idle_timeout, connection_memory (at least
 * ADMIN_CONNECTION_MEMORY) and
 * fleet.history (events shown with /devices/ID) of @c, telling @event
 * (NULL: no one) what happens. @cat, @fleet (NULL: no devices) and @metrics
 * (NULL: only what is read at scrape time) are borrowed and must outlive
 * the listener. Returns 0 or a negative errno. */
int admin_start(const struct conf *c, int listen_fd,
                void (*event)(void *cls, const struct http_event *e), struct catalog *cat,
                struct fleet *fleet, const struct metrics *metrics, struct admin **ret);

/* Closes every connection, stops the threads and frees @a. NULL is ignored. */
void admin_stop(struct admin *a);

#endif

/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "log.h"
#include "version.h"

/* The escaped form of @s into @buf (ESCAPE_NAME_SIZE bytes); "" for NULL. */
static const char *esc(const char *s, char *buf)
{
    return escape_name(s != NULL ? s : "", buf, ESCAPE_NAME_SIZE);
}

int report_version(const struct catalog_change *c, char *buf, size_t len)
{
    char file[ESCAPE_NAME_SIZE];

    if (c->version_problem == NULL)
        return 0;
    snprintf(buf, len, "%s: %s; using version %u", esc(c->img->version_file, file),
             c->version_problem, VERSION_DEFAULT);
    return LOG_LEVEL_WARNING;
}

void report_catalog_change(const struct catalog_change *c, bool listing)
{
    char line[768];
    int level;

    if (report_version(c, line, sizeof(line)) > 0)
        log_warning("%s", line);
    level = report_change(c, listing, line, sizeof(line));
    if (level > 0)
        log_msg((enum log_level)level, "%s", line);
}

/* The lines about an image served: added, replaced or re-versioned. */
static int tell_image(const struct catalog_change *c, bool listing, const char *name,
                      const char *vfile, char *buf, size_t len)
{
    const struct image *img = c->img;

    if (c->event != CATALOG_VERSION)
        snprintf(buf, len, "%s %s: version %u, %u bytes, crc 0x%08X, %u blocks, etag %s",
                 listing ? "image" : c->event == CATALOG_ADDED ? "added" : "replaced", name,
                 img->version, img->gen->size, img->gen->crc, img->gen->nblocks, img->gen->etag);
    else if (img->version_source == VERSION_FROM_FILE)
        snprintf(buf, len, "version %s: %u (from %s)", name, img->version, vfile);
    else
        snprintf(buf, len, "version %s: %u (default: %s %s)", name, img->version, vfile,
                 img->version_source == VERSION_FILE_MISSING ? "missing" : "invalid");
    return LOG_LEVEL_INFO;
}

int report_change(const struct catalog_change *c, bool listing, char *buf, size_t len)
{
    char nb[ESCAPE_NAME_SIZE], vb[ESCAPE_NAME_SIZE], fb[ESCAPE_NAME_SIZE], ob[ESCAPE_NAME_SIZE];
    const char *name = esc(c->img != NULL ? c->img->name : c->name, nb);
    const char *vfile = esc(c->img != NULL ? c->img->version_file : NULL, vb);
    const char *file = esc(c->file, fb);

    switch (c->event) {
    case CATALOG_ADDED:
    case CATALOG_REPLACED:
    case CATALOG_VERSION:
        return tell_image(c, listing, name, vfile, buf, len);
    case CATALOG_REMOVED:
        snprintf(buf, len, "removed %s", esc(c->name, nb));
        return LOG_LEVEL_INFO;
    case CATALOG_SKIPPED:
        snprintf(buf, len, "%s: %s; %s", file, c->reason,
                 c->img != NULL ? "still serving the image loaded before" : "skipped");
        return LOG_LEVEL_WARNING;
    case CATALOG_DUPLICATE:
        snprintf(buf, len, "%s: same name as %s; ignored", file, esc(c->other, ob));
        return LOG_LEVEL_WARNING;
    case CATALOG_UNSETTLED:
        snprintf(buf, len, "%s: changed while being read; kept the previous state, read again "
                 "once it settles", file);
        return LOG_LEVEL_WARNING;
    case CATALOG_WRITING:
        snprintf(buf, len, "%s: being written; loaded once its writer closes it", file);
        return LOG_LEVEL_INFO;
    case CATALOG_DROPPED:
        snprintf(buf, len, "dropped generation %s of %s: %s%s", c->gen->etag, esc(c->name, nb),
                 c->reason,
                 c->in_use ? "; its memory is freed once the downloads still reading it end" : "");
        return LOG_LEVEL_INFO;
    }
    return 0;
}

/* Seconds of the monotonic clock, for the once-a-minute warnings. */
static int64_t now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* The NAME of "/NAME/report" (@url), escaped into @buf (ESCAPE_NAME_SIZE
 * bytes). A NAME longer than any file name is cut, and marked so. */
static const char *report_name(const char *url, char *buf)
{
    char name[FLEET_NAME_MAX + 4];
    size_t len = strlen(url) - strlen("//report");

    if (len > FLEET_NAME_MAX)
        snprintf(name, sizeof(name), "%.*s...", FLEET_NAME_MAX, url + 1);
    else
        snprintf(name, sizeof(name), "%.*s", (int)len, url + 1);
    return esc(name, buf);
}

/* A report accepted (info) or refused (warning, when the registry says to
 * log it: once a minute per address). */
static void tell_report(const struct http_event *e)
{
    const struct fleet_report_result *r = e->report;
    char id[ESCAPE_NAME_SIZE], name[ESCAPE_NAME_SIZE], why[ESCAPE_NAME_SIZE];
    const char *address = e->address != NULL ? e->address : "?";

    if (r->status == 204 && log_enabled(LOG_LEVEL_INFO))
        log_info("report %s %s %s status=%s version=%u%s%s", esc(r->id, id), address,
                 report_name(e->url, name), fleet_status_name(r->event.status),
                 r->event.version, r->event.reason != FLEET_REASON_NONE ? " reason=" : "",
                 r->event.reason != FLEET_REASON_NONE ? fleet_reason_name(r->event.reason)
                                                      : "");
    else if (r->status != 204 && r->log && log_enabled(LOG_LEVEL_WARNING))
        log_warning("refused a report from %s for %s: %u %s (%u more from this address since "
                    "the last such warning)",
                    address, report_name(e->url, name), r->status, esc(r->message, why),
                    r->suppressed);
}

/* An image an Arduino updater was refused (403): it would fail to flash it
 * and ask again at every check, so once a minute at most. */
static void tell_esp(const struct http_event *e)
{
    static struct log_limit limit = LOG_LIMIT_INIT;
    char addr[HTTP_PEER_NAME_MAX], url[ESCAPE_NAME_SIZE], mac[ESCAPE_NAME_SIZE];
    unsigned skipped;

    if (!log_enabled(LOG_LEVEL_WARNING) || !log_limit_pass(&limit, now_s(), 60, &skipped))
        return;
    http_peer_name(e, addr, sizeof(addr));
    log_warning("refused %s to the updater at %s (STA-MAC %s): %s (%u more since the last "
                "such warning)",
                esc(e->url, url), addr, e->esp_device != NULL ? esc(e->esp_device, mac) : "none",
                e->esp_refused, skipped);
}

/* "ADDRESS:PORT" of the client of @e ("[ADDRESS]:PORT" for IPv6) into @buf. */
static const char *peer(const struct http_event *e, char *buf, size_t len)
{
    char addr[HTTP_PEER_NAME_MAX];

    http_peer_name(e, addr, sizeof(addr));
    snprintf(buf, len, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr,
             http_peer_port(e));
    return buf;
}

/* The access log's line for a request (access_log: requests). */
static void tell_request(const struct http_event *e)
{
    char who[HTTP_PEER_NAME_MAX + 8], method[64], url[900];

    /* The client's bytes, escaped: a %0A in a URL must not start a line. */
    log_info("request %s %s %s status=%u bytes=%llu us=%llu", peer(e, who, sizeof(who)),
             escape_name(e->method, method, sizeof(method)),
             escape_name(e->url, url, sizeof(url)), e->status,
             (unsigned long long)e->body_bytes, (unsigned long long)e->duration_us);
}

/* The access log's line for a download that ended (access_log: downloads). */
static void tell_download(const struct http_event *e)
{
    const struct download *d = e->download;
    char who[HTTP_PEER_NAME_MAX + 8], name[ESCAPE_NAME_SIZE], version[24] = "?";
    char device[ESCAPE_NAME_SIZE + 8] = "";
    uint64_t us = (uint64_t)(d->last_us - d->started_us);

    if (d->version >= 0)
        snprintf(version, sizeof(version), "%lld", (long long)d->version);
    if (e->device != NULL)
        snprintf(device, sizeof(device), " device=%s", esc(e->device, name));
    log_info("download %s %s %s version=%s blocks=%u/%u bytes=%llu duration=%llu.%06llus "
             "rate=%lluB/s%s",
             e->finished ? "finished" : "abandoned", peer(e, who, sizeof(who)),
             esc(d->name, name), version, d->served, d->blocks, (unsigned long long)d->bytes,
             (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000),
             (unsigned long long)(us > 0 ? d->bytes * 1000000 / us : 0), device);
}

void report_http(void *cls, const struct http_event *e)
{
    /* Warnings that can come with every request: once a minute. */
    static struct log_limit room = LOG_LIMIT_INIT, keep = LOG_LIMIT_INIT;
    char addr[HTTP_PEER_NAME_MAX], method[64], url[900];
    unsigned skipped;

    (void)cls;
    switch (e->kind) {
    case HTTP_EVENT_CONNECTION:
        return;
    case HTTP_EVENT_DOWNLOAD:
        if (log_enabled(LOG_LEVEL_INFO))
            tell_download(e);
        return;
    case HTTP_EVENT_REQUEST:
        if (e->report != NULL)
            tell_report(e);
        if (e->esp_refused != NULL)
            tell_esp(e);
        if (e->log_request && log_enabled(LOG_LEVEL_INFO)) {
            tell_request(e);
            return;
        }
        /* First: the address costs more than the rest of a block request. */
        if (!log_enabled(LOG_LEVEL_DEBUG))
            return;
        http_peer_name(e, addr, sizeof(addr));
        /* The client's bytes, escaped: a %0A in a URL must not start a line. */
        log_debug("%s %s %s %u", addr, escape_name(e->method, method, sizeof(method)),
                  escape_name(e->url, url, sizeof(url)), e->status);
        return;
    case HTTP_EVENT_KEEP_ALIVE_FAILED:
        if (log_enabled(LOG_LEVEL_WARNING) &&
            log_limit_pass(&keep, now_s(), 60, &skipped))
            log_warning("legacy keep-alive: cannot keep a connection open: %s "
                        "(%u more since the last such warning)", strerror(-e->error), skipped);
        return;
    case HTTP_EVENT_HEADER_ROOM:
        /* The library message an operator can act on. */
        if (log_enabled(LOG_LEVEL_WARNING) &&
            log_limit_pass(&room, now_s(), 60, &skipped)) {
            log_warning("closed a connection whose request headers left no room for the "
                        "response (raise connection_memory for such clients; %u more since "
                        "the last such warning)", skipped);
            return;
        }
        break;
    case HTTP_EVENT_LIBRARY:
        break;
    }
    /* The library's messages may quote the URL. */
    log_debug("libmicrohttpd: %s", escape_name(e->message, url, sizeof(url)));
}

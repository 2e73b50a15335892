#include "devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "jsontext.h"
#include "membuf.h"

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct fleet_device *)a)->id, ((const struct fleet_device *)b)->id);
}

void devices_sort(struct fleet_device *list, size_t n)
{
    if (n > 1)
        qsort(list, n, sizeof(*list), by_id);
}

/* RFC 3339 in UTC with milliseconds: 2026-12-01T19:04:29.123Z. */
static const char *rfc3339(int64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    if (ms < 0 || gmtime_r(&t, &tm) == NULL ||
        (n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
        return "?";
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
    return buf;
}

/* Whole percent of the blocks served; 0 before any download. */
static unsigned percent(const struct fleet_device *d)
{
    return d->blocks_total ? (unsigned)((uint64_t)d->blocks_served * 100 / d->blocks_total) : 0;
}

/* --- JSON --------------------------------------------------------------- */

static json_t *time_or_null(int64_t ms)
{
    char buf[32];

    return ms > 0 ? json_string(rfc3339(ms, buf)) : json_null();
}

static json_t *event_json(const struct fleet_event *e)
{
    json_t *o = json_object();
    char buf[32];
    int err = 0;

    jsontext_set(o, "at", json_string(rfc3339(e->at_ms, buf)), &err);
    jsontext_set(o, "at_ms", json_integer(e->at_ms), &err);
    jsontext_set(o, "type", json_string(e->is_report ? "report" : "state"), &err);
    if (e->is_report) {
        jsontext_set(o, "status", json_string(fleet_status_name(e->status)), &err);
        jsontext_set(o, "reason",
                     e->reason != FLEET_REASON_NONE ? json_string(fleet_reason_name(e->reason))
                                                    : json_null(),
                     &err);
    } else {
        jsontext_set(o, "state", json_string(fleet_state_name(e->state)), &err);
    }
    jsontext_set(o, "version", json_integer(e->version), &err);
    return jsontext_done(o, err);
}

static json_t *device_json(const struct fleet_device *d)
{
    json_t *o = json_object();
    char buf[32];
    int err = 0;

    jsontext_set(o, "id", jsontext_string(d->id), &err);
    jsontext_set(o, "by_address", json_boolean(d->by_address), &err);
    jsontext_set(o, "address", jsontext_string(d->address), &err);
    jsontext_set(o, "firmware", jsontext_string(d->firmware), &err);
    jsontext_set(o, "state", json_string(fleet_state_name(d->state)), &err);
    jsontext_set(o, "installed", d->has_installed ? json_integer(d->installed) : json_null(),
                 &err);
    jsontext_set(o, "offered", json_integer(d->offered), &err);
    jsontext_set(o, "blocks_total", json_integer(d->blocks_total), &err);
    jsontext_set(o, "blocks_served", json_integer(d->blocks_served), &err);
    jsontext_set(o, "percent", json_integer(percent(d)), &err);
    jsontext_set(o, "bytes", json_integer((json_int_t)d->bytes), &err);
    jsontext_set(o, "rate", json_integer((json_int_t)d->rate), &err);
    jsontext_set(o, "first_seen", json_string(rfc3339(d->first_seen_ms, buf)), &err);
    jsontext_set(o, "first_seen_ms", json_integer(d->first_seen_ms), &err);
    jsontext_set(o, "last_seen", json_string(rfc3339(d->last_seen_ms, buf)), &err);
    jsontext_set(o, "last_seen_ms", json_integer(d->last_seen_ms), &err);
    jsontext_set(o, "download_started", time_or_null(d->download_started_ms), &err);
    jsontext_set(o, "download_started_ms",
                 d->download_started_ms > 0 ? json_integer(d->download_started_ms)
                                            : json_null(),
                 &err);
    jsontext_set(o, "last_report", d->has_report ? event_json(&d->last_report) : json_null(),
                 &err);
    jsontext_set(o, "seq", json_integer((json_int_t)d->seq), &err);
    return jsontext_done(o, err);
}

/* Writes @o (taken) as one line; NULL is out of memory. */
static int write_json(FILE *f, json_t *o)
{
    int r = o != NULL ? jsontext_write(f, o) : -ENOMEM;

    json_decref(o);
    return r;
}

/* --- text --------------------------------------------------------------- */

static void text_event(FILE *f, const struct fleet_event *e)
{
    char at[32];

    rfc3339(e->at_ms, at);
    if (e->is_report)
        fprintf(f, "%s report %s, version %" PRIu32 "%s%s", at, fleet_status_name(e->status),
                e->version, e->reason != FLEET_REASON_NONE ? ", reason " : "",
                e->reason != FLEET_REASON_NONE ? fleet_reason_name(e->reason) : "");
    else
        fprintf(f, "%s state %s, version %" PRIu32, at, fleet_state_name(e->state), e->version);
}

static void text_device(FILE *f, const struct fleet_device *d)
{
    char name[ESCAPE_NAME_SIZE], id[ESCAPE_NAME_SIZE], t1[32], t2[32];

    fprintf(f, "%s\n  address: %s%s\n  firmware: %s\n  state: %s\n",
            escape_name(d->id, id, sizeof(id)), d->address,
            d->by_address ? " (known by its address)" : "",
            escape_name(d->firmware, name, sizeof(name)), fleet_state_name(d->state));
    if (d->has_installed)
        fprintf(f, "  installed: %" PRIu32 "\n", d->installed);
    else
        fputs("  installed: unknown\n", f);
    fprintf(f,
            "  offered: %" PRIu32 "\n"
            "  blocks: %" PRIu32 " of %" PRIu32 " (%u%%)\n"
            "  bytes: %" PRIu64 " at %" PRIu64 " bytes/s\n",
            d->offered, d->blocks_served, d->blocks_total, percent(d), d->bytes, d->rate);
    if (d->download_started_ms > 0)
        fprintf(f, "  download started: %s\n", rfc3339(d->download_started_ms, t1));
    fprintf(f, "  seen: %s to %s\n", rfc3339(d->first_seen_ms, t1), rfc3339(d->last_seen_ms, t2));
    if (d->has_report) {
        fputs("  last report: ", f);
        text_event(f, &d->last_report);
        fputc('\n', f);
    }
}

/* --- the two views ------------------------------------------------------ */

struct rows {
    const struct fleet_device *list;
    size_t n;
    const struct fleet_event *events;
    size_t nevents;
    enum listing_format format;
};

static int render_list(FILE *f, const void *cls)
{
    const struct rows *rows = cls;
    int r = 0;

    if (rows->format == LISTING_TEXT) {
        if (rows->n == 0)
            fputs("no devices\n", f);
        for (size_t i = 0; i < rows->n; i++) {
            text_device(f, &rows->list[i]);
            fputc('\n', f);
        }
        return 0;
    }
    fputc('[', f);
    for (size_t i = 0; i < rows->n && r == 0; i++) {
        fputs(i ? ",\n" : "\n", f);
        r = write_json(f, device_json(&rows->list[i]));
    }
    fputs(rows->n ? "\n]\n" : "]\n", f);
    return r;
}

static int render_one(FILE *f, const void *cls)
{
    const struct rows *rows = cls;
    json_t *o, *events;
    int err = 0;

    if (rows->format == LISTING_TEXT) {
        text_device(f, rows->list);
        fputs("  events:\n", f);
        for (size_t i = 0; i < rows->nevents; i++) {
            fputs("    ", f);
            text_event(f, &rows->events[i]);
            fputc('\n', f);
        }
        return 0;
    }
    o = device_json(rows->list);
    events = json_array();
    if (o == NULL || jsontext_set(o, "events", events, &err) < 0) {
        json_decref(o);
        return -ENOMEM;
    }
    for (size_t i = 0; i < rows->nevents && err == 0; i++) {
        json_t *e = event_json(&rows->events[i]);

        if (e == NULL || json_array_append_new(events, e) < 0)
            err = -ENOMEM;
    }
    if (err < 0) {
        json_decref(o);
        return err;
    }
    err = write_json(f, o);
    fputc('\n', f);
    return err;
}

int devices_render(const struct fleet_device *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len)
{
    return membuf_render(render_list, &(struct rows){.list = list, .n = n, .format = format},
                         ret, ret_len);
}

int devices_render_one(const struct fleet_device *d, const struct fleet_event *events,
                       size_t nevents, enum listing_format format, char **ret, size_t *ret_len)
{
    return membuf_render(render_one,
                         &(struct rows){.list = d, .n = 1, .events = events,
                                        .nevents = nevents, .format = format},
                         ret, ret_len);
}

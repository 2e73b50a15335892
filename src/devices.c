/* SPDX-License-Identifier: MIT */
#include "devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "jsontext.h"
#include "membuf.h"

/* Whole percent of the download served; 0 before any download. */
static unsigned percent(const struct fleet_device *d)
{
    if (d->blocks_total != 0)
        return (unsigned)((uint64_t)d->blocks_served * 100 / d->blocks_total);
    return d->download_size ? (unsigned)(d->download_done * 100 / d->download_size) : 0;
}

static int cmp(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static const char *const order_names[DEVICES_ORDERS] = {
    [DEVICES_BY_ID] = "id",           [DEVICES_BY_FIRMWARE] = "firmware",
    [DEVICES_BY_STATE] = "state",     [DEVICES_BY_LAST_SEEN] = "last_seen",
    [DEVICES_BY_PERCENT] = "percent", [DEVICES_BY_RATE] = "rate",
};

int devices_order_parse(const char *name, struct devices_order *ret)
{
    bool desc = name != NULL && name[0] == '-';

    if (name == NULL) {
        *ret = (struct devices_order){DEVICES_BY_ID, false};
        return 0;
    }
    for (int k = 0; k < DEVICES_ORDERS; k++)
        if (strcmp(name + desc, order_names[k]) == 0) {
            *ret = (struct devices_order){(enum devices_key)k, desc};
            return 0;
        }
    return -EINVAL;
}

static int by_order(const void *pa, const void *pb, void *cls)
{
    const struct fleet_device *a = pa, *b = pb;
    const struct devices_order order = *(const struct devices_order *)cls;
    int c = 0;

    switch (order.key) {
    case DEVICES_BY_FIRMWARE: c = strcmp(a->firmware, b->firmware); break;
    case DEVICES_BY_STATE:
        c = strcmp(fleet_state_name(a->state), fleet_state_name(b->state));
        break;
    case DEVICES_BY_LAST_SEEN: c = cmp(a->last_seen_ms, b->last_seen_ms); break;
    case DEVICES_BY_PERCENT: c = cmp(percent(a), percent(b)); break;
    case DEVICES_BY_RATE: c = cmp((int64_t)a->rate, (int64_t)b->rate); break;
    default: break;
    }
    /* Ties (and the id order itself) by id, so that pages do not shuffle. */
    if (c == 0)
        c = strcmp(a->id, b->id);
    return order.desc ? -c : c;
}

void devices_sort(struct fleet_device *list, size_t n, struct devices_order o)
{
    if (n > 1)
        qsort_r(list, n, sizeof(*list), by_order, &o);
}

/* Writes @v as @n decimal digits ending at @end (leading zeros). */
static void digits(char *end, unsigned v, int n)
{
    while (n-- > 0) {
        *--end = (char)('0' + v % 10);
        v /= 10;
    }
}

/* RFC 3339 in UTC with milliseconds: 2026-12-01T19:04:29.123Z. By hand
 * rather than with gmtime_r() and strftime(): a listing of 10,000 devices
 * formats 30,000 of these, and the library's way cost a tenth of it. The
 * date is the proleptic Gregorian calendar's, counted in eras of 400 years
 * (146,097 days) from 0000-03-01, so that the leap day ends each year. */
static const char *rfc3339(int64_t ms, char buf[32])
{
    int64_t days, secs;
    unsigned era_day, year_of_era, day_of_year, mp, day, month;
    int64_t era, year;

    if (ms < 0 || ms / 1000 / 86400 > 2932896) /* past 9999-12-31 */
        return "?";
    days = ms / 1000 / 86400;
    secs = ms / 1000 % 86400;
    days += 719468; /* from 1970-01-01 to 0000-03-01 */
    era = days / 146097;
    era_day = (unsigned)(days - era * 146097);
    year_of_era = (era_day - era_day / 1460 + era_day / 36524 - era_day / 146096) / 365;
    day_of_year = era_day - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    mp = (5 * day_of_year + 2) / 153; /* months from March */
    day = day_of_year - (153 * mp + 2) / 5 + 1;
    month = mp < 10 ? mp + 3 : mp - 9;
    year = (int64_t)year_of_era + era * 400 + (month <= 2);
    memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
    digits(buf + 4, (unsigned)year, 4);
    digits(buf + 7, month, 2);
    digits(buf + 10, day, 2);
    digits(buf + 13, (unsigned)(secs / 3600), 2);
    digits(buf + 16, (unsigned)(secs / 60 % 60), 2);
    digits(buf + 19, (unsigned)(secs % 60), 2);
    digits(buf + 23, (unsigned)(ms % 1000), 3);
    return buf;
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

/* Sets the members of device @d in @o. A listing fills one object again
 * for every device: the members are replaced in place, in the order of the
 * first fill, which saves making and freeing a whole object a device.
 * Returns 0 or -ENOMEM. */
static int device_fill(json_t *o, const struct fleet_device *d)
{
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
    jsontext_set(o, "download_size", json_integer((json_int_t)d->download_size), &err);
    jsontext_set(o, "download_done", json_integer((json_int_t)d->download_done), &err);
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
    return err;
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
    json_t *o;
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
    o = json_object();
    fputc('[', f);
    for (size_t i = 0; i < rows->n && r == 0; i++) {
        fputs(i ? ",\n" : "\n", f);
        r = device_fill(o, &rows->list[i]);
        if (r == 0)
            r = jsontext_write(f, o);
    }
    fputs(rows->n ? "\n]\n" : "]\n", f);
    json_decref(o);
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
    o = json_object();
    err = device_fill(o, rows->list);
    if (jsontext_set(o, "events", json_array(), &err) < 0) {
        json_decref(o);
        return -ENOMEM;
    }
    events = json_object_get(o, "events");
    for (size_t i = 0; i < rows->nevents && err == 0; i++) {
        json_t *e = event_json(&rows->events[i]);

        if (e == NULL || json_array_append_new(events, e) < 0)
            err = -ENOMEM;
    }
    if (err == 0)
        err = jsontext_write(f, o);
    json_decref(o);
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

/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "escape.h"
#include "membuf.h"
#include "sign.h"

/* The statuses otad answers with; any other is counted as "other". */
static const unsigned statuses[] = {200, 204, 206, 304, 400, 404, 405, 412,
                                    413, 416, 429, 431, 500, 503};
#define STATUSES (sizeof(statuses) / sizeof(statuses[0]) + 1)

static const char *const reload_names[METRICS_RELOADS] = {
    [METRICS_RELOAD_ADDED] = "added",     [METRICS_RELOAD_REPLACED] = "replaced",
    [METRICS_RELOAD_VERSION] = "version", [METRICS_RELOAD_REMOVED] = "removed",
    [METRICS_RELOAD_FAILED] = "failed",   [METRICS_RELOAD_DEFERRED] = "deferred",
};

struct metrics {
    atomic_uint_fast64_t requests[ROUTE_KINDS][STATUSES];
    atomic_uint_fast64_t bytes[ROUTE_KINDS];
    atomic_int_fast64_t connections;
    atomic_uint_fast64_t reloads[METRICS_RELOADS];
    atomic_uint_fast64_t exports[2];    /* failed, written */
};

int metrics_new(struct metrics **ret)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return -ENOMEM;
    *ret = m;
    return 0;
}

void metrics_free(struct metrics *m)
{
    free(m);
}

/* The slot of @status in statuses[], or the last one ("other"): a few
 * compares, most requests stop at the first. */
static size_t status_index(unsigned status)
{
    size_t i = 0;

    while (i < STATUSES - 1 && statuses[i] != status)
        i++;
    return i;
}

void metrics_request(struct metrics *m, enum route_kind endpoint, unsigned status,
                     uint64_t bytes)
{
    size_t e = (size_t)endpoint < ROUTE_KINDS ? (size_t)endpoint : ROUTE_NONE;

    if (m == NULL)
        return;
    atomic_fetch_add_explicit(&m->requests[e][status_index(status)], 1, memory_order_relaxed);
    if (bytes > 0)
        atomic_fetch_add_explicit(&m->bytes[e], bytes, memory_order_relaxed);
}

void metrics_http(void *m, const struct http_event *e)
{
    if (e->kind == HTTP_EVENT_REQUEST)
        metrics_request(m, e->endpoint, e->status, e->body_bytes);
    else if (e->kind == HTTP_EVENT_CONNECTION)
        metrics_connection(m, e->connections);
}

void metrics_connection(struct metrics *m, int delta)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->connections, delta, memory_order_relaxed);
}

int64_t metrics_connections(const struct metrics *m)
{
    return (int64_t)atomic_load_explicit(&m->connections, memory_order_relaxed);
}

void metrics_catalog(struct metrics *m, const struct catalog_change *c)
{
    static const int result[] = {
        [CATALOG_ADDED] = METRICS_RELOAD_ADDED,     [CATALOG_REPLACED] = METRICS_RELOAD_REPLACED,
        [CATALOG_VERSION] = METRICS_RELOAD_VERSION, [CATALOG_REMOVED] = METRICS_RELOAD_REMOVED,
        [CATALOG_SKIPPED] = METRICS_RELOAD_FAILED,  [CATALOG_DUPLICATE] = METRICS_RELOAD_FAILED,
        [CATALOG_UNSETTLED] = METRICS_RELOAD_DEFERRED,
        [CATALOG_WRITING] = METRICS_RELOAD_DEFERRED, [CATALOG_DROPPED] = -1,
    };

    if (m != NULL && (size_t)c->event < sizeof(result) / sizeof(result[0]) &&
        result[c->event] >= 0)
        atomic_fetch_add_explicit(&m->reloads[result[c->event]], 1, memory_order_relaxed);
}

void metrics_export(struct metrics *m, bool ok)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->exports[ok], 1, memory_order_relaxed);
}

/* --- reading at scrape time ------------------------------------------ */

struct tally_rows {
    struct metrics_view *v;
    size_t cap;
    int error;
};

static void add_tally(void *cls, const char *firmware, enum fleet_state s, uint64_t n)
{
    struct tally_rows *t = cls;
    struct metrics_view *v = t->v;
    char *copy;

    if (t->error < 0)
        return;
    copy = strdup(firmware != NULL ? firmware : "");
    if (copy == NULL || array_grow(&v->tally, &t->cap, v->ntally + 1, sizeof(*v->tally)) < 0) {
        free(copy);
        t->error = -ENOMEM;
        return;
    }
    v->tally[v->ntally++] = (struct metrics_tally){.firmware = copy, .state = s, .n = n};
}

int metrics_collect(struct catalog *cat, struct fleet *fleet, struct metrics_view *ret)
{
    struct tally_rows t = {.v = ret};
    int n;

    *ret = (struct metrics_view){0};
    n = catalog_list(cat, &ret->firmwares);
    if (n < 0)
        return n;
    ret->nfirmwares = (size_t)n;
    ret->catalog_memory = catalog_memory(cat);
    if (fleet != NULL) {
        fleet_counts(fleet, &ret->counts);
        fleet_tally(fleet, add_tally, &t);
    }
    return t.error;
}

void metrics_view_free(struct metrics_view *v)
{
    catalog_release(v->firmwares, v->nfirmwares);
    for (size_t i = 0; i < v->ntally; i++)
        free(v->tally[i].firmware);
    free(v->tally);
    *v = (struct metrics_view){0};
}

/* --- the text format ---------------------------------------------------- */

/* A label value: backslash, quote and newline escaped as the format asks,
 * each byte that starts no UTF-8 character as U+FFFD. */
static void label(FILE *f, const char *s)
{
    size_t n;

    fputc('"', f);
    for (; *s != '\0'; s += n ? n : 1) {
        n = escape_utf8_len(s);
        if (n == 0)
            fputs("\xef\xbf\xbd", f);
        else if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fwrite(s, 1, n, f);
    }
    fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Milliseconds as seconds, without trailing zeros: 1500 is "1.5". */
static void seconds(FILE *f, uint64_t ms)
{
    char frac[8];
    size_t n;

    n = (size_t)snprintf(frac, sizeof(frac), "%03u", (unsigned)(ms % 1000));
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    fprintf(f, n ? "%" PRIu64 ".%s" : "%" PRIu64 "%s", ms / 1000, frac);
}

static void render_requests(FILE *f, const struct metrics *m)
{
    family(f, "otad_requests_total", "counter",
           "Device-port requests answered, by endpoint and status.");
    for (size_t e = 0; e < ROUTE_KINDS; e++) {
        for (size_t s = 0; s < STATUSES; s++) {
            uint64_t n = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);

            if (n == 0)
                continue;
            fprintf(f, "otad_requests_total{endpoint=\"%s\",status=\"", route_kind_name(e));
            if (s < STATUSES - 1)
                fprintf(f, "%u\"} %" PRIu64 "\n", statuses[s], n);
            else
                fprintf(f, "other\"} %" PRIu64 "\n", n);
        }
    }
    family(f, "otad_response_bytes_total", "counter",
           "Body bytes of device-port responses, by endpoint.");
    for (size_t e = 0; e < ROUTE_KINDS; e++)
        fprintf(f, "otad_response_bytes_total{endpoint=\"%s\"} %" PRIu64 "\n",
                route_kind_name(e),
                (uint64_t)atomic_load_explicit(&m->bytes[e], memory_order_relaxed));
    family(f, "otad_connections", "gauge", "Device-port connections open.");
    fprintf(f, "otad_connections %" PRId64 "\n", metrics_connections(m));
    family(f, "otad_reloads_total", "counter",
           "Firmware directory changes read, by result.");
    for (size_t r = 0; r < METRICS_RELOADS; r++)
        fprintf(f, "otad_reloads_total{result=\"%s\"} %" PRIu64 "\n", reload_names[r],
                (uint64_t)atomic_load_explicit(&m->reloads[r], memory_order_relaxed));
    family(f, "otad_exports_total", "counter",
           "Exports of the static tree of export_dir, by result.");
    for (int ok = 1; ok >= 0; ok--)
        fprintf(f, "otad_exports_total{result=\"%s\"} %" PRIu64 "\n", ok ? "written" : "failed",
                (uint64_t)atomic_load_explicit(&m->exports[ok], memory_order_relaxed));
}

static void render_firmwares(FILE *f, const struct metrics_view *v)
{
    family(f, "otad_firmware_info", "gauge",
           "A firmware served: its version, CRC-32, whether it has a manifest and the key "
           "that verified it.");
    for (size_t i = 0; i < v->nfirmwares; i++) {
        const struct image *img = v->firmwares[i].img;
        char id[2 * OTA_MANIFEST_KEY_ID + 1] = "";

        if (img->verified)
            sign_key_id_hex(img->key_id, id);
        fputs("otad_firmware_info{name=", f);
        label(f, img->name);
        fprintf(f, ",version=\"%u\",crc=\"0x%08X\",signed=\"%s\",key_id=\"%s\"} 1\n",
                img->version, img->gen->crc, img->gen->manifest_error == 0 ? "true" : "false",
                id);
    }
    family(f, "otad_catalog_memory_bytes", "gauge",
           "Bytes held by every firmware generation alive.");
    fprintf(f, "otad_catalog_memory_bytes %" PRIu64 "\n", v->catalog_memory);
}

static void render_fleet(FILE *f, const struct metrics_view *v)
{
    const struct fleet_counts *c = &v->counts;

    family(f, "otad_devices", "gauge", "Devices held in memory, by firmware and state.");
    for (size_t i = 0; i < v->ntally; i++) {
        fputs("otad_devices{firmware=", f);
        label(f, v->tally[i].firmware);
        fprintf(f, ",state=\"%s\"} %" PRIu64 "\n", fleet_state_name(v->tally[i].state),
                v->tally[i].n);
    }
    family(f, "otad_downloads_started_total", "counter", "Downloads begun.");
    fprintf(f, "otad_downloads_started_total %" PRIu64 "\n", c->downloads_started);
    family(f, "otad_downloads_completed_total", "counter",
           "Downloads that got every block (or the whole image).");
    fprintf(f, "otad_downloads_completed_total %" PRIu64 "\n", c->downloads_completed);
    family(f, "otad_download_duration_seconds", "histogram",
           "Time from the first to the last block of completed downloads.");
    for (size_t i = 0; i < sizeof(c->duration_le) / sizeof(c->duration_le[0]); i++) {
        fputs("otad_download_duration_seconds_bucket{le=\"", f);
        seconds(f, fleet_duration_bounds_ms[i]);
        fprintf(f, "\"} %" PRIu64 "\n", c->duration_le[i]);
    }
    fprintf(f, "otad_download_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
            c->duration_count);
    fputs("otad_download_duration_seconds_sum ", f);
    seconds(f, c->duration_sum_ms);
    fprintf(f, "\notad_download_duration_seconds_count %" PRIu64 "\n", c->duration_count);
    family(f, "otad_reports_total", "counter", "Device reports accepted, by status.");
    for (size_t s = 0; s < FLEET_STATUSES; s++)
        fprintf(f, "otad_reports_total{status=\"%s\"} %" PRIu64 "\n", fleet_status_name(s),
                c->reports[s]);
    family(f, "otad_devices_evicted_total", "counter",
           "Devices that left memory for max_devices (the store keeps them).");
    fprintf(f, "otad_devices_evicted_total %" PRIu64 "\n", c->devices_evicted);
}

struct scrape {
    const struct metrics *m;
    const struct metrics_view *v;
};

static int render(FILE *f, const void *cls)
{
    const struct scrape *s = cls;

    render_requests(f, s->m);
    render_firmwares(f, s->v);
    render_fleet(f, s->v);
    return 0;
}

int metrics_render(const struct metrics *m, const struct metrics_view *v, char **ret,
                   size_t *ret_len)
{
    return membuf_render(render, &(struct scrape){m, v}, ret, ret_len);
}

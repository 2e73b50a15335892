/* SPDX-License-Identifier: MIT */
#include "summary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsontext.h"
#include "membuf.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct fleet_firmware *)a)->name,
                  ((const struct fleet_firmware *)b)->name);
}

/* {"checking": n, ...}: every state, zeros included, so a reader needs no
 * default. */
static json_t *states(const uint64_t devices[FLEET_STATES])
{
    json_t *o = json_object();
    int err = 0;

    for (unsigned s = 0; s < FLEET_STATES; s++)
        jsontext_set(o, fleet_state_name(s), json_integer((json_int_t)devices[s]), &err);
    return jsontext_done(o, err);
}

static json_t *timeline(const struct fleet_timeline *t)
{
    json_t *o, *counts;
    int err = 0;

    if (t->bucket_ms == 0)
        return json_null();
    o = json_object();
    counts = json_array();
    for (unsigned i = 0; i < FLEET_TIMELINE && counts != NULL && err == 0; i++)
        if (json_array_append_new(counts, json_integer(t->counts[i])) < 0)
            err = -ENOMEM;
    jsontext_set(o, "start_ms", json_integer(t->start_ms), &err);
    jsontext_set(o, "bucket_ms", json_integer(t->bucket_ms), &err);
    jsontext_set(o, "counts", counts, &err);
    return jsontext_done(o, err);
}

static json_t *firmware(const struct fleet_firmware *fw)
{
    json_t *o = json_object();
    int err = 0;

    jsontext_set(o, "name", jsontext_string(fw->name), &err);
    jsontext_set(o, "url_name", jsontext_url(fw->name), &err);
    jsontext_set(o, "devices", states(fw->devices), &err);
    jsontext_set(o, "completed", json_integer((json_int_t)fw->completed), &err);
    jsontext_set(o, "timeline", timeline(&fw->timeline), &err);
    return jsontext_done(o, err);
}

struct view {
    int64_t now_ms;
    const struct fleet_counts *counts;
    const struct fleet_firmware *list;
    size_t n;
};

static int render(FILE *f, const void *cls)
{
    const struct view *v = cls;
    json_t *o = json_object(), *list = json_array();
    int err = 0;

    for (size_t i = 0; i < v->n && list != NULL && err == 0; i++) {
        json_t *fw = firmware(&v->list[i]);

        if (fw == NULL || json_array_append_new(list, fw) < 0)
            err = -ENOMEM;
    }
    jsontext_set(o, "now_ms", json_integer(v->now_ms), &err);
    jsontext_set(o, "devices", states(v->counts->devices), &err);
    jsontext_set(o, "downloads_started",
                 json_integer((json_int_t)v->counts->downloads_started), &err);
    jsontext_set(o, "downloads_completed",
                 json_integer((json_int_t)v->counts->downloads_completed), &err);
    jsontext_set(o, "firmwares", list, &err);
    if (err == 0)
        err = jsontext_write(f, o);
    fputc('\n', f);
    json_decref(o);
    return err;
}

int summary_render(int64_t now_ms, const struct fleet_counts *counts,
                   struct fleet_firmware *list, size_t n, char **ret, size_t *ret_len)
{
    if (n > 1)
        qsort(list, n, sizeof(*list), by_name);
    return membuf_render(render, &(struct view){now_ms, counts, list, n}, ret, ret_len);
}

/* SPDX-License-Identifier: MIT */
#include "listing.h"

#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "escape.h"
#include "jsontext.h"
#include "membuf.h"
#include "sign.h"

/* A name in the text listing. The catalog holds only names that print as
 * themselves; any other is escaped, so that no name starts a line of its own. */
static const char *text(const char *name, char buf[ESCAPE_NAME_SIZE])
{
    return escape_name_ok(name) ? name : escape_name(name, buf, ESCAPE_NAME_SIZE);
}

/* Where the version came from, as "(from NAME.txt)" or "(default: NAME.txt missing)". */
static void version_origin(FILE *f, const struct image *img)
{
    char buf[ESCAPE_NAME_SIZE];
    const char *file = text(img->version_file, buf);

    switch (img->version_source) {
    case VERSION_FROM_FILE:
        fprintf(f, "(from %s)", file);
        break;
    case VERSION_FILE_MISSING:
        fprintf(f, "(default: %s missing)", file);
        break;
    default:
        fprintf(f, "(default: %s invalid)", file);
        break;
    }
}

/* Whether @img has a manifest and who signed it, as "yes, key 0123456789abcdef". */
static void signature(FILE *f, const struct image *img)
{
    char id[2 * OTA_MANIFEST_KEY_ID + 1];

    if (img->gen->manifest_error != 0) {
        fputs("no", f);
    } else if (img->verified) {
        sign_key_id_hex(img->key_id, id);
        fprintf(f, "yes, key %s", id);
    } else {
        fputs("yes, not verified (no signing.keys)", f);
    }
}

/* Room for the SHA-256 as hex; the MD5 takes less. */
#define DIGEST_HEX (2 * GENERATION_SHA256_SIZE + 1)

/* @g's MD5 (or with @sha its SHA-256) as lowercase hex into @buf, or NULL:
 * made only for the images the ESP updaters can be served (generation.h). */
static const char *digest_hex(const struct generation *g, bool sha, char buf[DIGEST_HEX])
{
    const uint8_t *d = sha ? g->sha256 : g->md5;
    size_t n = sha ? GENERATION_SHA256_SIZE : GENERATION_MD5_SIZE;

    if (!g->has_digests)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", d[i]);
    return buf;
}

static const char *or_none(const char *s)
{
    return s != NULL ? s : "not made (not an ESP image)";
}

/* ISO 8601 UTC, as in the listing: 2026-11-21T15:04:05Z. */
static void utc(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "?");
}

static void render_text(FILE *f, const struct catalog_item *list, size_t n)
{
    if (n == 0)
        fputs("no firmware\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct image *img = list[i].img;
        const struct generation *g = img->gen;
        char loaded[32], name[ESCAPE_NAME_SIZE], bin[ESCAPE_NAME_SIZE], txt[ESCAPE_NAME_SIZE];
        char md5[DIGEST_HEX], sha256[DIGEST_HEX];

        fprintf(f, "%s\n  version: %u ", text(img->name, name), img->version);
        version_origin(f, img);
        fputs("\n  signed: ", f);
        signature(f, img);
        fprintf(f,
                "\n"
                "  size: %u bytes\n"
                "  crc32: 0x%08X\n"
                "  md5: %s\n"
                "  sha256: %s\n"
                "  blocks: %u x %u bytes\n"
                "  files: %s + %s\n"
                "  generation: %s loaded %s\n"
                "  retained: %u older generation%s\n"
                "\n",
                g->size, g->crc, or_none(digest_hex(g, false, md5)),
                or_none(digest_hex(g, true, sha256)), g->nblocks, OTA_BLOCK_DATA,
                text(img->bin_file, bin), text(img->version_file, txt), g->etag,
                (utc(g->loaded, loaded, sizeof(loaded)), loaded),
                list[i].retained, list[i].retained == 1 ? "" : "s");
    }
}

/* One firmware as a JSON object: the fields of the text listing, and the
 * name also as url_name, the exact bytes to put in a URL. */
static json_t *item_json(const struct catalog_item *it)
{
    const struct image *img = it->img;
    const struct generation *g = img->gen;
    char loaded[32], crc[16], id[2 * OTA_MANIFEST_KEY_ID + 1];
    char md5[DIGEST_HEX], sha256[DIGEST_HEX];
    const char *m = digest_hex(g, false, md5), *sha = digest_hex(g, true, sha256);
    json_t *o = json_object();
    int err = 0;

    snprintf(crc, sizeof(crc), "0x%08X", g->crc);
    utc(g->loaded, loaded, sizeof(loaded));
    if (img->verified)
        sign_key_id_hex(img->key_id, id);
    jsontext_set(o, "name", jsontext_string(img->name), &err);
    jsontext_set(o, "url_name", jsontext_url(img->name), &err);
    jsontext_set(o, "version", json_integer(img->version), &err);
    jsontext_set(o, "version_source",
                 json_string(img->version_source == VERSION_FROM_FILE ? "file" : "default"),
                 &err);
    jsontext_set(o, "size", json_integer(g->size), &err);
    jsontext_set(o, "crc32", json_integer(g->crc), &err);
    jsontext_set(o, "crc32_hex", json_string(crc), &err);
    jsontext_set(o, "md5", m != NULL ? json_string(m) : json_null(), &err);
    jsontext_set(o, "sha256", sha != NULL ? json_string(sha) : json_null(), &err);
    jsontext_set(o, "blocks", json_integer(g->nblocks), &err);
    jsontext_set(o, "block_size", json_integer(OTA_BLOCK_DATA), &err);
    jsontext_set(o, "bin_file", jsontext_string(img->bin_file), &err);
    jsontext_set(o, "version_file", jsontext_string(img->version_file), &err);
    jsontext_set(o, "etag", jsontext_string(g->etag), &err);
    jsontext_set(o, "loaded", json_string(loaded), &err);
    jsontext_set(o, "retained", json_integer(it->retained), &err);
    jsontext_set(o, "signed", json_boolean(g->manifest_error == 0), &err);
    jsontext_set(o, "key_id", img->verified ? json_string(id) : json_null(), &err);
    return jsontext_done(o, err);
}

/* An array with one object a line, each made and dumped in turn. */
static int render_json(FILE *f, const struct catalog_item *list, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        json_t *o = item_json(&list[i]);
        int r = o != NULL ? 0 : -ENOMEM;

        fputs(i ? ",\n" : "\n", f);
        if (r == 0)
            r = jsontext_write(f, o);
        json_decref(o);
        if (r < 0)
            return r;
    }
    fputs(n ? "\n]\n" : "]\n", f);
    return 0;
}

struct rows {
    const struct catalog_item *list;
    size_t n;
    enum listing_format format;
};

static int render(FILE *f, const void *cls)
{
    const struct rows *rows = cls;

    if (rows->format == LISTING_JSON)
        return render_json(f, rows->list, rows->n);
    render_text(f, rows->list, rows->n);
    return 0;
}

int listing_render(const struct catalog_item *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len)
{
    return membuf_render(render, &(struct rows){list, n, format}, ret, ret_len);
}

bool listing_wants_json(const char *format, const char *accept)
{
    if (format != NULL)
        return strcmp(format, "json") == 0;
    return accept != NULL && strcasestr(accept, "application/json") != NULL;
}

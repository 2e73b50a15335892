#include "listing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "escape.h"
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

        fprintf(f, "%s\n  version: %u ", text(img->name, name), img->version);
        version_origin(f, img);
        fputs("\n  signed: ", f);
        signature(f, img);
        fprintf(f,
                "\n"
                "  size: %u bytes\n"
                "  crc32: 0x%08X\n"
                "  blocks: %u x %u bytes\n"
                "  files: %s + %s\n"
                "  generation: %s loaded %s\n"
                "  retained: %u older generation%s\n"
                "\n",
                g->size, g->crc, g->nblocks, OTA_BLOCK_DATA, text(img->bin_file, bin),
                text(img->version_file, txt), g->etag,
                (utc(g->loaded, loaded, sizeof(loaded)), loaded),
                list[i].retained, list[i].retained == 1 ? "" : "s");
    }
}

/* A JSON string (RFC 8259) of @s: quote and backslash escaped, control
 * characters as \u00XX, UTF-8 as it is. The catalog serves no name that is
 * not UTF-8; were one here, each stray byte would be U+FFFD, so that the
 * listing stays JSON whatever the bytes. */
static void json_string(FILE *f, const char *s)
{
    size_t n;

    fputc('"', f);
    for (; *s != '\0'; s += n ? n : 1) {
        unsigned char c = (unsigned char)*s;

        n = escape_utf8_len(s);
        if (n == 0)
            fputs("\\ufffd", f);
        else if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (escape_is_control(s, n))
            fprintf(f, "\\u%04x", n == 1 ? c : (unsigned char)s[1]);
        else
            fwrite(s, 1, n, f);
    }
    fputc('"', f);
}

static void render_json(FILE *f, const struct catalog_item *list, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        const struct image *img = list[i].img;
        const struct generation *g = img->gen;
        char loaded[32], id[2 * OTA_MANIFEST_KEY_ID + 1];

        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
        json_string(f, img->name);
        fprintf(f,
                ",\"version\":%u,\"version_source\":\"%s\",\"size\":%u,"
                "\"crc32\":%u,\"crc32_hex\":\"0x%08X\",\"blocks\":%u,\"block_size\":%u,"
                "\"bin_file\":",
                img->version, img->version_source == VERSION_FROM_FILE ? "file" : "default",
                g->size, g->crc, g->crc, g->nblocks, OTA_BLOCK_DATA);
        json_string(f, img->bin_file);
        fputs(",\"version_file\":", f);
        json_string(f, img->version_file);
        fputs(",\"etag\":", f);
        json_string(f, g->etag);
        utc(g->loaded, loaded, sizeof(loaded));
        fprintf(f, ",\"loaded\":\"%s\",\"retained\":%u,\"signed\":%s,\"key_id\":", loaded,
                list[i].retained, g->manifest_error == 0 ? "true" : "false");
        if (img->verified) {
            sign_key_id_hex(img->key_id, id);
            fprintf(f, "\"%s\"}", id);
        } else {
            fputs("null}", f);
        }
    }
    fputs(n ? "\n]\n" : "]\n", f);
}

int listing_render(const struct catalog_item *list, size_t n, enum listing_format format,
                   char **ret, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return -ENOMEM;
    if (format == LISTING_JSON)
        render_json(f, list, n);
    else
        render_text(f, list, n);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return -ENOMEM;
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

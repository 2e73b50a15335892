#include "listing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "version.h"

/* Where the version came from, as "(from NAME.txt)" or "(default: NAME.txt missing)". */
static void version_origin(FILE *f, const struct image *img)
{
    switch (img->version_source) {
    case VERSION_FROM_FILE:
        fprintf(f, "(from %s)", img->version_file);
        break;
    case VERSION_FILE_MISSING:
        fprintf(f, "(default: %s missing)", img->version_file);
        break;
    default:
        fprintf(f, "(default: %s invalid)", img->version_file);
        break;
    }
}

static void render_text(FILE *f, struct image *const *list, size_t n)
{
    if (n == 0)
        fputs("no firmware\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct image *img = list[i];

        fprintf(f, "%s\n  version: %u ", img->name, img->version);
        version_origin(f, img);
        fprintf(f,
                "\n"
                "  size: %u bytes\n"
                "  crc32: 0x%08X\n"
                "  blocks: %u x %u bytes\n"
                "  files: %s + %s\n"
                "\n",
                img->size, img->crc, img->nblocks, OTA_BLOCK_DATA, img->bin_file,
                img->version_file);
    }
}

/* File names are bytes, not necessarily UTF-8: escape what JSON forbids raw
 * and keep the rest (invalid UTF-8 passes through unchanged). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void render_json(FILE *f, struct image *const *list, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        const struct image *img = list[i];

        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
        json_string(f, img->name);
        fprintf(f,
                ",\"version\":%u,\"version_source\":\"%s\",\"size\":%u,"
                "\"crc32\":%u,\"crc32_hex\":\"0x%08X\",\"blocks\":%u,\"block_size\":%u,"
                "\"bin_file\":",
                img->version, img->version_source == VERSION_FROM_FILE ? "file" : "default",
                img->size, img->crc, img->crc, img->nblocks, OTA_BLOCK_DATA);
        json_string(f, img->bin_file);
        fputs(",\"version_file\":", f);
        json_string(f, img->version_file);
        fputc('}', f);
    }
    fputs(n ? "\n]\n" : "]\n", f);
}

int listing_render(struct image *const *list, size_t n, enum listing_format format,
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

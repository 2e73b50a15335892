/* SPDX-License-Identifier: MIT */
/* Fuzz target: an Arduino updater's headers (espota.h) as any bytes. The
 * input is up to seven values separated by '\n' (User-Agent, STA-MAC,
 * free space, MD5, SHA-256, mode, version), the first four bytes also the
 * image's size, first byte and version; the request is read and decided
 * against an image whose digests are the input's first bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "espota.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FIELDS = 7 };

static const char *const names[FIELDS] = {
    "User-Agent",         "x-ESP32-STA-MAC",       "x-ESP32-free-space", "x-ESP32-sketch-md5",
    "x-ESP32-sketch-sha256", "x-ESP32-mode",       "x-ESP32-version",
};

static const char *get(void *cls, const char *name)
{
    char *const *values = cls;

    for (size_t i = 0; i < FIELDS; i++)
        if (strcasecmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t digest[GENERATION_SHA256_SIZE] = {0};
    char *copy, *values[FIELDS] = {0}, *p, buf[16];
    struct espota_request rq;
    struct espota_image img;
    struct route route = {.kind = ROUTE_IMAGE, .name = "app", .name_len = 3};
    const char *why = NULL;
    unsigned status;

    if (size < 4)
        return 0;
    memcpy(digest, data, size < sizeof(digest) ? size : sizeof(digest));
    copy = strndup((const char *)data + 4, size - 4); /* a header value has no NUL */
    if (copy == NULL)
        abort();
    p = copy;
    for (size_t i = 0; i < FIELDS && p != NULL; i++) {
        values[i] = p;
        p = strchr(p, '\n');
        if (p != NULL)
            *p++ = '\0';
    }
    espota_read(get, values, &rq);
    if (rq.core == ESPOTA_NONE && (rq.sta_mac != NULL || rq.mode != NULL))
        abort();
    img = (struct espota_image){
        .size = (uint32_t)data[0] << 8 | data[1],
        .md5 = data[2] & 4 ? NULL : digest, /* an image without digests */
        .sha256 = data[2] & 4 ? NULL : digest,
        .appended_sha256 = data[2] & 1 ? digest : NULL,
        .first_byte = data[3],
        .has_version = data[2] & 2,
        .version = data[1],
    };
    if (rq.core != ESPOTA_NONE) {
        status = espota_decide(&rq, &img, &why);
        if ((status != 200 && status != 304 && status != 403) || (status != 200 && why == NULL))
            abort();
        if (espota_firmware_name(&rq, &route, buf, sizeof(buf)) == 0 &&
            route.name_len != (espota_wants_fs(&rq) ? 6 : 3))
            abort();
    }
    free(copy);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* The requests, as the updaters' sources make them (checked against
 * esp8266/Arduino 3.1.2, ESP8266httpUpdate.cpp and ESP8266HTTPClient.cpp,
 * and espressif/arduino-esp32 2.0.x, HTTPUpdate.cpp and HTTPClient.cpp):
 *
 *   GET /firmware/app.bin HTTP/1.0      useHTTP10(true): no chunked bodies
 *   Host: otad:8000
 *   User-Agent: ESP8266-http-Update     (ESP32-http-Update)
 *   Connection: close                   HTTP/1.0 turns the reuse off
 *   x-ESP8266-Chip-ID, -STA-MAC, -AP-MAC, -free-space, -sketch-size,
 *   -sketch-md5, -chip-size, -sdk-version, -mode, and -version when the
 *   sketch passes one; the ESP32 sends Cache-Control: no-cache first, no
 *   Chip-ID, and -sketch-sha256 after -sketch-md5
 *   Content-Length: 0                   (ESP8266 only)
 *
 * The MD5 comes as lowercase hex (MD5Builder), the ESP32's SHA-256 as
 * uppercase: digests are compared without case. That SHA-256 is what
 * esp_partition_get_sha256() gives for the running app: the digest an
 * ESP-IDF image carries in its last 32 bytes (of the bytes before them)
 * when it has one, else the SHA-256 of the whole image. Both updaters check the
 * free space themselves against the Content-Length and the first byte
 * against 0xE9, but only after the status line, and then report a failure
 * at every check: otad refuses such an image up front with 403, which they
 * report as "Forbidden (403)" instead. Neither follows a redirect by
 * default, nor sends Range: a sketch may add one (the ESP32's request
 * callback), and the image endpoint then answers it as any range. */
#include "espota.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scalar.h"

static const char *const prefixes[] = {
    [ESPOTA_ESP8266] = "x-ESP8266-",
    [ESPOTA_ESP32] = "x-ESP32-",
};

static const char *const agents[] = {
    [ESPOTA_ESP8266] = "ESP8266-http-Update",
    [ESPOTA_ESP32] = "ESP32-http-Update",
};

/* The value of the header x-CORE-@field. */
static const char *field(const char *(*get)(void *, const char *), void *cls,
                         enum espota_core core, const char *name)
{
    char full[48];

    snprintf(full, sizeof(full), "%s%s", prefixes[core], name);
    return get(cls, full);
}

/* The User-Agent first: a sketch may set another one, but then it still
 * sends the mode header. */
static enum espota_core recognise(const char *(*get)(void *, const char *), void *cls)
{
    const char *agent = get(cls, "User-Agent");
    enum espota_core core;

    for (core = ESPOTA_ESP8266; core <= ESPOTA_ESP32; core++)
        if (agent != NULL && strcasecmp(agent, agents[core]) == 0)
            return core;
    for (core = ESPOTA_ESP8266; core <= ESPOTA_ESP32; core++)
        if (field(get, cls, core, "mode") != NULL)
            return core;
    return ESPOTA_NONE;
}

void espota_read(const char *(*get)(void *cls, const char *name), void *cls,
                 struct espota_request *ret)
{
    enum espota_core core = recognise(get, cls);

    memset(ret, 0, sizeof(*ret));
    ret->core = core;
    if (core == ESPOTA_NONE)
        return;
    ret->sta_mac = field(get, cls, core, "STA-MAC");
    ret->free_space = field(get, cls, core, "free-space");
    ret->sketch_md5 = field(get, cls, core, "sketch-md5");
    ret->sketch_sha256 = field(get, cls, core, "sketch-sha256");
    ret->mode = field(get, cls, core, "mode");
    ret->version = field(get, cls, core, "version");
}

bool espota_wants_fs(const struct espota_request *rq)
{
    return rq->core != ESPOTA_NONE && rq->mode != NULL && strcasecmp(rq->mode, "spiffs") == 0;
}

int espota_firmware_name(const struct espota_request *rq, struct route *route, char *buf,
                         size_t size)
{
    if (!espota_wants_fs(rq))
        return 0;
    if (route->name_len + 3 >= size)
        return -ENAMETOOLONG;
    memcpy(buf, route->name, route->name_len);
    memcpy(buf + route->name_len, ".fs", 4);
    route->name = buf;
    route->name_len += 3;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when @hex, exactly 2 * @len hex digits in either case, spells the
 * @len bytes of @digest. Anything else (NULL, short, not hex) is no match. */
static bool digest_is(const char *hex, const uint8_t *digest, size_t len)
{
    if (hex == NULL || digest == NULL || strlen(hex) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0 || (unsigned)(hi << 4 | lo) != digest[i])
            return false;
    }
    return true;
}

static bool version_is(const char *reported, const struct espota_image *img)
{
    char text[16];

    if (reported == NULL || !img->has_version)
        return false;
    snprintf(text, sizeof(text), "%u", img->version);
    return strcmp(reported, text) == 0;
}

unsigned espota_decide(const struct espota_request *rq, const struct espota_image *img,
                       const char **ret_reason)
{
    bool fs = espota_wants_fs(rq);
    uint64_t free_space;

    if (digest_is(rq->sketch_md5, img->md5, GENERATION_MD5_SIZE)) {
        *ret_reason = "sketch MD5 matches";
        return 304;
    }
    if (digest_is(rq->sketch_sha256, img->sha256, GENERATION_SHA256_SIZE) ||
        digest_is(rq->sketch_sha256, img->appended_sha256, GENERATION_SHA256_SIZE)) {
        *ret_reason = "sketch SHA-256 matches";
        return 304;
    }
    if (version_is(rq->version, img)) {
        *ret_reason = "version matches";
        return 304;
    }
    /* The free space is that of the sketch partition: a filesystem image
     * goes elsewhere, and the updaters check its room themselves. */
    if (!fs && rq->free_space != NULL && scalar_uint(rq->free_space, &free_space) == 0 &&
        img->size > free_space) {
        *ret_reason = "image larger than free space";
        return 403;
    }
    /* A filesystem image is no bootable image: it starts with anything. */
    if (!fs && img->first_byte != ESPOTA_IMAGE_MAGIC) {
        *ret_reason = "not an ESP image (first byte is not 0xE9)";
        return 403;
    }
    return 200;
}

unsigned espota_decide_generation(const struct espota_request *rq, const struct generation *g,
                                  bool has_version, uint32_t version, const char **ret_reason)
{
    const struct espota_image img = {
        .size = g->size,
        .md5 = g->has_digests ? g->md5 : NULL,
        .sha256 = g->has_digests ? g->sha256 : NULL,
        .appended_sha256 = g->has_digests && g->sha256_appended
                               ? g->data + g->size - GENERATION_SHA256_SIZE
                               : NULL,
        .first_byte = g->data[0],
        .has_version = has_version,
        .version = version,
    };

    return espota_decide(rq, &img, ret_reason);
}

const char *espota_md5_hex(const uint8_t *md5, char buf[ESPOTA_MD5_HEX])
{
    for (size_t i = 0; i < GENERATION_MD5_SIZE; i++)
        snprintf(buf + 2 * i, 3, "%02x", md5[i]);
    return buf;
}

const char *espota_core_name(enum espota_core core)
{
    switch (core) {
    case ESPOTA_ESP8266:
        return "esp8266";
    case ESPOTA_ESP32:
        return "esp32";
    case ESPOTA_NONE:
        break;
    }
    return "none";
}

/* SPDX-License-Identifier: MIT */
/* The Arduino cores' HTTP updaters as clients of the image endpoints
 * (/firmware/NAME.bin, /NAME/image): ESP8266httpUpdate (esp8266/Arduino)
 * and HTTPUpdate (espressif/arduino-esp32). They describe the running
 * sketch in x-ESP8266-* or x-ESP32-* request headers and read the answer
 * as 304 nothing to do, 200 (Content-Length and x-MD5) flash this, 403 and
 * 404 two distinct errors. This module recognises them and decides; it
 * knows no HTTP library and no catalog: header values in, a status and a
 * reason out. Nothing here allocates; every string returned is static or
 * points into what was passed in. */
#ifndef OTAD_ESPOTA_H
#define OTAD_ESPOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "route.h"

enum espota_core {
    ESPOTA_NONE,    /* not one of the updaters: served as any client */
    ESPOTA_ESP8266, /* x-ESP8266-* headers */
    ESPOTA_ESP32,   /* x-ESP32-* headers */
};

/* The header values an updater sends that the decision reads (borrowed,
 * NULL when absent), raw as received. */
struct espota_request {
    enum espota_core core;
    const char *sta_mac;      /* x-*-STA-MAC: the device's id for the registry */
    const char *free_space;   /* x-*-free-space: bytes free for a sketch */
    const char *sketch_md5;   /* x-*-sketch-md5: of the running sketch */
    const char *sketch_sha256; /* x-*-sketch-sha256 (ESP32 cores) */
    const char *mode;         /* x-*-mode: "sketch" or "spiffs" */
    const char *version;      /* x-*-version: the sketch's own version string */
};

/* Fills @ret from a request's headers, read through @get (the value of the
 * header @name, compared without case, or NULL). A request is an updater's
 * when it carries the User-Agent of one or else the x-*-mode header of one;
 * otherwise ret->core is ESPOTA_NONE and the rest NULL. */
void espota_read(const char *(*get)(void *cls, const char *name), void *cls,
                 struct espota_request *ret);

/* True when @rq asks for the filesystem image (x-*-mode: spiffs), which is
 * served from the firmware NAME.fs. */
bool espota_wants_fs(const struct espota_request *rq);

/* Points @route's name at the firmware that serves @rq: "NAME.fs", written
 * into @buf (@size bytes), for the filesystem image; NAME itself, left as it
 * is, for a sketch. Returns 0, or -ENAMETOOLONG if it does not fit (no
 * firmware has such a name). */
int espota_firmware_name(const struct espota_request *rq, struct route *route, char *buf,
                         size_t size);

/* What the decision needs of the image a firmware serves now. */
struct espota_image {
    uint32_t size;
    const uint8_t *md5;       /* GENERATION_MD5_SIZE bytes, or NULL: not made */
    const uint8_t *sha256;    /* GENERATION_SHA256_SIZE bytes, or NULL */
    /* The image's appended digest (generation.h), or NULL: an ESP32 reports
     * this one as its sketch's SHA-256. */
    const uint8_t *appended_sha256;
    uint8_t first_byte;
    bool has_version;         /* the version came from NAME.txt */
    uint32_t version;
};

/* The first byte of every image the ESP bootloaders boot; the updaters
 * refuse any other after downloading it. */
#define ESPOTA_IMAGE_MAGIC GENERATION_ESP_MAGIC

/* Decides the answer to the updater request @rq (core not ESPOTA_NONE) for
 * @img: 304 (up to date: its sketch's MD5 or SHA-256 is the image's, or the
 * image's appended digest, or its version string is the firmware's version), 403 (the image cannot be
 * flashed: larger than the free space it reports, or a sketch that is not
 * an ESP image), or 200. A header that is not what the updaters send (a
 * free space that is not a decimal number, a digest that is not hex of the
 * right length) is ignored, as if it were absent. For 304 and 403,
 * *@ret_reason gets a short static reason ("sketch MD5 matches", "image
 * larger than free space"...). */
unsigned espota_decide(const struct espota_request *rq, const struct espota_image *img,
                       const char **ret_reason);

/* espota_decide() for the generation @g, with the firmware's version
 * @version (@has_version: from NAME.txt). */
unsigned espota_decide_generation(const struct espota_request *rq, const struct generation *g,
                                  bool has_version, uint32_t version, const char **ret_reason);

/* Room for a digest as lowercase hex, with its NUL: x-MD5 of 16 bytes. */
#define ESPOTA_MD5_HEX (2 * GENERATION_MD5_SIZE + 1)

/* Writes @md5 (GENERATION_MD5_SIZE bytes) as the lowercase hex the
 * updaters' x-MD5 takes into @buf; returns @buf. */
const char *espota_md5_hex(const uint8_t *md5, char buf[ESPOTA_MD5_HEX]);

/* "esp8266", "esp32" (or "none"): for the log. */
const char *espota_core_name(enum espota_core core);

#endif

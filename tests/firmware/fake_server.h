/* SPDX-License-Identifier: MIT */
/* An in-process otad for the firmware tests: answers the core's requests
 * for /NAME/header and /NAME/block/N from an image in memory, and takes
 * POST /NAME/report, through the host port's pluggable transport. Responses are built here with zlib, apart
 * from the core's own CRC code. */
#ifndef OTA_TEST_FAKE_SERVER_H
#define OTA_TEST_FAKE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "host.h"

struct fake_server {
    const uint8_t *image;
    uint32_t size;
    uint32_t version;
    unsigned down_opens;      /* the next this many opens fail (server down) */
    bool corrupt_once;        /* flip a bit in the next block response */
    bool corrupt_all;         /* ... in every one */
    bool mute_blocks;         /* block requests get no answer (reports do) */
    unsigned stop_after_blocks; /* >0: the server goes away after this many blocks */
    bool gone;                /* it went away: no answers, no connections */
    const uint8_t *manifest;  /* GET /NAME/manifest: these bytes, or 404 if NULL */
    uint32_t manifest_len;
    bool tamper;              /* a malicious server: block tamper_block is altered, */
    uint32_t tamper_block;    /* its CRC and the image's kept (fake_forge) */
    unsigned report_status;   /* the answer to a report: 0 is 204 */
    bool report_silent;       /* reports get no answer at all (a timeout) */
    /* What was asked. */
    char header_req[512];     /* the last header request, as sent */
    char report_req[8][512];  /* the reports, as sent (head and body) */
    unsigned reports;
    uint32_t report_timeout_ms; /* what the core waited for the last report */
    unsigned report_recvs;    /* receive calls while a report was unanswered */
    bool in_report;
    unsigned manifest_requests;
    unsigned opens;
    unsigned header_requests;
    unsigned block_requests;
    long first_block;         /* first block index requested, -1 none */
    long last_block;
    /* The response being sent. */
    uint8_t out[1024];
    uint32_t out_len, out_pos;
    char req[512];
    uint32_t req_len;
};

static inline void fake_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void fake_respond(struct fake_server *s, int status, const uint8_t *body,
                                uint32_t len)
{
    int n = snprintf((char *)s->out + s->out_len, sizeof(s->out) - s->out_len,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %u\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", len);

    s->out_len += (uint32_t)n;
    memcpy(s->out + s->out_len, body, len);
    s->out_len += len;
}

/* Alters @b (@len bytes) and gives it back its CRC-32: a bit of byte 5 is
 * flipped and bytes 8..11 are set, by solving the 32 linear equations of the
 * CRC over GF(2). The image's CRC-32 stays the same too, so only a
 * cryptographic hash can tell. */
static inline void fake_forge(uint8_t *b, uint32_t len)
{
    uint32_t want = (uint32_t)crc32(0, b, len), col[32], pick[32], row, fix = 0;

    b[5] ^= 0x01;
    for (int i = 0; i < 32; i++) { /* the effect of each bit of bytes 8..11 */
        uint32_t before = (uint32_t)crc32(0, b, len);

        b[8 + i / 8] ^= (uint8_t)(1u << (i % 8));
        col[i] = before ^ (uint32_t)crc32(0, b, len);
        b[8 + i / 8] ^= (uint8_t)(1u << (i % 8));
        pick[i] = 1u << i;
    }
    row = want ^ (uint32_t)crc32(0, b, len);
    for (int bit = 31, n = 0; bit >= 0 && n < 32; bit--) { /* Gaussian elimination */
        int p = -1;

        for (int i = n; i < 32 && p < 0; i++)
            if (col[i] >> bit & 1)
                p = i;
        if (p < 0)
            continue;
        uint32_t c = col[p], k = pick[p];
        col[p] = col[n], pick[p] = pick[n], col[n] = c, pick[n] = k;
        for (int i = 0; i < 32; i++)
            if (i != n && (col[i] >> bit & 1))
                col[i] ^= c, pick[i] ^= k;
        if (row >> bit & 1)
            row ^= c, fix ^= k;
        n++;
    }
    for (int i = 0; i < 4; i++)
        b[8 + i] ^= (uint8_t)(fix >> (8 * i));
}

/* A report (the whole request in s->req): kept, and answered. */
static inline void fake_report(struct fake_server *s)
{
    if (s->reports < 8)
        snprintf(s->report_req[s->reports], sizeof(s->report_req[0]), "%s", s->req);
    s->reports++;
    s->in_report = true;
    if (s->report_silent)
        return;
    if (s->report_status == 0) /* as libmicrohttpd answers 204: no length */
        s->out_len += (uint32_t)snprintf((char *)s->out + s->out_len,
                                         sizeof(s->out) - s->out_len,
                                         "HTTP/1.1 204 No Content\r\n\r\n");
    else
        fake_respond(s, (int)s->report_status, (const uint8_t *)"refused\n", 8);
}

static inline void fake_handle(struct fake_server *s, const char *path)
{
    const char *slash = strchr(path + 1, '/');

    if (s->gone)
        return; /* silence: the core times out */
    if (slash != NULL && strcmp(slash, "/header") == 0) {
        uint32_t nblocks = (s->size + 255) / 256;
        uint8_t h[20];

        s->header_requests++;
        snprintf(s->header_req, sizeof(s->header_req), "%s", s->req);
        fake_le32(h, s->version);
        fake_le32(h + 4, (uint32_t)crc32(0, s->image, s->size));
        fake_le32(h + 8, nblocks);
        fake_le32(h + 12, 256);
        fake_le32(h + 16, s->size);
        fake_respond(s, 200, h, 20);
        return;
    }
    if (slash != NULL && strcmp(slash, "/manifest") == 0) {
        s->manifest_requests++;
        if (s->manifest == NULL)
            fake_respond(s, 404, (const uint8_t *)"not found\n", 10);
        else
            fake_respond(s, 200, s->manifest, s->manifest_len);
        return;
    }
    if (slash != NULL && strncmp(slash, "/block/", 7) == 0) {
        long n = strtol(slash + 7, NULL, 10);
        uint32_t nblocks = (s->size + 255) / 256;
        uint8_t b[260];
        uint32_t len;

        if (n < 0 || (uint32_t)n >= nblocks) {
            fake_respond(s, 416, (const uint8_t *)"range\n", 6);
            return;
        }
        if (s->stop_after_blocks > 0 && s->block_requests >= s->stop_after_blocks) {
            s->gone = true;
            return;
        }
        if (s->mute_blocks)
            return;
        s->block_requests++;
        if (s->first_block < 0)
            s->first_block = n;
        s->last_block = n;
        len = s->size - (uint32_t)n * 256 > 256 ? 256 : s->size - (uint32_t)n * 256;
        memset(b, 0xFF, 256);
        memcpy(b, s->image + n * 256, len);
        if (s->tamper && (uint32_t)n == s->tamper_block)
            fake_forge(b, 256);
        fake_le32(b + 256, (uint32_t)crc32(0, b, 256));
        if (s->corrupt_once || s->corrupt_all) {
            b[17] ^= 0x04;
            s->corrupt_once = false;
        }
        fake_respond(s, 200, b, 260);
        return;
    }
    fake_respond(s, 404, (const uint8_t *)"not found\n", 10);
}

static inline int fake_open(void *ctx)
{
    struct fake_server *s = ctx;

    if (s->down_opens > 0 || s->gone) {
        s->down_opens -= s->down_opens > 0;
        return -1;
    }
    s->opens++;
    s->out_len = s->out_pos = s->req_len = 0;
    return 0;
}

static inline int fake_send(void *ctx, const void *data, uint32_t len)
{
    struct fake_server *s = ctx;
    char *end, path[256];
    const char *cl;

    if (s->req_len + len >= sizeof(s->req))
        return -1;
    memcpy(s->req + s->req_len, data, len);
    s->req_len += len;
    s->req[s->req_len] = '\0';
    end = strstr(s->req, "\r\n\r\n");
    if (end == NULL)
        return 0;
    if (s->out_pos == s->out_len)
        s->out_len = s->out_pos = 0;
    if (sscanf(s->req, "POST %255s HTTP/1.1", path) == 1) {
        cl = strstr(s->req, "\r\nContent-Length: ");
        if (cl == NULL || cl > end)
            return -1;
        if (strlen(end + 4) < strtoul(cl + 18, NULL, 10))
            return 0; /* the body is still coming */
        if (s->gone)
            return 0;
        if (strcmp(strrchr(path, '/'), "/report") == 0)
            fake_report(s);
        else
            fake_respond(s, 404, (const uint8_t *)"not found\n", 10);
        s->req_len = 0;
        return 0;
    }
    if (sscanf(s->req, "GET %255s HTTP/1.1", path) != 1)
        return -1;
    s->in_report = false;
    fake_handle(s, path);
    s->req_len = 0;
    return 0;
}

static inline int fake_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct fake_server *s = ctx;
    uint32_t n = s->out_len - s->out_pos;

    if (s->in_report) {
        s->report_timeout_ms = timeout_ms;
        s->report_recvs++;
    }
    if (n == 0)
        return 0; /* nothing to say: a timeout */
    if (n > len)
        n = len;
    memcpy(buf, s->out + s->out_pos, n);
    s->out_pos += n;
    return (int)n;
}

static inline void fake_close(void *ctx)
{
    struct fake_server *s = ctx;

    s->out_len = s->out_pos = s->req_len = 0;
    s->in_report = false;
}

/* Plugs @s in as the core's transport. */
static inline void fake_server_use(struct fake_server *s, struct host_net_ops *ops)
{
    *ops = (struct host_net_ops){fake_open, fake_send, fake_recv, fake_close, s};
    s->first_block = -1;
    s->last_block = -1;
    host_net_use(ops);
}

/* Resets @s to serve @img (@size bytes) as @version and plugs it in. */
static inline void fake_serve(struct fake_server *s, struct host_net_ops *ops,
                              const uint8_t *img, uint32_t size, uint32_t version)
{
    memset(s, 0, sizeof(*s));
    s->image = img;
    s->size = size;
    s->version = version;
    fake_server_use(s, ops);
}

/* An image that looks like a Cortex-M application linked at @app_addr: a
 * vector table with an initial stack pointer in RAM and a Thumb reset
 * vector in the app area. */
static inline uint8_t *fake_app_at(uint32_t size, uint32_t seed, uint32_t app_addr)
{
    uint8_t *img = malloc(size);
    uint32_t x = seed ? seed : 1;

    for (uint32_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        img[i] = (uint8_t)x;
    }
    fake_le32(img, 0x20018000u);
    fake_le32(img + 4, app_addr + 0x101u);
    return img;
}

/* The same for the f401 map's application area. */
static inline uint8_t *fake_app(uint32_t size, uint32_t seed)
{
    return fake_app_at(size, seed, HOST_APP_ADDR);
}

#endif

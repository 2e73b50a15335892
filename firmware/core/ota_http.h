/* SPDX-License-Identifier: MIT */
/* A minimal HTTP/1.1 client over the port's byte transport: keep-alive GET
 * requests (and the short form POST of a report) whose responses are framed
 * by Content-Length (204 and 304 have no body and need none).
 *
 * The parser is incremental: it takes bytes as they come, one at a time or
 * several responses' worth at once, and stops exactly at the end of one
 * response; the client keeps the rest for the next one. */
#ifndef OTA_HTTP_H
#define OTA_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_boot.h"

/* Response heads longer than this are refused (otad's are about 100 bytes). */
#define OTA_HTTP_HEAD_MAX 2048u
/* Bytes of a header line that are examined; the rest is skipped. */
#define OTA_HTTP_LINE_KEEP 48u
/* A body of an error status is read (to keep the connection in sync) up to this. */
#define OTA_HTTP_ERROR_BODY_MAX 4096u
/* The longest request: a 96-byte path, a 64-byte device id, a form body of
 * a report, and the Host header; a request that does not fit is refused. */
#define OTA_HTTP_REQUEST_MAX 512u

struct ota_http_parser {
    uint8_t state;
    char line[OTA_HTTP_LINE_KEEP + 1];
    uint32_t line_len;        /* bytes of the current line, kept or not */
    uint32_t head_len;
    uint32_t status;
    bool have_length;
    uint32_t content_length;
    uint8_t *body;            /* the caller's buffer */
    uint32_t body_max;
    uint32_t body_len;        /* body bytes seen so far */
};

/* Prepares @p for one response whose 200 body goes to @body (@body_max bytes). */
void ota_http_parser_init(struct ota_http_parser *p, uint8_t *body, uint32_t body_max);

/* Feeds @len bytes. Returns 0 when more are needed, 1 when the response is
 * complete, or a negative ota_err. @consumed gets the bytes used: after a
 * complete response, the rest belongs to the next one. */
int ota_http_parser_feed(struct ota_http_parser *p, const uint8_t *data, uint32_t len,
                         uint32_t *consumed);

struct ota_http {
    const struct ota_config *cfg;
    uint32_t timeout_ms;      /* longest wait for a byte: cfg->recv_timeout_ms */
    bool open;
    uint8_t rx[512];          /* received bytes not parsed yet */
    uint32_t rx_len;
};

void ota_http_init(struct ota_http *c, const struct ota_config *cfg);

/* GETs @path on the connection (opened if needed). On 200, the body (at most
 * @body_max bytes) is in @body and its length in @body_len: returns 0. A
 * non-200 status returns OTA_ERR_STATUS with the code in @status and keeps
 * the connection; any other error closes it. */
int ota_http_get(struct ota_http *c, const char *path, uint8_t *body, uint32_t body_max,
                 uint32_t *body_len, uint32_t *status);

/* A request beyond a plain GET. */
struct ota_http_req {
    const char *path;
    const char *form;         /* POSTed as application/x-www-form-urlencoded;
                                 NULL: a GET */
    bool identify;            /* X-Device-Id (if the port has one), and ... */
    bool has_version;         /* ... X-Device-Version: version */
    uint32_t version;
};

/* Sends @rq and reads its response as ota_http_get() does (a 204 is a
 * status other than 200: OTA_ERR_STATUS with @status 204). */
int ota_http_request(struct ota_http *c, const struct ota_http_req *rq, uint8_t *body,
                     uint32_t body_max, uint32_t *body_len, uint32_t *status);

/* Closes the connection; the next request opens a new one. */
void ota_http_close(struct ota_http *c);

#endif

/* SPDX-License-Identifier: MIT */
#include "ota_http.h"

#include <string.h>

#include "ota_err.h"
#include "ota_fmt.h"
#include "ota_port.h"

enum { S_STATUS, S_HEADER, S_BODY, S_DONE };

void ota_http_parser_init(struct ota_http_parser *p, uint8_t *body, uint32_t body_max)
{
    memset(p, 0, sizeof(*p));
    p->state = S_STATUS;
    p->body = body;
    p->body_max = body_max;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* True when the kept line starts with @prefix, ignoring case. */
static bool starts_with(const char *line, const char *prefix)
{
    for (; *prefix != '\0'; line++, prefix++)
        if (lower(*line) != *prefix)
            return false;
    return true;
}

static int parse_status(struct ota_http_parser *p)
{
    const char *l = p->line;

    /* "HTTP/1.x SSS reason" */
    if (!starts_with(l, "http/1.") || l[7] < '0' || l[7] > '9' || l[8] != ' ' || l[9] < '1' || l[9] > '5' ||
        l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
        (l[12] != ' ' && l[12] != '\0'))
        return OTA_ERR_HTTP;
    p->status = (uint32_t)(l[9] - '0') * 100 + (uint32_t)(l[10] - '0') * 10 +
                (uint32_t)(l[11] - '0');
    return OTA_OK;
}

static int parse_header(struct ota_http_parser *p)
{
    const char *v;
    uint32_t n = 0;

    if (starts_with(p->line, "transfer-encoding:"))
        return OTA_ERR_NO_LENGTH; /* chunked: the size is unknown up front */
    if (!starts_with(p->line, "content-length:"))
        return OTA_OK;
    if (p->line_len > OTA_HTTP_LINE_KEEP)
        return OTA_ERR_HTTP; /* a number that long is no length */
    v = p->line + 15;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return OTA_ERR_HTTP;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (n > 429496728u) /* the next digit would overflow 32 bits */
            return OTA_ERR_TOO_BIG;
        n = n * 10 + (uint32_t)(*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v != '\0' || (p->have_length && p->content_length != n))
        return OTA_ERR_HTTP;
    p->have_length = true;
    p->content_length = n;
    return OTA_OK;
}

/* The blank line: the body follows. 204 and 304 have none, and servers
 * send them without a length (RFC 9110 8.6). */
static int end_of_head(struct ota_http_parser *p)
{
    if (p->status == 204 || p->status == 304) {
        p->state = S_DONE;
        return OTA_OK;
    }
    if (!p->have_length)
        return OTA_ERR_NO_LENGTH;
    if (p->status == 200 ? p->content_length > p->body_max
                         : p->content_length > OTA_HTTP_ERROR_BODY_MAX)
        return OTA_ERR_TOO_BIG;
    p->state = p->content_length == 0 ? S_DONE : S_BODY;
    return OTA_OK;
}

/* A line ended (its CR LF or LF consumed). */
static int end_of_line(struct ota_http_parser *p)
{
    uint32_t kept = p->line_len < OTA_HTTP_LINE_KEEP ? p->line_len : OTA_HTTP_LINE_KEEP;
    int r;

    if (kept > 0 && p->line[kept - 1] == '\r')
        kept--;
    p->line[kept] = '\0';
    if (p->state == S_STATUS) {
        r = parse_status(p);
        p->state = S_HEADER;
    } else if (kept == 0 && p->line_len <= 1) {
        r = end_of_head(p);
    } else {
        r = parse_header(p);
    }
    p->line_len = 0;
    return r;
}

int ota_http_parser_feed(struct ota_http_parser *p, const uint8_t *data, uint32_t len,
                         uint32_t *consumed)
{
    uint32_t i = 0;
    int r;

    while (i < len && p->state != S_DONE) {
        if (p->state == S_BODY) {
            uint32_t n = p->content_length - p->body_len;

            if (n > len - i)
                n = len - i;
            /* An error status's body is only skipped. */
            if (p->status == 200)
                memcpy(p->body + p->body_len, data + i, n);
            p->body_len += n;
            i += n;
            if (p->body_len == p->content_length)
                p->state = S_DONE;
            continue;
        }
        if (++p->head_len > OTA_HTTP_HEAD_MAX) {
            *consumed = i;
            return OTA_ERR_HEADERS;
        }
        /* Control bytes have no place in a head; a NUL would also cut the
         * kept line short and make a wrong length look right. */
        if (data[i] < 0x20 && data[i] != '\t' && data[i] != '\r' && data[i] != '\n') {
            *consumed = i;
            return OTA_ERR_HTTP;
        }
        if (data[i] == '\n') {
            i++;
            r = end_of_line(p);
            if (r < 0) {
                *consumed = i;
                return r;
            }
            continue;
        }
        if (p->line_len < OTA_HTTP_LINE_KEEP)
            p->line[p->line_len] = (char)data[i];
        p->line_len++;
        i++;
    }
    *consumed = i;
    return p->state == S_DONE ? 1 : 0;
}

void ota_http_init(struct ota_http *c, const struct ota_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->timeout_ms = cfg->recv_timeout_ms;
}

void ota_http_close(struct ota_http *c)
{
    if (c->open)
        ota_port_net_close();
    c->open = false;
    c->rx_len = 0;
}

static uint32_t append(char *buf, uint32_t pos, uint32_t max, const char *s)
{
    while (*s != '\0' && pos < max)
        buf[pos++] = *s++;
    return pos;
}

static uint32_t append_dec(char *buf, uint32_t pos, uint32_t max, uint32_t v)
{
    return pos + ota_fmt_dec(buf + pos, max - pos, v);
}

static uint32_t append_header(char *buf, uint32_t pos, uint32_t max, const char *name,
                              const char *value)
{
    pos = append(buf, pos, max, name);
    pos = append(buf, pos, max, value);
    return append(buf, pos, max, "\r\n");
}

static uint32_t length_of(const char *s)
{
    uint32_t n = 0;

    while (s[n] != '\0')
        n++;
    return n;
}

/* Keep-alive is HTTP/1.1's default: no Connection header at all, so servers
 * that honour "Connection: close" keep the socket open. */
static int send_request(const struct ota_http_req *rq)
{
    const struct ota_server *srv = ota_port_server();
    char req[OTA_HTTP_REQUEST_MAX], num[OTA_FMT_DEC_MAX + 1];
    uint32_t n = 0;

    n = append(req, n, sizeof(req), rq->form != NULL ? "POST " : "GET ");
    n = append(req, n, sizeof(req), rq->path);
    n = append(req, n, sizeof(req), " HTTP/1.1\r\nHost: ");
    n = append(req, n, sizeof(req), srv->host);
    n = append(req, n, sizeof(req), ":");
    n = append_dec(req, n, sizeof(req), srv->port);
    n = append(req, n, sizeof(req), "\r\n");
    if (rq->identify && srv->device_id != NULL)
        n = append_header(req, n, sizeof(req), "X-Device-Id: ", srv->device_id);
    if (rq->identify && rq->has_version) {
        num[ota_fmt_dec(num, OTA_FMT_DEC_MAX, rq->version)] = '\0';
        n = append_header(req, n, sizeof(req), "X-Device-Version: ", num);
    }
    if (rq->form != NULL) {
        num[ota_fmt_dec(num, OTA_FMT_DEC_MAX, length_of(rq->form))] = '\0';
        n = append_header(req, n, sizeof(req), "Content-Type: ",
                          "application/x-www-form-urlencoded");
        n = append_header(req, n, sizeof(req), "Content-Length: ", num);
    }
    n = append(req, n, sizeof(req), "\r\n");
    if (rq->form != NULL)
        n = append(req, n, sizeof(req), rq->form);
    if (n == sizeof(req))
        return OTA_ERR_HTTP; /* too long for the buffer */
    return ota_port_net_send(req, n) < 0 ? OTA_ERR_NET : OTA_OK;
}

int ota_http_get(struct ota_http *c, const char *path, uint8_t *body, uint32_t body_max,
                 uint32_t *body_len, uint32_t *status)
{
    const struct ota_http_req rq = {.path = path};

    return ota_http_request(c, &rq, body, body_max, body_len, status);
}

int ota_http_request(struct ota_http *c, const struct ota_http_req *rq, uint8_t *body,
                     uint32_t body_max, uint32_t *body_len, uint32_t *status)
{
    struct ota_http_parser p;
    uint32_t used;
    int r, n;

    if (!c->open) {
        if (ota_port_net_open() < 0)
            return OTA_ERR_NET;
        c->open = true;
        c->rx_len = 0;
    }
    r = send_request(rq);
    if (r < 0)
        goto fail;
    ota_http_parser_init(&p, body, body_max);
    for (;;) {
        if (c->rx_len > 0) {
            r = ota_http_parser_feed(&p, c->rx, c->rx_len, &used);
            memmove(c->rx, c->rx + used, c->rx_len - used);
            c->rx_len -= used;
            if (r < 0)
                goto fail;
            if (r == 1)
                break;
        }
        ota_port_watchdog_feed();
        n = ota_port_net_recv(c->rx, sizeof(c->rx), c->timeout_ms);
        if (n <= 0) {
            r = n == 0 ? OTA_ERR_TIMEOUT : OTA_ERR_NET;
            goto fail;
        }
        c->rx_len = (uint32_t)n;
    }
    *status = p.status;
    if (p.status != 200)
        return OTA_ERR_STATUS;
    *body_len = p.body_len;
    return OTA_OK;

fail:
    /* Out of sync with the server: only a new connection is safe. */
    ota_http_close(c);
    return r;
}

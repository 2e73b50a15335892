/* SPDX-License-Identifier: MIT */
/* The firmware's HTTP parser and keep-alive client.
 *
 * The parser is fed the exact bytes otad sends (block, header and error
 * responses) in every possible split: byte by byte, every two-piece split,
 * and run together with the next response, where it must stop exactly at
 * the end of the first. Then the ways a response can be wrong. The client
 * runs over a scripted transport plugged in with host_net_use(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "ota_boot.h"
#include "ota_err.h"
#include "ota_http.h"
#include "otad/proto.h"

/* ---- Responses as otad writes them ---------------------------------------- */

/* The ETag of vectors/vec.bin (CRC-SIZE), as otad sends it. */
#define VEC_ETAG "\"1f52fd1c-3e8\""

/* The head of a block response to a legacy device (Connection: close). */
static const char block_head[] = "HTTP/1.1 200 OK\r\n"
                                 "Connection: close\r\n"
                                 "Content-Type: application/octet-stream\r\n"
                                 "ETag: " VEC_ETAG "\r\n"
                                 "Content-Length: 260\r\n"
                                 "\r\n";
static const char header_head[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: application/octet-stream\r\n"
                                  "ETag: " VEC_ETAG "\r\n"
                                  "Content-Length: 20\r\n"
                                  "\r\n";
static const char resp_404[] = "HTTP/1.1 404 Not Found\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 10\r\n"
                               "\r\n"
                               "not found\n";
static const char resp_416[] = "HTTP/1.1 416 Range Not Satisfiable\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 19\r\n"
                               "\r\n"
                               "block out of range\n";
static const char resp_412[] = "HTTP/1.1 412 Precondition Failed\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 20\r\n"
                               "\r\n"
                               "precondition failed\n";

struct buf {
    uint8_t *data;
    uint32_t len;
};

static uint8_t *read_vector(const char *name, uint32_t want)
{
    char path[512];
    uint8_t *data = malloc(want + 1);
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, want + 1, f), want);
    fclose(f);
    return data;
}

/* @head followed by @blen bytes of @body, malloc'ed. */
static struct buf make(const char *head, const void *body, uint32_t blen)
{
    uint32_t hlen = (uint32_t)strlen(head);
    struct buf b = {malloc(hlen + blen + 1), hlen + blen};

    assert_non_null(b.data);
    memcpy(b.data, head, hlen);
    if (blen > 0)
        memcpy(b.data + hlen, body, blen);
    return b;
}

static struct buf make_text(const char *text)
{
    return make(text, NULL, 0);
}

static struct buf concat(struct buf a, struct buf b)
{
    struct buf c = {malloc(a.len + b.len + 1), a.len + b.len};

    assert_non_null(c.data);
    memcpy(c.data, a.data, a.len);
    memcpy(c.data + a.len, b.data, b.len);
    return c;
}

/* ---- Parser: every split ---------------------------------------------------- */

struct expect {
    uint32_t status;
    const uint8_t *body; /* for 200 */
    uint32_t body_len;   /* Content-Length */
    uint32_t body_max;   /* the buffer given to the parser */
};

#define CANARY 0xA5

static void check_result(const struct ota_http_parser *p, const uint8_t *out,
                         const struct expect *e)
{
    assert_int_equal(p->status, e->status);
    assert_int_equal(p->body_len, e->body_len);
    if (e->status == 200) {
        if (e->body_len > 0)
            assert_memory_equal(out, e->body, e->body_len);
    } else {
        /* An error body is skipped: the caller's buffer is not touched. */
        for (uint32_t i = 0; i < e->body_max; i++)
            assert_int_equal(out[i], CANARY);
    }
}

/* Parses @r (one response) followed by @next in every split; each way must
 * end exactly at the end of @r with the expected result. */
static void parse_every_way(struct buf r, struct buf next, const struct expect *e)
{
    struct ota_http_parser p;
    struct buf both = concat(r, next);
    uint8_t *out = malloc(e->body_max + 1);
    uint32_t used;

    assert_non_null(out);

    /* Byte by byte: 0 for every byte but the last, which completes it. */
    memset(out, CANARY, e->body_max + 1);
    ota_http_parser_init(&p, out, e->body_max);
    for (uint32_t i = 0; i < r.len; i++) {
        int res = ota_http_parser_feed(&p, r.data + i, 1, &used);

        assert_int_equal(used, 1);
        assert_int_equal(res, i + 1 == r.len ? 1 : 0);
    }
    /* Complete: further bytes are not taken. */
    assert_int_equal(ota_http_parser_feed(&p, next.data, next.len, &used), 1);
    assert_int_equal(used, 0);
    check_result(&p, out, e);
    assert_int_equal(out[e->body_max], CANARY); /* nothing past the buffer */

    /* Every two-piece split, the second piece running into the next response. */
    for (uint32_t k = 0; k <= r.len; k++) {
        int res;

        memset(out, CANARY, e->body_max + 1);
        ota_http_parser_init(&p, out, e->body_max);
        res = ota_http_parser_feed(&p, both.data, k, &used);
        assert_int_equal(used, k);
        if (k == r.len) {
            assert_int_equal(res, 1);
        } else {
            assert_int_equal(res, 0);
            res = ota_http_parser_feed(&p, both.data + k, both.len - k, &used);
            assert_int_equal(res, 1);
            assert_int_equal(used, r.len - k);
        }
        check_result(&p, out, e);
        assert_int_equal(out[e->body_max], CANARY);
    }

    /* Coalesced with the next response: stops at the boundary. */
    memset(out, CANARY, e->body_max + 1);
    ota_http_parser_init(&p, out, e->body_max);
    assert_int_equal(ota_http_parser_feed(&p, both.data, both.len, &used), 1);
    assert_int_equal(used, r.len);
    check_result(&p, out, e);

    free(out);
    free(both.data);
}

struct fixture {
    uint8_t *block3;  /* expected/block-3.bin: 232 data bytes, 0xFF padding, CRC */
    uint8_t *header;  /* expected/header.bin */
    struct buf block; /* otad's whole block response */
    struct buf head;  /* otad's whole header response */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->block3 = read_vector("expected/block-3.bin", OTA_BLOCK_WIRE);
    f->header = read_vector("expected/header.bin", OTA_HEADER_WIRE);
    f->block = make(block_head, f->block3, OTA_BLOCK_WIRE);
    f->head = make(header_head, f->header, OTA_HEADER_WIRE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    free(f->block3);
    free(f->header);
    free(f->block.data);
    free(f->head.data);
    free(f);
    return 0;
}

static void test_otad_block_response(void **state)
{
    struct fixture *f = *state;
    struct expect e = {200, f->block3, OTA_BLOCK_WIRE, OTA_BLOCK_WIRE};

    /* The protocol's budget: the whole head is at most 128 bytes. */
    assert_true(strlen(block_head) <= 128);
    parse_every_way(f->block, f->head, &e);
    parse_every_way(f->block, f->block, &e);
    /* A larger buffer than needed is fine too. */
    e.body_max = 4096;
    parse_every_way(f->block, f->head, &e);
}

static void test_otad_header_response(void **state)
{
    struct fixture *f = *state;
    struct expect e = {200, f->header, OTA_HEADER_WIRE, OTA_HEADER_WIRE};

    parse_every_way(f->head, f->block, &e);
}

static void test_error_statuses_keep_sync(void **state)
{
    struct fixture *f = *state;
    struct buf r404 = make_text(resp_404), r416 = make_text(resp_416), r412 = make_text(resp_412);
    struct expect e404 = {404, NULL, 10, OTA_BLOCK_WIRE};
    struct expect e416 = {416, NULL, 19, OTA_BLOCK_WIRE};
    struct expect e412 = {412, NULL, 20, OTA_BLOCK_WIRE};

    parse_every_way(r404, f->block, &e404);
    parse_every_way(r416, f->block, &e416);
    parse_every_way(r412, f->head, &e412);
    /* An error body larger than the 200 buffer is still read through. */
    e404.body_max = 4;
    parse_every_way(r404, f->block, &e404);
    free(r404.data);
    free(r416.data);
    free(r412.data);
}

static void test_other_spellings(void **state)
{
    struct fixture *f = *state;
    /* Header names in any case, odd spacing, bare LF line ends, no reason
     * phrase, a long unrelated header, an HTTP/1.0 server, a repeated
     * identical Content-Length. */
    static const char *heads[] = {
        "HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n",
        "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 20\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-length:20\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \t 20 \t\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0000000020\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 20\n\n",
        "HTTP/1.1 200\r\nContent-Length: 20\r\n\r\n",
        "http/1.1 200 OK\r\nContent-Length: 20\r\n\r\n",
        "HTTP/1.0 200 OK\r\nContent-Length: 20\r\nConnection: keep-alive\r\n\r\n",
        ("HTTP/1.1 200 OK\r\nX-Long: "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
         "Content-Length: 20\r\nKeep-Alive: timeout=60\r\n\r\n"),
        ("HTTP/1.1 200 OK with a reason phrase much longer than the forty-eight bytes kept\r\n"
         "Content-Length: 20\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nContent-Length: 20\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Content-Length: 999\r\nContent-Length: 20\r\n\r\n",
    };
    struct expect e = {200, f->header, OTA_HEADER_WIRE, OTA_HEADER_WIRE};

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        struct buf r = make(heads[i], f->header, OTA_HEADER_WIRE);

        parse_every_way(r, f->block, &e);
        free(r.data);
    }
}

static void test_empty_body(void **state)
{
    struct fixture *f = *state;
    struct buf r = make_text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    struct expect e = {200, NULL, 0, 16};

    parse_every_way(r, f->block, &e);
    free(r.data);
}

/* 204 (a report accepted, as libmicrohttpd sends it) and 304 have no body
 * and need no length: the response ends at the blank line, and the next
 * one follows in sync. */
static void test_no_content(void **state)
{
    struct fixture *f = *state;
    static const char *const heads[] = {
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nDate: Tue, 01 Dec 2026 19:00:00 GMT\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    };

    for (unsigned i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        struct buf r = make_text(heads[i]);
        struct expect e = {i < 2 ? 204 : 304, NULL, 0, 16};

        parse_every_way(r, f->block, &e);
        free(r.data);
    }
}

/* Feeds @text whole and byte by byte: both must fail with @err. */
static void expect_error(const char *text, uint32_t body_max, int err)
{
    struct ota_http_parser p;
    uint8_t out[OTA_BLOCK_WIRE];
    uint32_t len = (uint32_t)strlen(text), used, i;
    int r = 0;

    ota_http_parser_init(&p, out, body_max);
    assert_int_equal(ota_http_parser_feed(&p, (const uint8_t *)text, len, &used), err);
    assert_true(used <= len);

    ota_http_parser_init(&p, out, body_max);
    for (i = 0; i < len && r == 0; i++)
        r = ota_http_parser_feed(&p, (const uint8_t *)text + i, 1, &used);
    assert_int_equal(r, err);
}

static void test_missing_length(void **state)
{
    (void)state;
    expect_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", 64,
                 OTA_ERR_NO_LENGTH);
    expect_error("HTTP/1.1 404 Not Found\r\n\r\n", 64, OTA_ERR_NO_LENGTH);
    expect_error("HTTP/1.1 200 OK\r\n\r\n", 64, OTA_ERR_NO_LENGTH);
}

static void test_chunked_refused(void **state)
{
    (void)state;
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n", 64,
                 OTA_ERR_NO_LENGTH);
    /* Even with a Content-Length next to it (a smuggling attempt). */
    {
        struct ota_http_parser p;
        uint8_t out[64];
        const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                        "transfer-encoding: chunked\r\n\r\nhello";
        uint32_t used;

        ota_http_parser_init(&p, out, sizeof(out));
        assert_true(ota_http_parser_feed(&p, (const uint8_t *)t, (uint32_t)strlen(t), &used) <
                    0);
    }
}

static void bad_length(const char *value)
{
    char text[256];
    struct ota_http_parser p;
    uint8_t out[64];
    uint32_t used;

    snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n%s\r\n\r\n", value);
    ota_http_parser_init(&p, out, sizeof(out));
    if (ota_http_parser_feed(&p, (const uint8_t *)text, (uint32_t)strlen(text), &used) >= 0)
        fail_msg("accepted: %s", value);
}

static void test_bad_content_length(void **state)
{
    (void)state;
    bad_length("Content-Length: abc");
    bad_length("Content-Length: 12abc");
    bad_length("Content-Length: 1 2");
    bad_length("Content-Length: -1");
    bad_length("Content-Length: +5");
    bad_length("Content-Length: 0x10");
    bad_length("Content-Length:");
    bad_length("Content-Length:    ");
    bad_length("Content-Length: 5, 5");
    bad_length("Content-Length: 4294967296");      /* 2^32 */
    bad_length("Content-Length: 99999999999");
    bad_length("Content-Length: 18446744073709551621"); /* 2^64 + 5 */
    bad_length("Content-Length: 20\r\nContent-Length: 21");
    bad_length("Content-Length: 21\r\ncontent-length: 20");
    /* A number longer than the line bytes kept cannot be checked whole. */
    bad_length("Content-Length: 000000000000000000000000000000000000000020");
    /* Whatever the length, more than the buffer is refused. */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 4294967295\r\n\r\n", 64, OTA_ERR_TOO_BIG);
}

static void test_endless_headers(void **state)
{
    struct ota_http_parser p;
    uint8_t out[64];
    const char *start = "HTTP/1.1 200 OK\r\n";
    const char *line = "X-Filler: 0123456789\r\n";
    uint32_t used, fed = 0;
    int r;

    (void)state;
    /* Many short lines. */
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (const uint8_t *)start, 17, &used), 0);
    do {
        r = ota_http_parser_feed(&p, (const uint8_t *)line, (uint32_t)strlen(line), &used);
        fed += used;
    } while (r == 0 && fed < 100000);
    assert_int_equal(r, OTA_ERR_HEADERS);
    assert_true(fed + 17 <= OTA_HTTP_HEAD_MAX + 1);

    /* One line without an end. */
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (const uint8_t *)start, 17, &used), 0);
    fed = 0;
    do {
        r = ota_http_parser_feed(&p, (const uint8_t *)"aaaaaaaa", 8, &used);
        fed += used;
    } while (r == 0 && fed < 100000);
    assert_int_equal(r, OTA_ERR_HEADERS);

    /* A status line without an end. */
    ota_http_parser_init(&p, out, sizeof(out));
    fed = 0;
    do {
        r = ota_http_parser_feed(&p, (const uint8_t *)"HTTP/1.1", 8, &used);
        fed += used;
    } while (r == 0 && fed < 100000);
    assert_int_equal(r, OTA_ERR_HEADERS);
}

/* A head of exactly @total bytes (status line to blank line). */
static char *head_of_size(uint32_t total)
{
    const char *first = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
    char *h = malloc(total + 1);
    uint32_t n = (uint32_t)strlen(first), fill = total - n - 2 - 5; /* "X: " CRLF, CRLF */

    assert_non_null(h);
    memcpy(h, first, n);
    memcpy(h + n, "X: ", 3);
    memset(h + n + 3, 'a', fill);
    memcpy(h + n + 3 + fill, "\r\n\r\n", 4);
    h[total] = '\0';
    assert_int_equal(strlen(h), total);
    return h;
}

static void test_head_limit(void **state)
{
    struct ota_http_parser p;
    uint8_t out[16];
    char *ok = head_of_size(OTA_HTTP_HEAD_MAX), *over = head_of_size(OTA_HTTP_HEAD_MAX + 1);
    uint32_t used;

    (void)state;
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (uint8_t *)ok, OTA_HTTP_HEAD_MAX, &used), 1);
    assert_int_equal(used, OTA_HTTP_HEAD_MAX);
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (uint8_t *)over, OTA_HTTP_HEAD_MAX + 1, &used),
                     OTA_ERR_HEADERS);
    free(ok);
    free(over);
}

static void test_body_too_big(void **state)
{
    struct fixture *f = *state;
    struct ota_http_parser p;
    uint8_t out[OTA_BLOCK_WIRE + 16];
    uint32_t used;
    char big_error[128];

    /* A block response into a header-sized buffer. */
    memset(out, CANARY, sizeof(out));
    ota_http_parser_init(&p, out, OTA_HEADER_WIRE);
    assert_int_equal(ota_http_parser_feed(&p, f->block.data, f->block.len, &used),
                     OTA_ERR_TOO_BIG);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], CANARY);
    /* One byte too many. */
    ota_http_parser_init(&p, out, OTA_BLOCK_WIRE - 1);
    assert_int_equal(ota_http_parser_feed(&p, f->block.data, f->block.len, &used),
                     OTA_ERR_TOO_BIG);
    /* An error body beyond what is worth skipping. */
    snprintf(big_error, sizeof(big_error),
             "HTTP/1.1 404 Not Found\r\nContent-Length: %u\r\n\r\n",
             OTA_HTTP_ERROR_BODY_MAX + 1);
    expect_error(big_error, OTA_BLOCK_WIRE, OTA_ERR_TOO_BIG);
}

static void test_bad_status_line(void **state)
{
    static const char *lines[] = {
        "HTTP/1.1 2x0 OK",  "HTTP/1.1 20 OK",  "HTTP/1.1 2000 OK", "HTTP/1.1 200OK",
        "HTTP/1.1  200 OK", "HTTP/2 200 OK",   "HTTP/1.1 600 OK",  "HTTP/1.1 099 OK",
        "ICY 200 OK",       "HTTP/1.1",        "",                 "garbage",
        "<html>",           "SSH-2.0-OpenSSH", " HTTP/1.1 200 OK", "HTTP/11 200 OK",
    };
    char text[128];

    (void)state;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        snprintf(text, sizeof(text), "%s\r\nContent-Length: 0\r\n\r\n", lines[i]);
        expect_error(text, 64, OTA_ERR_HTTP);
    }
}

/* Control bytes in a head are refused: a NUL would cut the examined line
 * short, so "Content-Length: 2\0" "0" must not pass for a length of 2. */
static void test_control_bytes_in_head(void **state)
{
    static const char nul_length[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\0" "0\r\n\r\n";
    static const char nul_status[] = "HTTP/1.1 200\0garbage\r\nContent-Length: 0\r\n\r\n";
    struct ota_http_parser p;
    uint8_t out[64];
    uint32_t used;

    (void)state;
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (const uint8_t *)nul_length,
                                          sizeof(nul_length) - 1, &used),
                     OTA_ERR_HTTP);
    ota_http_parser_init(&p, out, sizeof(out));
    assert_int_equal(ota_http_parser_feed(&p, (const uint8_t *)nul_status,
                                          sizeof(nul_status) - 1, &used),
                     OTA_ERR_HTTP);
    expect_error("HTTP/1.1 200 OK\r\nX-A: \x01\r\nContent-Length: 0\r\n\r\n", 64,
                 OTA_ERR_HTTP);
    expect_error("HTTP/1.x 200 OK\r\nContent-Length: 0\r\n\r\n", 64, OTA_ERR_HTTP);
}

/* ---- Client over a scripted transport ----------------------------------------- */

struct fake {
    uint8_t in[8192];        /* what the "server" sends, in order */
    uint32_t in_len, in_pos;
    uint32_t chunk;          /* most bytes per recv */
    int at_end;              /* recv's result when @in is used up: 0 timeout, < 0 gone */
    int open_result;
    char sent[8192];
    uint32_t sent_len;
    int opens, closes, recvs;
    uint32_t last_timeout;
    bool is_open;
};

static struct fake fk;

static int fake_open(void *ctx)
{
    struct fake *f = ctx;

    if (f->open_result < 0)
        return f->open_result;
    assert_false(f->is_open);
    f->opens++;
    f->is_open = true;
    return 0;
}

static int fake_send(void *ctx, const void *data, uint32_t len)
{
    struct fake *f = ctx;

    assert_true(f->is_open);
    assert_true(f->sent_len + len <= sizeof(f->sent) - 1);
    memcpy(f->sent + f->sent_len, data, len);
    f->sent_len += len;
    f->sent[f->sent_len] = '\0';
    return 0;
}

static int fake_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct fake *f = ctx;
    uint32_t n = f->in_len - f->in_pos;

    assert_true(f->is_open);
    assert_true(len > 0);
    f->recvs++;
    f->last_timeout = timeout_ms;
    if (n == 0)
        return f->at_end;
    if (n > len)
        n = len;
    if (n > f->chunk)
        n = f->chunk;
    memcpy(buf, f->in + f->in_pos, n);
    f->in_pos += n;
    return (int)n;
}

static void fake_close(void *ctx)
{
    struct fake *f = ctx;

    f->closes++;
    f->is_open = false;
}

static const struct host_net_ops fake_ops = {fake_open, fake_send, fake_recv, fake_close, &fk};
static const struct ota_config cfg = {.recv_timeout_ms = 1234, .block_retries = 3};

static void fake_reset(uint32_t chunk, int at_end)
{
    memset(&fk, 0, sizeof(fk));
    fk.chunk = chunk;
    fk.at_end = at_end;
    host_net_use(&fake_ops);
    host_set_server("h", 8000, "app");
    host_set_quiet(true);
}

static void fake_queue(const void *data, uint32_t len)
{
    assert_true(fk.in_len + len <= sizeof(fk.in));
    memcpy(fk.in + fk.in_len, data, len);
    fk.in_len += len;
}

/* Back to TCP; the group's fixture stays for the next test. */
static int client_teardown(void **state)
{
    (void)state;
    host_net_use(NULL);
    return 0;
}

static void test_client_request_bytes(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_HEADER_WIRE];
    uint32_t len = 0, status = 0;

    fake_reset(4096, 0);
    fake_queue(f->head.data, f->head.len);
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/x", body, sizeof(body), &len, &status), OTA_OK);
    assert_string_equal(fk.sent, "GET /x HTTP/1.1\r\nHost: h:8000\r\n\r\n");
    assert_int_equal(fk.last_timeout, cfg.recv_timeout_ms);
    assert_int_equal(status, 200);
    assert_int_equal(len, OTA_HEADER_WIRE);
    assert_memory_equal(body, f->header, OTA_HEADER_WIRE);
    ota_http_close(&c);
    assert_int_equal(fk.closes, 1);
}

static void test_client_byte_per_recv(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;

    fake_reset(1, 0);
    fake_queue(f->head.data, f->head.len);
    fake_queue(f->block.data, f->block.len);
    fake_queue(resp_404, (uint32_t)strlen(resp_404));
    fake_queue(f->block.data, f->block.len);
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/app/header", body, OTA_HEADER_WIRE, &len, &status), 0);
    assert_int_equal(len, OTA_HEADER_WIRE);
    assert_memory_equal(body, f->header, OTA_HEADER_WIRE);
    assert_int_equal(fk.recvs, f->head.len);
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status), 0);
    assert_int_equal(len, OTA_BLOCK_WIRE);
    assert_memory_equal(body, f->block3, OTA_BLOCK_WIRE);
    /* An error status keeps the connection, in sync for the next request. */
    assert_int_equal(ota_http_get(&c, "/app/block/9", body, sizeof(body), &len, &status),
                     OTA_ERR_STATUS);
    assert_int_equal(status, 404);
    assert_true(c.open);
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status), 0);
    assert_memory_equal(body, f->block3, OTA_BLOCK_WIRE);
    assert_int_equal(fk.opens, 1);
    assert_int_equal(fk.closes, 0);
    assert_int_equal(fk.recvs, fk.in_len); /* not one recv more than needed */
    /* Keep-alive is the default: never a Connection header. */
    assert_null(strstr(fk.sent, "onnection"));
    assert_string_equal(fk.sent, "GET /app/header HTTP/1.1\r\nHost: h:8000\r\n\r\n"
                                 "GET /app/block/3 HTTP/1.1\r\nHost: h:8000\r\n\r\n"
                                 "GET /app/block/9 HTTP/1.1\r\nHost: h:8000\r\n\r\n"
                                 "GET /app/block/3 HTTP/1.1\r\nHost: h:8000\r\n\r\n");
    ota_http_close(&c);
}

static void test_client_responses_in_one_recv(void **state)
{
    struct fixture *f = *state;
    struct buf other = make(header_head, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
                                         "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14", 20);
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;

    /* Three responses, all in the first recv: the rest is kept for the
     * next requests, which need no recv at all. */
    fake_reset(4096, 0);
    fake_queue(f->head.data, f->head.len);
    fake_queue(resp_416, (uint32_t)strlen(resp_416));
    fake_queue(other.data, other.len);
    assert_true(fk.in_len <= sizeof(c.rx));
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/a", body, OTA_HEADER_WIRE, &len, &status), 0);
    assert_memory_equal(body, f->header, OTA_HEADER_WIRE);
    assert_int_equal(fk.recvs, 1);
    assert_int_equal(ota_http_get(&c, "/b", body, OTA_HEADER_WIRE, &len, &status),
                     OTA_ERR_STATUS);
    assert_int_equal(status, 416);
    assert_int_equal(ota_http_get(&c, "/c", body, OTA_HEADER_WIRE, &len, &status), 0);
    assert_int_equal(status, 200);
    assert_memory_equal(body, other.data + other.len - 20, 20);
    assert_int_equal(fk.recvs, 1);
    assert_int_equal(fk.opens, 1);
    assert_int_equal(fk.closes, 0);
    /* Nothing left over: the next request waits for the server. */
    assert_int_equal(ota_http_get(&c, "/d", body, OTA_HEADER_WIRE, &len, &status),
                     OTA_ERR_TIMEOUT);
    assert_int_equal(fk.recvs, 2);
    free(other.data);
}

static void test_client_pipelined_blocks(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;

    /* Ten block responses back to back, received as full buffers: every
     * response straddles a recv boundary somewhere. */
    fake_reset(100000, 0);
    for (int i = 0; i < 10; i++)
        fake_queue(f->block.data, f->block.len);
    ota_http_init(&c, &cfg);
    for (int i = 0; i < 10; i++) {
        memset(body, 0, sizeof(body));
        assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status),
                         0);
        assert_int_equal(len, OTA_BLOCK_WIRE);
        assert_memory_equal(body, f->block3, OTA_BLOCK_WIRE);
    }
    assert_int_equal(fk.recvs, (fk.in_len + sizeof(c.rx) - 1) / sizeof(c.rx));
    assert_int_equal(fk.in_pos, fk.in_len);
    ota_http_close(&c);
}

static void test_client_timeout_closes(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;

    /* Half a response, then silence. */
    fake_reset(7, 0);
    fake_queue(f->block.data, f->block.len / 2);
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status),
                     OTA_ERR_TIMEOUT);
    assert_false(c.open);
    assert_false(fk.is_open);
    assert_int_equal(fk.closes, 1);
    assert_int_equal(c.rx_len, 0);
    /* The next request starts over on a new connection. */
    fake_queue(f->block.data, f->block.len);
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status), 0);
    assert_memory_equal(body, f->block3, OTA_BLOCK_WIRE);
    assert_int_equal(fk.opens, 2);
    ota_http_close(&c);
}

static void test_client_server_gone(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;

    /* The server closes mid-response. */
    fake_reset(64, -ECONNRESET);
    fake_queue(f->block.data, 100);
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status),
                     OTA_ERR_NET);
    assert_false(c.open);
    assert_int_equal(fk.closes, 1);
    /* Nobody listening. */
    fake_reset(64, 0);
    fk.open_result = -ECONNREFUSED;
    assert_int_equal(ota_http_get(&c, "/app/block/3", body, sizeof(body), &len, &status),
                     OTA_ERR_NET);
    assert_false(c.open);
    assert_int_equal(fk.sent_len, 0);
}

static void test_client_bad_responses_close(void **state)
{
    struct fixture *f = *state;
    struct ota_http c;
    uint8_t body[OTA_BLOCK_WIRE];
    uint32_t len = 0, status = 0;
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "104\r\n";

    /* A body larger than asked for: out of sync, closed. */
    fake_reset(4096, 0);
    fake_queue(f->block.data, f->block.len);
    fake_queue(f->head.data, f->head.len);
    ota_http_init(&c, &cfg);
    assert_int_equal(ota_http_get(&c, "/app/header", body, OTA_HEADER_WIRE, &len, &status),
                     OTA_ERR_TOO_BIG);
    assert_false(c.open);
    assert_int_equal(c.rx_len, 0); /* what followed is dropped with the connection */
    assert_int_equal(fk.closes, 1);

    fake_reset(4096, 0);
    fake_queue(chunked, (uint32_t)strlen(chunked));
    assert_true(ota_http_get(&c, "/app/header", body, OTA_HEADER_WIRE, &len, &status) < 0);
    assert_false(c.open);

    /* A path that does not fit the request buffer is refused, nothing sent. */
    {
        char path[OTA_HTTP_REQUEST_MAX + 1];

        memset(path, 'p', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        fake_reset(4096, 0);
        assert_int_equal(ota_http_get(&c, path, body, sizeof(body), &len, &status),
                         OTA_ERR_HTTP);
        assert_int_equal(fk.sent_len, 0);
        assert_false(c.open);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otad_block_response),
        cmocka_unit_test(test_otad_header_response),
        cmocka_unit_test(test_error_statuses_keep_sync),
        cmocka_unit_test(test_other_spellings),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_no_content),
        cmocka_unit_test(test_missing_length),
        cmocka_unit_test(test_chunked_refused),
        cmocka_unit_test(test_bad_content_length),
        cmocka_unit_test(test_endless_headers),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_body_too_big),
        cmocka_unit_test(test_bad_status_line),
        cmocka_unit_test(test_control_bytes_in_head),
        cmocka_unit_test_teardown(test_client_request_bytes, client_teardown),
        cmocka_unit_test_teardown(test_client_byte_per_recv, client_teardown),
        cmocka_unit_test_teardown(test_client_responses_in_one_recv, client_teardown),
        cmocka_unit_test_teardown(test_client_pipelined_blocks, client_teardown),
        cmocka_unit_test_teardown(test_client_timeout_closes, client_teardown),
        cmocka_unit_test_teardown(test_client_server_gone, client_teardown),
        cmocka_unit_test_teardown(test_client_bad_responses_close, client_teardown),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/* The endpoints' decisions: status, canned answer, headers and body for each
 * request, from a catalog on a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "helpers.h"
#include "log.h"
#include "scan.h"
#include "serve.h"

enum { SIZE = 1000, SIZE2 = 700 };

struct fixture {
    char *dir;
    struct catalog *cat;
    uint8_t data[SIZE];
    char etag[32];            /* of the first image, worked out here */
    char date[32];            /* its Last-Modified */
    struct serve_response r;
    bool held;                /* r owns a body to release */
};

static void etag_of(const uint8_t *data, size_t len, char *buf)
{
    snprintf(buf, 32, "\"%08lx-%zx\"", crc32(0, data, (uInt)len), len);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct stat st;
    struct tm tm;
    char path[4096];

    log_init(LOG_LEVEL_ERROR);
    f->dir = tmpdir_create();
    fill_random(f->data, SIZE, 7);
    etag_of(f->data, SIZE, f->etag);
    if (write_file(f->dir, "app.bin", f->data, SIZE) < 0 ||
        write_file(f->dir, "app.txt", "5", 1) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/app.bin", f->dir);
    if (stat(path, &st) < 0 || gmtime_r(&st.st_mtime, &tm) == NULL)
        return -1;
    strftime(f->date, sizeof(f->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    *state = f;
    if (catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 600,
                                                      .max_memory = 1ull << 30},
                     NULL, NULL, &f->cat) < 0)
        return -1;
    return scan_all(f->cat, NULL) == 1 ? 0 : -1;
}

static void release(struct fixture *f)
{
    if (f->held)
        f->r.release(f->r.owner);
    f->held = false;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    release(f);
    catalog_close(f->cat);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Serves the request @rq (GET unless it says) for @path into f->r,
 * releasing the previous answer. */
static struct serve_response *serve(struct fixture *f, struct serve_request *rq,
                                    const char *path)
{
    release(f);
    if (rq->method == NULL)
        rq->method = "GET";
    route_parse(path, strlen(path), &rq->route);
    serve_handle(f->cat, rq, &f->r);
    f->held = f->r.canned == SERVE_BODY;
    return &f->r;
}

/* Serves @method @path for @conn with If-Match and Range values (NULL:
 * absent). */
static struct serve_response *get(struct fixture *f, const char *method, const char *path,
                                  struct conn *conn, const char *if_match, const char *range)
{
    struct serve_request rq = {.method = method, .conn = conn, .if_match = if_match,
                               .range = range};

    return serve(f, &rq, path);
}

/* The value of header @name, or NULL. */
static const char *header(const struct serve_response *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Asserts the header names, in order. */
static void assert_header_names(const struct serve_response *r, const char *const *names)
{
    size_t n = 0;

    for (; names[n] != NULL; n++) {
        assert_true(n < r->nheaders);
        assert_string_equal(r->headers[n].name, names[n]);
    }
    assert_int_equal(r->nheaders, n);
}

/* Replaces app.bin by other bytes and rescans: the first generation is
 * retained. Returns the new ETag into @etag. */
static void replace(struct fixture *f, char *etag)
{
    uint8_t other[SIZE2];

    fill_random(other, SIZE2, 99);
    etag_of(other, SIZE2, etag);
    assert_int_equal(write_file(f->dir, "app.bin", other, SIZE2), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
}

static void test_method_and_route(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(get(f, "POST", "/app/header", NULL, NULL, NULL)->status, 405);
    assert_int_equal(f->r.canned, SERVE_NOT_ALLOWED);
    assert_int_equal(get(f, "DELETE", "/firmwares", NULL, NULL, NULL)->status, 405);
    assert_int_equal(get(f, "GET", "/nowhere", NULL, NULL, NULL)->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
    assert_int_equal(get(f, "HEAD", "/app/header", NULL, NULL, NULL)->status, 200);
}

static void test_header(void **state)
{
    struct fixture *f = *state;
    struct conn *conn = conn_new();
    static const char *const names[] = {"Content-Type", "ETag", NULL};
    uint64_t gen;

    assert_non_null(conn);
    assert_int_equal(get(f, "GET", "/none/header", conn, NULL, NULL)->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
    assert_false(conn_pinned(conn, "app", 3, &gen));
    get(f, "GET", "/app/header", conn, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.canned, SERVE_BODY);
    assert_int_equal(f->r.body_len, OTA_HEADER_WIRE);
    assert_header_names(&f->r, names);
    assert_string_equal(header(&f->r, "Content-Type"), "application/octet-stream");
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_true(conn_pinned(conn, "app", 3, &gen));
    assert_int_equal(conn->pin_version, 5);
    /* Without a connection state there is nothing to pin, and no crash. */
    assert_int_equal(get(f, "GET", "/app/header", NULL, NULL, NULL)->status, 200);
    release(f);
    conn_free(conn);
}

/* A block response's body as reply.c sends it: gathered from the
 * generation the response holds. OTA_BLOCK_WIRE bytes, valid until the next
 * call. */
static const uint8_t *block_body(const struct serve_response *r)
{
    static uint8_t buf[OTA_BLOCK_WIRE];

    assert_null(r->body);
    assert_non_null(r->block_of);
    assert_ptr_equal(r->block_of, r->served); /* held by the response */
    assert_int_equal(r->body_len, OTA_BLOCK_WIRE);
    generation_block_copy(r->block_of, r->block, buf);
    return buf;
}

static void test_block(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"Content-Type", "ETag", NULL};

    get(f, "GET", "/app/block/1", NULL, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.body_len, OTA_BLOCK_WIRE);
    assert_memory_equal(block_body(&f->r), f->data + OTA_BLOCK_DATA, OTA_BLOCK_DATA);
    assert_int_equal(f->r.block, 1);
    assert_null(f->r.gather); /* no connection: the response makes its buffer */
    assert_int_equal(ota_get_le32(block_body(&f->r) + OTA_BLOCK_DATA),
                     (uint32_t)crc32(0, f->data + OTA_BLOCK_DATA, OTA_BLOCK_DATA));
    assert_header_names(&f->r, names);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    /* 1000 bytes: blocks 0 to 3, the last 232 bytes and 24 of padding. */
    assert_int_equal(get(f, "GET", "/app/block/3", NULL, NULL, NULL)->status, 200);
    {
        uint8_t expected[OTA_BLOCK_DATA];

        memset(expected, 0xFF, sizeof(expected));
        memcpy(expected, f->data + 768, 232);
        assert_memory_equal(block_body(&f->r), expected, OTA_BLOCK_DATA);
        assert_int_equal(ota_get_le32(block_body(&f->r) + OTA_BLOCK_DATA),
                         (uint32_t)crc32(0, expected, OTA_BLOCK_DATA));
    }
    assert_int_equal(get(f, "GET", "/app/block/4", NULL, NULL, NULL)->status, 416);
    assert_int_equal(f->r.canned, SERVE_OUT_OF_RANGE);
    assert_int_equal(get(f, "GET", "/app/block/99999999999", NULL, NULL, NULL)->status, 416);
    assert_int_equal(get(f, "GET", "/none/block/0", NULL, NULL, NULL)->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
}

static void test_block_pinned(void **state)
{
    struct fixture *f = *state;
    struct conn *pinned = conn_new(), *fresh = conn_new();
    char etag2[32];

    assert_non_null(pinned);
    assert_non_null(fresh);
    get(f, "GET", "/app/header", pinned, NULL, NULL);
    replace(f, etag2);
    /* The pinned connection keeps the retained generation... */
    get(f, "GET", "/app/block/0", pinned, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_memory_equal(block_body(&f->r), f->data, OTA_BLOCK_DATA);
    /* A connection's blocks are gathered into its one buffer. */
    assert_non_null(f->r.gather);
    assert_ptr_equal(f->r.gather, conn_block_buffer(pinned));
    /* ...where 1000 bytes have a block 3 and 700 have not. */
    assert_int_equal(get(f, "GET", "/app/block/3", pinned, NULL, NULL)->status, 200);
    assert_int_equal(get(f, "GET", "/app/block/3", fresh, NULL, NULL)->status, 416);
    get(f, "GET", "/app/block/0", fresh, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    /* If-Match overrides the pin. */
    get(f, "GET", "/app/block/0", pinned, etag2, NULL);
    assert_int_equal(f->r.status, 200);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    release(f);
    conn_free(pinned);
    conn_free(fresh);
}

/* Without keys (no trust given to the catalog) NAME.sig is served as it is,
 * from the generation it was read with. */
static void test_manifest(void **state)
{
    struct fixture *f = *state;
    struct conn *pinned = conn_new(), *fresh = conn_new();
    uint8_t sig1[OTA_MANIFEST_SIZE], sig2[OTA_MANIFEST_SIZE];
    char etag2[32];

    assert_non_null(pinned);
    assert_non_null(fresh);
    /* None yet: 404, and the header still served. */
    assert_int_equal(get(f, "GET", "/app/manifest", NULL, NULL, NULL)->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
    fill_random(sig1, sizeof(sig1), 11);
    fill_random(sig2, sizeof(sig2), 12);
    assert_int_equal(write_file(f->dir, "app.sig", sig1, sizeof(sig1)), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    get(f, "GET", "/app/manifest", NULL, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.body_len, OTA_MANIFEST_SIZE);
    assert_memory_equal(f->r.body, sig1, OTA_MANIFEST_SIZE);
    assert_header_names(&f->r, (const char *const[]){"Content-Type", "ETag", NULL});
    assert_string_equal(header(&f->r, "Content-Type"), "application/octet-stream");
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_int_equal(get(f, "HEAD", "/app/manifest", NULL, NULL, NULL)->status, 200);
    assert_int_equal(f->r.body_len, OTA_MANIFEST_SIZE);
    /* Pinned by its header, a connection keeps that generation's manifest
     * after both files are replaced; a fresh one gets the new pair. */
    get(f, "GET", "/app/header", pinned, NULL, NULL);
    assert_int_equal(write_file(f->dir, "app.sig", sig2, sizeof(sig2)), 0);
    replace(f, etag2);
    get(f, "GET", "/app/manifest", pinned, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_memory_equal(f->r.body, sig1, OTA_MANIFEST_SIZE);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    get(f, "GET", "/app/manifest", fresh, NULL, NULL);
    assert_memory_equal(f->r.body, sig2, OTA_MANIFEST_SIZE);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    /* If-Match names a generation, as for blocks. */
    get(f, "GET", "/app/manifest", fresh, f->etag, NULL);
    assert_memory_equal(f->r.body, sig1, OTA_MANIFEST_SIZE);
    assert_int_equal(get(f, "GET", "/app/manifest", NULL, "\"0-0\"", NULL)->status, 412);
    assert_int_equal(get(f, "GET", "/nope/manifest", NULL, NULL, NULL)->status, 404);
    assert_int_equal(get(f, "POST", "/app/manifest", NULL, NULL, NULL)->status, 405);
    release(f);
    conn_free(pinned);
    conn_free(fresh);
}

/* A .sig that cannot be a manifest (its size) is not published even without
 * keys: the image before it stays, with no manifest. */
static void test_manifest_wrong_size(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE + 1] = {0};
    char etag2[32];

    assert_int_equal(write_file(f->dir, "app.sig", sig, OTA_MANIFEST_SIZE - 1), 0);
    replace(f, etag2);
    get(f, "GET", "/app/header", NULL, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_int_equal(get(f, "GET", "/app/manifest", NULL, NULL, NULL)->status, 404);
    assert_int_equal(write_file(f->dir, "app.sig", sig, OTA_MANIFEST_SIZE + 1), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    get(f, "GET", "/app/header", NULL, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_int_equal(write_file(f->dir, "app.sig", sig, OTA_MANIFEST_SIZE), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    get(f, "GET", "/app/header", NULL, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    assert_int_equal(get(f, "GET", "/app/manifest", NULL, NULL, NULL)->status, 200);
    release(f);
}

static void test_block_gone(void **state)
{
    struct fixture *f = *state;
    struct conn *conn = conn_new();
    struct catalog *keep = f->cat;
    char etag2[32];

    assert_non_null(conn);
    /* A catalog that retains nothing. */
    assert_int_equal(catalog_open(f->dir, &(struct catalog_limits){.retain_seconds = 0,
                                                                   .max_memory = 1ull << 30},
                                  NULL, NULL, &f->cat),
                     0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    get(f, "GET", "/app/header", conn, NULL, NULL);
    release(f);
    replace(f, etag2);
    (void)catalog_expire(f->cat);
    assert_int_equal(get(f, "GET", "/app/block/0", conn, NULL, NULL)->status, 412);
    assert_int_equal(f->r.canned, SERVE_GONE);
    /* So does a resumed (ranged) image download on that connection. */
    assert_int_equal(get(f, "GET", "/app/image", conn, NULL, "bytes=0-9")->status, 412);
    assert_int_equal(f->r.canned, SERVE_GONE);
    /* Naming the current generation still works. */
    assert_int_equal(get(f, "GET", "/app/block/0", conn, etag2, NULL)->status, 200);
    release(f);
    catalog_close(f->cat);
    f->cat = keep;
    conn_free(conn);
}

static void test_if_match(void **state)
{
    struct fixture *f = *state;
    char etag2[32], list[128], weak[40];

    replace(f, etag2);
    get(f, "GET", "/app/block/0", NULL, f->etag, NULL);
    assert_int_equal(f->r.status, 200);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_int_equal(get(f, "GET", "/app/block/0", NULL, "\"0badbad0-3e8\"", NULL)->status, 412);
    assert_int_equal(f->r.canned, SERVE_NO_MATCH);
    get(f, "GET", "/app/block/0", NULL, " *", NULL);
    assert_int_equal(f->r.status, 200);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    /* Optional white space around the value is no part of it. */
    for (size_t i = 0; i < 3; i++) {
        static const char *const any[] = {"* ", "*\t", "\t* \t"};

        get(f, "GET", "/app/block/0", NULL, any[i], NULL);
        assert_int_equal(f->r.status, 200);
        assert_string_equal(header(&f->r, "ETag"), etag2);
    }
    snprintf(list, sizeof(list), "\t%s \t", f->etag);
    assert_int_equal(get(f, "GET", "/app/block/0", NULL, list, NULL)->status, 200);
    assert_int_equal(get(f, "GET", "/app/block/0", NULL, "* x", NULL)->status, 412);
    snprintf(list, sizeof(list), "\"nope\", %s", f->etag);
    get(f, "GET", "/app/block/0", NULL, list, NULL);
    assert_int_equal(f->r.status, 200);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    /* Strong comparison: a weak tag never matches. */
    snprintf(weak, sizeof(weak), "W/%s", f->etag);
    assert_int_equal(get(f, "GET", "/app/block/0", NULL, weak, NULL)->status, 412);
    assert_int_equal(get(f, "GET", "/none/block/0", NULL, "*", NULL)->status, 412);
    /* The image endpoint takes the same choice. */
    get(f, "GET", "/app/image", NULL, f->etag, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    /* A retained generation's version is not known: no version header. */
    assert_null(header(&f->r, "X-Firmware-Version"));
    get(f, "GET", "/app/image", NULL, etag2, NULL);
    assert_string_equal(header(&f->r, "X-Firmware-Version"), "5");
    assert_int_equal(get(f, "GET", "/app/image", NULL, "\"x\"", NULL)->status, 412);
    assert_int_equal(f->r.canned, SERVE_NO_MATCH);
}

static void test_image_full(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"Content-Type",     "ETag",          "Accept-Ranges",
                                        "Last-Modified",    "X-Firmware-Version",
                                        "X-Firmware-CRC32", "X-Firmware-Size", NULL};
    char crc[16];

    get(f, "GET", "/app/image", NULL, NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    assert_memory_equal(f->r.body, f->data, SIZE);
    assert_header_names(&f->r, names);
    snprintf(crc, sizeof(crc), "0x%08lX", crc32(0, f->data, SIZE));
    assert_string_equal(header(&f->r, "Content-Type"), "application/octet-stream");
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_string_equal(header(&f->r, "Accept-Ranges"), "bytes");
    assert_string_equal(header(&f->r, "Last-Modified"), f->date);
    assert_string_equal(header(&f->r, "X-Firmware-Version"), "5");
    assert_string_equal(header(&f->r, "X-Firmware-CRC32"), crc);
    assert_string_equal(header(&f->r, "X-Firmware-Size"), "1000");
    /* The ESP32 servers' layout names the same image. */
    assert_int_equal(get(f, "HEAD", "/firmware/app.bin", NULL, NULL, NULL)->status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    assert_int_equal(get(f, "GET", "/none/image", NULL, NULL, NULL)->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
}

static void expect_range(struct fixture *f, const char *range, size_t first, size_t len,
                         const char *content_range)
{
    get(f, "GET", "/app/image", NULL, NULL, range);
    assert_int_equal(f->r.status, 206);
    assert_int_equal(f->r.body_len, len);
    assert_memory_equal(f->r.body, f->data + first, len);
    assert_string_equal(f->r.headers[f->r.nheaders - 1].name, "Content-Range");
    assert_string_equal(header(&f->r, "Content-Range"), content_range);
    assert_string_equal(f->r.headers[0].name, "Content-Type");
}

static void test_image_ranges(void **state)
{
    struct fixture *f = *state;
    static const char *const names416[] = {"ETag", "Accept-Ranges", "Last-Modified",
                                           "X-Firmware-Version", "X-Firmware-CRC32",
                                           "X-Firmware-Size", "Content-Range", NULL};

    expect_range(f, "bytes=10-19", 10, 10, "bytes 10-19/1000");
    expect_range(f, "bytes=990-", 990, 10, "bytes 990-999/1000");
    expect_range(f, "bytes=-100", 900, 100, "bytes 900-999/1000");
    expect_range(f, "bytes=900-5000", 900, 100, "bytes 900-999/1000");
    get(f, "GET", "/app/image", NULL, NULL, "bytes=1000-");
    assert_int_equal(f->r.status, 416);
    assert_int_equal(f->r.canned, SERVE_BODY);
    assert_int_equal(f->r.body_len, 0);
    assert_header_names(&f->r, names416);
    assert_string_equal(header(&f->r, "Content-Range"), "bytes */1000");
    /* Several ranges, or a unit otad does not know: the whole image. */
    get(f, "GET", "/app/image", NULL, NULL, "bytes=0-9,20-29");
    assert_int_equal(f->r.status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    assert_null(header(&f->r, "Content-Range"));
    assert_int_equal(get(f, "GET", "/app/image", NULL, NULL, "items=0-9")->status, 200);
    /* No last bytes to send; and ranges that do not parse are ignored. */
    assert_int_equal(get(f, "GET", "/app/image", NULL, NULL, "bytes=-0")->status, 416);
    assert_string_equal(header(&f->r, "Content-Range"), "bytes */1000");
    assert_int_equal(get(f, "GET", "/app/image", NULL, NULL, "bytes=abc")->status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    assert_int_equal(get(f, "GET", "/app/image", NULL, NULL, "bytes=5-2")->status, 200);
    assert_int_equal(f->r.body_len, SIZE);
}

static void test_image_conditions(void **state)
{
    struct fixture *f = *state;
    static const char *const names304[] = {"ETag", "Accept-Ranges", "Last-Modified",
                                           "X-Firmware-Version", "X-Firmware-CRC32",
                                           "X-Firmware-Size", NULL};
    struct serve_request rq = {.range = "bytes=0-9", .if_range = f->etag};
    char padded[64];

    assert_int_equal(serve(f, &rq, "/app/image")->status, 206);
    rq.if_range = f->date;
    assert_int_equal(serve(f, &rq, "/app/image")->status, 206);
    /* Optional white space around If-Range's validator is ignored. */
    snprintf(padded, sizeof(padded), " %s\t", f->etag);
    rq.if_range = padded;
    assert_int_equal(serve(f, &rq, "/app/image")->status, 206);
    snprintf(padded, sizeof(padded), "\t%s ", f->date);
    assert_int_equal(serve(f, &rq, "/app/image")->status, 206);
    rq.if_range = "\"0badbad0-3e8\"";
    assert_int_equal(serve(f, &rq, "/app/image")->status, 200);
    assert_int_equal(f->r.body_len, SIZE);
    rq.if_range = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_int_equal(serve(f, &rq, "/app/image")->status, 200);
    rq = (struct serve_request){.if_none_match = f->etag, .range = "bytes=0-9"};
    assert_int_equal(serve(f, &rq, "/app/image")->status, 304);
    assert_int_equal(f->r.body_len, 0);
    assert_header_names(&f->r, names304);
    rq.if_none_match = "\"other\"";
    assert_int_equal(serve(f, &rq, "/app/image")->status, 206);
    rq.if_none_match = "*";
    assert_int_equal(serve(f, &rq, "/app/image")->status, 304);
    rq.if_none_match = "* \t";
    assert_int_equal(serve(f, &rq, "/app/image")->status, 304);
}

static void test_image_pinned(void **state)
{
    struct fixture *f = *state;
    struct conn *conn = conn_new();
    char etag2[32];

    assert_non_null(conn);
    /* A full GET pins the connection; a resumed (ranged) one stays on it. */
    get(f, "HEAD", "/app/image", conn, NULL, NULL);
    replace(f, etag2);
    assert_int_equal(write_file(f->dir, "app.txt", "6", 1), 0);
    assert_int_equal(scan_all(f->cat, NULL), 1);
    get(f, "GET", "/app/image", conn, NULL, "bytes=0-9");
    assert_int_equal(f->r.status, 206);
    assert_string_equal(header(&f->r, "ETag"), f->etag);
    assert_string_equal(header(&f->r, "X-Firmware-Version"), "5");
    assert_memory_equal(f->r.body, f->data, 10);
    /* A full GET is a new download: the current image, pinned anew. */
    get(f, "GET", "/app/image", conn, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    assert_string_equal(header(&f->r, "X-Firmware-Version"), "6");
    get(f, "GET", "/app/block/0", conn, NULL, NULL);
    assert_string_equal(header(&f->r, "ETag"), etag2);
    release(f);
    conn_free(conn);
}

static void test_listing(void **state)
{
    struct fixture *f = *state;
    struct serve_request rq = {0};
    static const char *const names[] = {"Content-Type", NULL};

    assert_int_equal(serve(f, &rq, "/firmwares")->status, 200);
    assert_header_names(&f->r, names);
    assert_string_equal(header(&f->r, "Content-Type"), "text/plain; charset=utf-8");
    assert_non_null(memmem(f->r.body, f->r.body_len, "app", 3));
    rq = (struct serve_request){.format = "json"};
    serve(f, &rq, "/firmwares");
    assert_string_equal(header(&f->r, "Content-Type"), "application/json");
    assert_true(f->r.body_len > 0 && (f->r.body[0] == '[' || f->r.body[0] == '{'));
    rq = (struct serve_request){.accept = "text/html, Application/JSON;q=0.9"};
    serve(f, &rq, "/firmwares");
    assert_string_equal(header(&f->r, "Content-Type"), "application/json");
    /* The query argument wins over Accept. */
    rq = (struct serve_request){.format = "text", .accept = "application/json"};
    serve(f, &rq, "/firmwares");
    assert_string_equal(header(&f->r, "Content-Type"), "text/plain; charset=utf-8");
    rq = (struct serve_request){.accept = "text/html"};
    serve(f, &rq, "/firmwares");
    assert_string_equal(header(&f->r, "Content-Type"), "text/plain; charset=utf-8");
}

/* A registry that tracks, with room to spare. */
static struct fleet *new_fleet(void)
{
    struct fleet *fl = NULL;

    assert_int_equal(fleet_new(&(struct fleet_options){.track = true, .max_devices = 100,
                                                       .history = 10, .stall_seconds = 60},
                               &fl),
                     0);
    return fl;
}

/* POST @body (NULL: none) to @path from 10.0.0.1 with the registry @fl. */
static struct serve_response *post(struct fixture *f, struct fleet *fl, const char *method,
                                   const char *path, const char *body, size_t len)
{
    struct serve_request rq = {.method = method, .fleet = fl, .address = "10.0.0.1",
                               .now_ms = 1000, .body = body, .body_len = len};

    return serve(f, &rq, path);
}

static void test_report(void **state)
{
    struct fixture *f = *state;
    struct fleet *fl = new_fleet();
    static const char ok[] = "status=installed&version=5";
    static const char *const names[] = {"Content-Type", NULL};
    char big[SERVE_REPORT_MAX + 1];

    /* Without a registry there is no such endpoint. */
    assert_int_equal(post(f, NULL, "POST", "/app/report", ok, strlen(ok))->status, 404);
    assert_int_equal(f->r.canned, SERVE_NOT_FOUND);
    assert_false(f->r.has_report);
    assert_int_equal(post(f, NULL, "GET", "/app/report", NULL, 0)->status, 404);
    /* POST only, and only here. */
    assert_int_equal(post(f, fl, "GET", "/app/report", NULL, 0)->status, 405);
    assert_int_equal(f->r.canned, SERVE_POST_ONLY);
    assert_int_equal(post(f, fl, "PUT", "/app/report", ok, strlen(ok))->status, 405);
    assert_int_equal(f->r.canned, SERVE_POST_ONLY);
    assert_int_equal(post(f, fl, "POST", "/app/header", NULL, 0)->status, 405);
    assert_int_equal(f->r.canned, SERVE_NOT_ALLOWED);
    /* Accepted: 204 without a body. */
    post(f, fl, "POST", "/app/report", ok, strlen(ok));
    assert_int_equal(f->r.status, 204);
    assert_int_equal(f->r.canned, SERVE_BODY);
    assert_int_equal(f->r.body_len, 0);
    assert_true(f->r.has_report);
    assert_int_equal(f->r.report.status, 204);
    assert_string_equal(f->r.report.id, "10.0.0.1");
    assert_int_equal(f->r.report.event.status, FLEET_REPORT_INSTALLED);
    assert_int_equal(f->r.report.event.version, 5);
    /* Refused: the status and a line saying why. */
    post(f, fl, "POST", "/none/report", ok, strlen(ok));
    assert_int_equal(f->r.status, 404);
    assert_true(f->r.has_report);
    assert_header_names(&f->r, names);
    assert_string_equal(header(&f->r, "Content-Type"), "text/plain");
    assert_true(f->r.body_len > 1 && f->r.body[f->r.body_len - 1] == '\n');
    assert_int_equal(post(f, fl, "POST", "/app/report", "status=bogus", 12)->status, 400);
    memset(big, 'a', sizeof(big));
    assert_int_equal(post(f, fl, "POST", "/app/report", big, sizeof(big))->status, 413);
    release(f);
    fleet_free(fl);
}

static void test_needs_address(void **state)
{
    struct fleet *fl = new_fleet();
    struct conn *conn = conn_new();
    struct serve_request rq = {.method = "GET", .fleet = fl, .conn = conn};

    (void)state;
    route_parse("/app/block/0", 12, &rq.route);
    /* A connection without a device yet: the block names it by address. */
    assert_true(serve_needs_address(&rq));
    assert_int_equal(fleet_header(fl, &conn->fleet, "dev-1", "10.0.0.1", "app", 3, 5, false,
                                  0, 4, 1000),
                     0);
    assert_non_null(conn->fleet);
    /* Tagged: its blocks and images cost no address. */
    assert_false(serve_needs_address(&rq));
    route_parse("/app/image", 10, &rq.route);
    assert_false(serve_needs_address(&rq));
    /* A header or a report names the device afresh every time. */
    route_parse("/app/header", 11, &rq.route);
    assert_true(serve_needs_address(&rq));
    route_parse("/app/report", 11, &rq.route);
    assert_false(serve_needs_address(&rq)); /* a GET: 405, not a report */
    rq.method = "POST";
    assert_true(serve_needs_address(&rq));
    /* HEAD serves no bytes: not tracked. */
    rq.method = "HEAD";
    route_parse("/app/header", 11, &rq.route);
    assert_false(serve_needs_address(&rq));
    /* Neither the listing nor a manifest feeds the registry. */
    rq.method = "GET";
    route_parse("/firmwares", 10, &rq.route);
    assert_false(serve_needs_address(&rq));
    route_parse("/app/manifest", 13, &rq.route);
    assert_false(serve_needs_address(&rq));
    /* Without a connection state, every tracked request names its device. */
    rq.conn = NULL;
    route_parse("/app/block/0", 12, &rq.route);
    assert_true(serve_needs_address(&rq));
    /* Without a registry, nothing does. */
    rq.fleet = NULL;
    assert_false(serve_needs_address(&rq));
    route_parse("/app/header", 11, &rq.route);
    assert_false(serve_needs_address(&rq));
    conn_free(conn);
    fleet_free(fl);
}

/* Serves GET @path on @conn from @address as a tracked request. */
static struct serve_response *tracked_get(struct fixture *f, struct fleet *fl,
                                          struct conn *conn, const char *path,
                                          const char *address, const char *id,
                                          const char *version)
{
    struct serve_request rq = {.method = "GET", .fleet = fl, .conn = conn, .address = address,
                               .now_ms = 2000, .device_id = id, .device_version = version};

    return serve(f, &rq, path);
}

static void test_tracking(void **state)
{
    struct fixture *f = *state;
    struct fleet *fl = new_fleet();
    struct conn *conn = conn_new();
    struct fleet_device d;
    char path[32];
    size_t n = 0;

    /* The header names the device and what it was offered: app is version
     * 5 in 4 blocks (1000 bytes). */
    assert_int_equal(tracked_get(f, fl, conn, "/app/header", "10.0.0.1", "dev-1", "4")->status,
                     200);
    assert_int_equal(fleet_get(fl, "dev-1", &d, NULL, 0, &n), 0);
    assert_false(d.by_address);
    assert_string_equal(d.firmware, "app");
    assert_int_equal(d.offered, 5);
    assert_true(d.has_installed);
    assert_int_equal(d.installed, 4);
    assert_int_equal(d.state, FLEET_CHECKING);
    assert_non_null(conn->fleet);
    /* Its blocks reach it through the connection: no address, no id. */
    for (unsigned i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/app/block/%u", i);
        assert_int_equal(tracked_get(f, fl, conn, path, NULL, NULL, NULL)->status, 200);
    }
    assert_int_equal(fleet_get(fl, "dev-1", &d, NULL, 0, &n), 0);
    assert_int_equal(d.blocks_served, 4);
    assert_int_equal(d.blocks_total, 4);
    assert_int_equal(d.bytes, 4 * OTA_BLOCK_WIRE);
    assert_int_equal(d.state, FLEET_DOWNLOADED);
    /* A block out of range feeds nothing. */
    assert_int_equal(tracked_get(f, fl, conn, "/app/block/4", NULL, NULL, NULL)->status, 416);
    assert_int_equal(fleet_get(fl, "dev-1", &d, NULL, 0, &n), 0);
    assert_int_equal(d.bytes, 4 * OTA_BLOCK_WIRE);
    release(f);
    conn_free(conn);
    fleet_free(fl);
}

static void test_tracking_by_address(void **state)
{
    struct fixture *f = *state;
    struct fleet *fl = new_fleet();
    struct fleet_device d;
    struct serve_request rq = {.method = "HEAD", .fleet = fl, .address = "10.0.0.3",
                               .device_id = "dev-3"};
    size_t n = 0;

    /* An X-Device-Id that is none (a space, a slash): known by its address;
     * an X-Device-Version that is not a decimal uint32 is ignored. */
    tracked_get(f, fl, NULL, "/app/header", "10.0.0.2", "bad id/", "0x10");
    assert_int_equal(fleet_get(fl, "bad id/", &d, NULL, 0, &n), -ENOENT);
    assert_int_equal(fleet_get(fl, "10.0.0.2", &d, NULL, 0, &n), 0);
    assert_true(d.by_address);
    assert_false(d.has_installed);
    tracked_get(f, fl, NULL, "/app/header", "10.0.0.4", NULL, "4294967296");
    assert_int_equal(fleet_get(fl, "10.0.0.4", &d, NULL, 0, &n), 0);
    assert_false(d.has_installed);
    /* A legacy device on fresh connections: its blocks find it by address. */
    tracked_get(f, fl, NULL, "/app/block/0", "10.0.0.2", NULL, NULL);
    assert_int_equal(fleet_get(fl, "10.0.0.2", &d, NULL, 0, &n), 0);
    assert_int_equal(d.blocks_served, 1);
    assert_int_equal(d.state, FLEET_DOWNLOADING);
    /* The whole image, by address too. */
    tracked_get(f, fl, NULL, "/app/image", "10.0.0.5", NULL, NULL);
    assert_int_equal(f->r.status, 200);
    assert_int_equal(fleet_get(fl, "10.0.0.5", &d, NULL, 0, &n), 0);
    assert_int_equal(d.bytes, SIZE);
    /* HEAD is not tracked. */
    assert_int_equal(serve(f, &rq, "/app/header")->status, 200);
    assert_int_equal(fleet_get(fl, "dev-3", &d, NULL, 0, &n), -ENOENT);
    assert_int_equal(fleet_get(fl, "10.0.0.3", &d, NULL, 0, &n), -ENOENT);
    release(f);
    fleet_free(fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_method_and_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_wrong_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_if_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report, setup, teardown),
        cmocka_unit_test(test_needs_address),
        cmocka_unit_test_setup_teardown(test_tracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracking_by_address, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

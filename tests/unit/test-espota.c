/* SPDX-License-Identifier: MIT */
/* The Arduino ESP updaters' requests: recognised by their headers, and the
 * answer decided (304, 403, 200) from the image's digests, size, first byte
 * and version. The digests expected are the published test vectors for
 * "abc" (RFC 1321, FIPS 180-2), not values this code made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "espota.h"
#include "helpers.h"

static const char abc_md5[] = "900150983cd24fb0d6963f7d28e17f72";
static const char abc_sha256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/* A request's headers as name/value pairs, looked up without case as the
 * library does. */
struct headers {
    const char *const *pairs; /* name, value, ..., NULL */
};

static const char *get(void *cls, const char *name)
{
    const struct headers *h = cls;

    for (size_t i = 0; h->pairs[i] != NULL; i += 2)
        if (strcasecmp(h->pairs[i], name) == 0)
            return h->pairs[i + 1];
    return NULL;
}

static struct espota_request read_pairs(const char *const *pairs)
{
    struct headers h = {pairs};
    struct espota_request rq;

    espota_read(get, &h, &rq);
    return rq;
}

/* @got, a field read, is @want (both may be NULL). */
static void same(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

/* The fields of @rq: STA-MAC, free space, MD5, SHA-256, mode, version. */
static void expect(const struct espota_request *rq, enum espota_core core,
                   const char *const want[6])
{
    assert_int_equal(rq->core, core);
    same(rq->sta_mac, want[0]);
    same(rq->free_space, want[1]);
    same(rq->sketch_md5, want[2]);
    same(rq->sketch_sha256, want[3]);
    same(rq->mode, want[4]);
    same(rq->version, want[5]);
}

static void test_read_cores(void **state)
{
    static const char *const esp8266[] = {
        "User-Agent", "ESP8266-http-Update", "x-ESP8266-STA-MAC", "5C:CF:7F:0A:0B:0C",
        "x-ESP8266-free-space", "1044464", "x-ESP8266-sketch-md5", abc_md5,
        "x-ESP8266-mode", "sketch", "x-ESP8266-version", "7", NULL};
    static const char *const want8266[6] = {"5C:CF:7F:0A:0B:0C", "1044464", abc_md5, NULL,
                                            "sketch", "7"};
    /* Header names in another case (HTTP names have none), and the other
     * core's mode, which is not this one's. */
    static const char *const esp32[] = {
        "user-agent", "ESP32-http-Update", "X-ESP32-STA-MAC", "24:0A:C4:00:01:10",
        "x-esp32-sketch-sha256", "BA7816BF", "x-ESP8266-mode", "spiffs", NULL};
    static const char *const want32[6] = {"24:0A:C4:00:01:10", NULL, NULL, "BA7816BF", NULL,
                                          NULL};
    struct espota_request rq = read_pairs(esp8266);

    (void)state;
    expect(&rq, ESPOTA_ESP8266, want8266);
    assert_string_equal(espota_core_name(rq.core), "esp8266");
    rq = read_pairs(esp32);
    expect(&rq, ESPOTA_ESP32, want32);
    assert_false(espota_wants_fs(&rq));
    assert_string_equal(espota_core_name(rq.core), "esp32");
}

static void test_read_recognition(void **state)
{
    static const char *const mode_only[] = {"x-ESP32-mode", "spiffs", NULL};
    static const char *const other_agent[] = {
        "User-Agent", "curl/8.5.0", "x-ESP8266-sketch-md5", abc_md5, NULL};
    static const char *const none[] = {NULL};
    struct espota_request rq = read_pairs(mode_only);

    (void)state;
    assert_int_equal(rq.core, ESPOTA_ESP32);
    assert_true(espota_wants_fs(&rq));
    /* A digest alone, without the updater's agent or mode, is anyone's. */
    rq = read_pairs(other_agent);
    assert_int_equal(rq.core, ESPOTA_NONE);
    assert_null(rq.sketch_md5);
    rq = read_pairs(none);
    assert_int_equal(rq.core, ESPOTA_NONE);
    assert_false(espota_wants_fs(&rq));
}

static void test_firmware_name(void **state)
{
    struct espota_request rq = {.core = ESPOTA_ESP8266, .mode = "SPIFFS"};
    struct route route = {.kind = ROUTE_IMAGE, .name = "app/image", .name_len = 3};
    char buf[8];

    (void)state;
    assert_int_equal(espota_firmware_name(&rq, &route, buf, sizeof(buf)), 0);
    assert_int_equal(route.name_len, 6);
    assert_memory_equal(route.name, "app.fs", 7);
    route = (struct route){.kind = ROUTE_IMAGE, .name = "abcde", .name_len = 5};
    assert_int_equal(espota_firmware_name(&rq, &route, buf, sizeof(buf)), -ENAMETOOLONG);
    rq.mode = "sketch";
    route = (struct route){.kind = ROUTE_IMAGE, .name = "abcdefghij", .name_len = 10};
    assert_int_equal(espota_firmware_name(&rq, &route, buf, sizeof(buf)), 0);
    assert_int_equal(route.name_len, 10);
    assert_memory_equal(route.name, "abcdefghij", 10);
}

/* The digests of "abc" as bytes. */
static void unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

static uint8_t md5[GENERATION_MD5_SIZE], sha256[GENERATION_SHA256_SIZE];

static struct espota_image image(uint32_t size, uint8_t first)
{
    unhex(abc_md5, md5, sizeof(md5));
    unhex(abc_sha256, sha256, sizeof(sha256));
    return (struct espota_image){.size = size, .md5 = md5, .sha256 = sha256,
                                 .first_byte = first, .has_version = true, .version = 7};
}

static unsigned decide(const struct espota_request *rq, const struct espota_image *img,
                       const char **why)
{
    *why = NULL;
    return espota_decide(rq, img, why);
}

static void test_up_to_date(void **state)
{
    struct espota_image img = image(1000, ESPOTA_IMAGE_MAGIC);
    struct espota_request rq = {.core = ESPOTA_ESP8266, .sketch_md5 = abc_md5};
    char upper[sizeof(abc_sha256)];
    const char *why;

    (void)state;
    assert_int_equal(decide(&rq, &img, &why), 304);
    assert_string_equal(why, "sketch MD5 matches");
    /* The ESP32 sends its SHA-256 in upper case. */
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)toupper((unsigned char)abc_sha256[i]);
    rq = (struct espota_request){.core = ESPOTA_ESP32, .sketch_sha256 = upper};
    assert_int_equal(decide(&rq, &img, &why), 304);
    assert_string_equal(why, "sketch SHA-256 matches");
    rq = (struct espota_request){.core = ESPOTA_ESP32, .version = "7"};
    assert_int_equal(decide(&rq, &img, &why), 304);
    assert_string_equal(why, "version matches");
    /* Up to date wins over a free space it would not fit: it runs it. */
    rq.free_space = "10";
    assert_int_equal(decide(&rq, &img, &why), 304);
}

static void test_not_up_to_date(void **state)
{
    struct espota_image img = image(1000, ESPOTA_IMAGE_MAGIC);
    static const char *const versions[] = {"07", "7 ", "6", "", "7.0"};
    static const char *const digests[] = {
        "900150983cd24fb0d6963f7d28e17f7",   /* 31 digits */
        "900150983cd24fb0d6963f7d28e17f720", /* 33 */
        "900150983cd24fb0d6963f7d28e17f7g",  /* not hex */
        "0x0150983cd24fb0d6963f7d28e17f72",
        "",
    };
    struct espota_request rq = {.core = ESPOTA_ESP8266};
    const char *why;

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        rq.version = versions[i];
        assert_int_equal(decide(&rq, &img, &why), 200);
        assert_null(why);
    }
    rq.version = NULL;
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        rq.sketch_md5 = digests[i];
        rq.sketch_sha256 = digests[i];
        assert_int_equal(decide(&rq, &img, &why), 200);
    }
    /* The version of a firmware without NAME.txt is nobody's. */
    img.has_version = false;
    img.version = 1;
    rq = (struct espota_request){.core = ESPOTA_ESP8266, .version = "1"};
    assert_int_equal(decide(&rq, &img, &why), 200);
}

static void test_refused(void **state)
{
    struct espota_image img = image(1000, ESPOTA_IMAGE_MAGIC);
    struct espota_request rq = {.core = ESPOTA_ESP8266, .free_space = "999"};
    static const char *const garbled[] = {"abc", "", "-1", "1e9", "0x10", " 10", "1000"};
    const char *why;

    (void)state;
    assert_int_equal(decide(&rq, &img, &why), 403);
    assert_string_equal(why, "image larger than free space");
    /* Not a number: no free space said, so no refusal (the last one fits). */
    for (size_t i = 0; i < sizeof(garbled) / sizeof(garbled[0]); i++) {
        rq.free_space = garbled[i];
        assert_int_equal(decide(&rq, &img, &why), 200);
    }
    img.first_byte = 0x7F;
    assert_int_equal(decide(&rq, &img, &why), 403);
    assert_string_equal(why, "not an ESP image (first byte is not 0xE9)");
}

static void test_filesystem(void **state)
{
    struct espota_image img = image(1000, 0x00);
    struct espota_request rq = {.core = ESPOTA_ESP32, .mode = "spiffs", .free_space = "1"};
    const char *why;

    (void)state;
    /* Neither the magic nor the sketch's free space applies to it. */
    assert_int_equal(decide(&rq, &img, &why), 200);
    rq.sketch_md5 = abc_md5;
    assert_int_equal(decide(&rq, &img, &why), 304);
}

static void test_digests_at_load(void **state)
{
    char *dir = tmpdir_create();
    struct generation *g = NULL;
    char hex[ESPOTA_MD5_HEX], sha_hex[2 * GENERATION_SHA256_SIZE + 1];
    int dirfd;

    (void)state;
    /* "abc" is no ESP image: only as a filesystem image are its digests made. */
    assert_int_equal(write_file(dir, "abc.bin", "abc", 3), 0);
    assert_int_equal(write_file(dir, "abc.FS.bin", "abc", 3), 0);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    assert_int_equal(generation_load(dirfd, "abc.bin", NULL, &g), 0);
    assert_false(g->has_digests);
    generation_unref(g);
    assert_int_equal(generation_load(dirfd, "abc.FS.bin", NULL, &g), 0);
    assert_true(g->has_digests);
    assert_string_equal(espota_md5_hex(g->md5, hex), abc_md5);
    for (size_t i = 0; i < GENERATION_SHA256_SIZE; i++)
        snprintf(sha_hex + 2 * i, 3, "%02x", g->sha256[i]);
    assert_string_equal(sha_hex, abc_sha256);
    assert_false(g->sha256_appended);
    generation_unref(g);
    close(dirfd);
    tmpdir_remove(dir);
}

/* "abc" followed by its SHA-256, as an ESP-IDF image ends with the digest of
 * the bytes before it: an ESP32 running it reports that digest. Then an
 * image that starts with the ESP magic, which has its digests made too. */
static void test_appended_digest(void **state)
{
    struct espota_request rq = {.core = ESPOTA_ESP32, .sketch_sha256 = abc_sha256};
    uint8_t file[3 + GENERATION_SHA256_SIZE] = "abc";
    char *dir = tmpdir_create();
    struct generation *g = NULL;
    const char *why;
    int dirfd;

    (void)state;
    unhex(abc_sha256, file + 3, GENERATION_SHA256_SIZE);
    assert_int_equal(write_file(dir, "app.fs.bin", file, sizeof(file)), 0);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    assert_int_equal(generation_load(dirfd, "app.fs.bin", NULL, &g), 0);
    assert_true(g->sha256_appended);
    assert_int_equal(espota_decide_generation(&rq, g, false, 0, &why), 304);
    assert_string_equal(why, "sketch SHA-256 matches");
    /* One byte changed before the digest: no longer an appended digest (and
     * 'a' is no ESP magic either). */
    generation_unref(g);
    file[1] = 'B';
    assert_int_equal(write_file(dir, "app.fs.bin", file, sizeof(file)), 0);
    assert_int_equal(generation_load(dirfd, "app.fs.bin", NULL, &g), 0);
    assert_false(g->sha256_appended);
    assert_int_equal(espota_decide_generation(&rq, g, false, 0, &why), 403);
    generation_unref(g);
    file[0] = ESPOTA_IMAGE_MAGIC;
    assert_int_equal(write_file(dir, "app.bin", file, sizeof(file)), 0);
    assert_int_equal(generation_load(dirfd, "app.bin", NULL, &g), 0);
    assert_true(g->has_digests);
    assert_false(g->sha256_appended);
    assert_int_equal(espota_decide_generation(&rq, g, false, 0, &why), 200);
    generation_unref(g);
    close(dirfd);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_cores),     cmocka_unit_test(test_read_recognition),
        cmocka_unit_test(test_firmware_name),
        cmocka_unit_test(test_up_to_date),     cmocka_unit_test(test_not_up_to_date),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_filesystem),
        cmocka_unit_test(test_digests_at_load), cmocka_unit_test(test_appended_digest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

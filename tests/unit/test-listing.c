/* SPDX-License-Identifier: MIT */
/* The /firmwares listing as text and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"

static struct generation gen = {
    .size = 1000, .crc = 0x1F52FD1C, .nblocks = 4, .etag = "\"1f52fd1c-3e8\"",
    .loaded = 1795791845, /* 2026-11-27T15:04:05Z */
    .manifest_error = -ENOENT,
    /* Of tests/vectors/vec.bin, the image whose CRC and size these are, as
     * if it were one the ESP updaters can be served (generation.h). */
    .has_digests = true,
    .md5 = {0x47, 0xc5, 0x10, 0xac, 0xfd, 0x16, 0x94, 0x41,
            0x87, 0xe9, 0xc3, 0xff, 0x94, 0xda, 0x4e, 0xdf},
    .sha256 = {0x86, 0xfe, 0xb6, 0x33, 0x9f, 0x5e, 0xc6, 0x93, 0x9c, 0xc9, 0xe4,
               0x88, 0xba, 0xd5, 0x25, 0xb0, 0x4f, 0x8f, 0x5d, 0x09, 0xad, 0x32,
               0xdb, 0x43, 0x13, 0x27, 0x07, 0x74, 0x32, 0x05, 0x1a, 0x09},
};

static struct image make(const char *name, const char *bin, uint32_t version,
                         enum version_source src)
{
    static char txt[8][64];
    static int k;
    char *t = txt[k++ % 8]; /* the last 8 images' stay valid */
    struct image img = {0};

    snprintf(t, sizeof(txt[0]), "%s.txt", name);
    img.name = (char *)name;
    img.bin_file = (char *)bin;
    img.version_file = t;
    img.version = version;
    img.version_source = src;
    img.gen = &gen;
    return img;
}

static char *render(const struct catalog_item *list, size_t n, enum listing_format fmt)
{
    char *out;
    size_t len;

    assert_int_equal(listing_render(list, n, fmt, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_text(void **state)
{
    struct image a = make("app", "app.bin", 7, VERSION_FROM_FILE);
    struct image b = make("boot", "boot.BIN", 1, VERSION_FILE_MISSING);
    struct catalog_item list[] = {{&a, 0}, {&b, 2}};
    char *out = render(list, 2, LISTING_TEXT);

    (void)state;
    assert_string_equal(out, "app\n"
                             "  version: 7 (from app.txt)\n"
                             "  signed: no\n"
                             "  size: 1000 bytes\n"
                             "  crc32: 0x1F52FD1C\n"
                             "  md5: 47c510acfd16944187e9c3ff94da4edf\n"
                             "  sha256: 86feb6339f5ec6939cc9e488bad525b0"
                             "4f8f5d09ad32db431327077432051a09\n"
                             "  blocks: 4 x 256 bytes\n"
                             "  files: app.bin + app.txt\n"
                             "  generation: \"1f52fd1c-3e8\" loaded 2026-11-27T15:04:05Z\n"
                             "  retained: 0 older generations\n"
                             "\n"
                             "boot\n"
                             "  version: 1 (default: boot.txt missing)\n"
                             "  signed: no\n"
                             "  size: 1000 bytes\n"
                             "  crc32: 0x1F52FD1C\n"
                             "  md5: 47c510acfd16944187e9c3ff94da4edf\n"
                             "  sha256: 86feb6339f5ec6939cc9e488bad525b0"
                             "4f8f5d09ad32db431327077432051a09\n"
                             "  blocks: 4 x 256 bytes\n"
                             "  files: boot.BIN + boot.txt\n"
                             "  generation: \"1f52fd1c-3e8\" loaded 2026-11-27T15:04:05Z\n"
                             "  retained: 2 older generations\n"
                             "\n");
    free(out);
}

static void test_json(void **state)
{
    struct image a = make("a\"b\\c\x01", "x.bin", 3, VERSION_FILE_INVALID);
    struct catalog_item list[] = {{&a, 1}};
    char *out = render(list, 1, LISTING_JSON);

    (void)state;
    assert_string_equal(out, "[\n{\"name\":\"a\\\"b\\\\c\\u0001\",\"url_name\":\"a%22b%5Cc%01\","
                             "\"version\":3,"
                             "\"version_source\":\"default\",\"size\":1000,"
                             "\"crc32\":525532444,\"crc32_hex\":\"0x1F52FD1C\","
                             "\"md5\":\"47c510acfd16944187e9c3ff94da4edf\","
                             "\"sha256\":\"86feb6339f5ec6939cc9e488bad525b0"
                             "4f8f5d09ad32db431327077432051a09\","
                             "\"blocks\":4,\"block_size\":256,\"bin_file\":\"x.bin\","
                             "\"version_file\":\"a\\\"b\\\\c\\u0001.txt\","
                             "\"etag\":\"\\\"1f52fd1c-3e8\\\"\",\"loaded\":\"2026-11-27T15:04:05Z\","
                             "\"retained\":1,\"signed\":false,\"key_id\":null}\n]\n");
    free(out);
}

/* A manifest verified shows its key id; one served unverified (no keys)
 * says so; JSON tells both apart by key_id. */
static void test_signed(void **state)
{
    struct generation sg = gen;
    struct image v = make("v", "v.bin", 2, VERSION_FROM_FILE);
    struct image u = make("u", "u.bin", 2, VERSION_FROM_FILE);
    struct catalog_item list[] = {{&u, 0}, {&v, 0}};
    char *out;

    (void)state;
    sg.manifest_error = 0;
    v.gen = u.gen = &sg;
    v.verified = true;
    memcpy(v.key_id, "\x01\x23\x45\x67\x89\xab\xcd\xef", OTA_MANIFEST_KEY_ID);
    out = render(list, 2, LISTING_TEXT);
    assert_non_null(strstr(out, "u\n  version: 2 (from u.txt)\n"
                                "  signed: yes, not verified (no signing.keys)\n"));
    assert_non_null(strstr(out, "v\n  version: 2 (from v.txt)\n"
                                "  signed: yes, key 0123456789abcdef\n"));
    free(out);
    out = render(list, 2, LISTING_JSON);
    assert_non_null(strstr(out, "\"name\":\"u\","));
    assert_non_null(strstr(out, "\"signed\":true,\"key_id\":null},\n"));
    assert_non_null(strstr(out, "\"signed\":true,\"key_id\":\"0123456789abcdef\"}\n]"));
    free(out);
}

/* An image no ESP updater can be served has no digests: the text says so,
 * the JSON has null. */
static void test_no_digests(void **state)
{
    struct generation plain = gen;
    struct image a = make("stm", "stm.bin", 2, VERSION_FROM_FILE);
    struct catalog_item list[] = {{&a, 0}};
    char *out;

    (void)state;
    plain.has_digests = false;
    a.gen = &plain;
    out = render(list, 1, LISTING_TEXT);
    assert_non_null(strstr(out, "  crc32: 0x1F52FD1C\n"
                                "  md5: not made (not an ESP image)\n"
                                "  sha256: not made (not an ESP image)\n"
                                "  blocks: "));
    free(out);
    out = render(list, 1, LISTING_JSON);
    assert_non_null(strstr(out, "\"crc32_hex\":\"0x1F52FD1C\",\"md5\":null,\"sha256\":null,"));
    free(out);
}

/* Names the catalog would not serve: whatever the bytes, the text listing
 * keeps one name line per image and the JSON stays JSON. */
static void test_unprintable_names(void **state)
{
    struct image a = make("fake\n  version: 999", "fake\n  version: 999.bin", 2,
                          VERSION_FROM_FILE);
    struct image b = make("\xff\xfe" "bad\x7f\xc2\x9b", "\xff\xfe.bin", 1, VERSION_FROM_FILE);
    struct catalog_item list[] = {{&a, 0}, {&b, 0}};
    char *out = render(list, 2, LISTING_TEXT);

    (void)state;
    assert_non_null(strstr(out, "fake\\x0a  version: 999\n  version: 2 "
                                "(from fake\\x0a  version: 999.txt)\n"));
    assert_non_null(strstr(out, "  files: fake\\x0a  version: 999.bin + "
                                "fake\\x0a  version: 999.txt\n"));
    assert_null(strstr(out, "\n  version: 999"));
    assert_non_null(strstr(out, "\n\\xff\\xfebad\\x7f\\xc2\\x9b\n  version: 1 "));
    free(out);
    out = render(list, 2, LISTING_JSON);
    assert_non_null(strstr(out, "{\"name\":\"fake\\n  version: 999\","));
    /* U+FFFD for each stray byte; DEL and U+009B are valid JSON as they are. */
    assert_non_null(strstr(out, "{\"name\":\"\xef\xbf\xbd\xef\xbf\xbd" "bad\x7f\xc2\x9b\","
                                "\"url_name\":\"%FF%FEbad%7F%C2%9B\","));
    assert_non_null(strstr(out, "\"bin_file\":\"\xef\xbf\xbd\xef\xbf\xbd.bin\","));
    for (const char *p = out; *p != '\0'; p++)
        assert_true((unsigned char)*p >= 0x20 || *p == '\n');
    free(out);
}

/* 0xFF never starts a character; 0xC3 0x28 is a lead byte followed by '(':
 * each stray byte is one U+FFFD, and url_name still names the exact bytes. */
static void test_invalid_utf8(void **state)
{
    struct image a = make("a\xff\xc3\x28z", "a\xff\xc3\x28z.bin", 1, VERSION_FROM_FILE);
    struct catalog_item list[] = {{&a, 0}};
    char *out = render(list, 1, LISTING_JSON);

    (void)state;
    assert_non_null(strstr(out, "{\"name\":\"a\xef\xbf\xbd\xef\xbf\xbd(z\","
                                "\"url_name\":\"a%FF%C3%28z\","));
    assert_non_null(strstr(out, "\"bin_file\":\"a\xef\xbf\xbd\xef\xbf\xbd(z.bin\","));
    free(out);
}

static void test_utf8_names(void **state)
{
    struct image a = make("Pr\xc3\xbc" "fung", "Pr\xc3\xbc" "fung.bin", 1, VERSION_FROM_FILE);
    struct image b = make("\xe5\x9b\xba\xe4\xbb\xb6", "\xe5\x9b\xba\xe4\xbb\xb6.bin", 1,
                          VERSION_FROM_FILE);
    struct catalog_item list[] = {{&a, 0}, {&b, 0}};
    char *out = render(list, 2, LISTING_TEXT);

    (void)state;
    assert_int_equal(strncmp(out, "Pr\xc3\xbc" "fung\n", 9), 0);
    assert_non_null(strstr(out, "\n\xe5\x9b\xba\xe4\xbb\xb6\n  version: 1 "));
    free(out);
    out = render(list, 2, LISTING_JSON);
    assert_non_null(strstr(out, "{\"name\":\"Pr\xc3\xbc" "fung\",\"url_name\":\"Pr%C3%BCfung\","));
    assert_non_null(strstr(out, "{\"name\":\"\xe5\x9b\xba\xe4\xbb\xb6\","));
    free(out);
}

static void test_empty(void **state)
{
    char *out;

    (void)state;
    out = render(NULL, 0, LISTING_TEXT);
    assert_string_equal(out, "no firmware\n");
    free(out);
    out = render(NULL, 0, LISTING_JSON);
    assert_string_equal(out, "[]\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_no_digests),
        cmocka_unit_test(test_unprintable_names),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_utf8_names),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

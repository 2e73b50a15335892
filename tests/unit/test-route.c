/* SPDX-License-Identifier: MIT */
/* Path routing: which endpoint a decoded request path names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "route.h"

static struct route parse(const char *path)
{
    struct route r;

    route_parse(path, strlen(path), &r);
    return r;
}

static void assert_name(const struct route *r, const char *name)
{
    assert_int_equal(r->name_len, strlen(name));
    assert_memory_equal(r->name, name, r->name_len);
}

static void test_listing(void **state)
{
    (void)state;
    assert_int_equal(parse("/firmwares").kind, ROUTE_LISTING);
    assert_int_equal(parse("/firmwares/").kind, ROUTE_NONE);
    assert_int_equal(parse("/firmware").kind, ROUTE_NONE);
}

static void test_header(void **state)
{
    struct route r = parse("/app/header");

    (void)state;
    assert_int_equal(r.kind, ROUTE_HEADER);
    assert_name(&r, "app");
    r = parse("/my fw/header");
    assert_int_equal(r.kind, ROUTE_HEADER);
    assert_name(&r, "my fw");
    /* The seed bootloader's default firmware name. */
    r = parse("/firmware/header");
    assert_int_equal(r.kind, ROUTE_HEADER);
    assert_name(&r, "firmware");
}

static void test_manifest(void **state)
{
    struct route r = parse("/app/manifest");

    (void)state;
    assert_int_equal(r.kind, ROUTE_MANIFEST);
    assert_name(&r, "app");
}

static void test_report(void **state)
{
    struct route r = parse("/app/report");

    (void)state;
    assert_int_equal(r.kind, ROUTE_REPORT);
    assert_name(&r, "app");
    assert_int_equal(parse("/firmware/report").kind, ROUTE_REPORT);
    /* Not an image of a firmware called "report". */
    assert_int_equal(parse("/firmware/report.bin").kind, ROUTE_IMAGE);
}

/* The admin listener's paths are no endpoint of the device port. */
static void test_admin_paths(void **state)
{
    static const char *const paths[] = {"/devices", "/devices/", "/devices/0123abcd",
                                        "/metrics", "/metrics/"};

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        assert_int_equal(parse(paths[i]).kind, ROUTE_NONE);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(route_kind_name(ROUTE_NONE), "none");
    assert_string_equal(route_kind_name(ROUTE_LISTING), "listing");
    assert_string_equal(route_kind_name(ROUTE_HEADER), "header");
    assert_string_equal(route_kind_name(ROUTE_BLOCK), "block");
    assert_string_equal(route_kind_name(ROUTE_IMAGE), "image");
    assert_string_equal(route_kind_name(ROUTE_MANIFEST), "manifest");
    assert_string_equal(route_kind_name(ROUTE_REPORT), "report");
    assert_string_equal(route_kind_name((enum route_kind)ROUTE_KINDS), "none");
}

static void test_block_indexes(void **state)
{
    struct route r;

    (void)state;
    r = parse("/app/block/0");
    assert_int_equal(r.kind, ROUTE_BLOCK);
    assert_name(&r, "app");
    assert_int_equal(r.index, 0);
    r = parse("/app/block/007");
    assert_int_equal(r.kind, ROUTE_BLOCK);
    assert_int_equal(r.index, 7);
    r = parse("/app/block/4294967295");
    assert_int_equal(r.index, 4294967295u);
    r = parse("/app/block/9999999999");
    assert_int_equal(r.index, 9999999999u);
    /* 40 digits: a valid index form, beyond every image. */
    r = parse("/app/block/1234567890123456789012345678901234567890");
    assert_int_equal(r.kind, ROUTE_BLOCK);
    assert_true(r.index == ROUTE_INDEX_HUGE);
    /* Leading zeros do not make a small number huge. */
    r = parse("/app/block/00000000000000000000000000000000000000012");
    assert_int_equal(r.index, 12);
    r = parse("/block/block/3");
    assert_int_equal(r.kind, ROUTE_BLOCK);
    assert_name(&r, "block");
}

static void test_image(void **state)
{
    struct route r = parse("/app/image");

    (void)state;
    assert_int_equal(r.kind, ROUTE_IMAGE);
    assert_name(&r, "app");
    /* The layout of the usual ESP32 OTA servers. */
    r = parse("/firmware/app.bin");
    assert_int_equal(r.kind, ROUTE_IMAGE);
    assert_name(&r, "app");
    r = parse("/firmware/my fw.bin");
    assert_int_equal(r.kind, ROUTE_IMAGE);
    assert_name(&r, "my fw");
    /* A firmware called "firmware" keeps its own endpoints. */
    assert_int_equal(parse("/firmware/header").kind, ROUTE_HEADER);
    assert_int_equal(parse("/firmware/block/1").kind, ROUTE_BLOCK);
    assert_int_equal(parse("/firmware/image").kind, ROUTE_IMAGE);
    assert_int_equal(parse("/firmware/manifest").kind, ROUTE_MANIFEST);
    assert_int_equal(parse("/firmware/.bin").kind, ROUTE_NONE);
    assert_int_equal(parse("/firmware/a/b.bin").kind, ROUTE_NONE);
    assert_int_equal(parse("/other/app.bin").kind, ROUTE_NONE);
    assert_int_equal(parse("/app/image/").kind, ROUTE_NONE);
}

static void test_not_found(void **state)
{
    static const char *const paths[] = {
        "", "/", "//", "//header", "//manifest", "/app/manifest/", "/app/manifests",
        "/app/Manifest", "/app", "/app/", "/app/header/", "/app/headers",
        "/app/block", "/app/block/", "/app/block/-1", "/app/block/+1", "/app/block/0x1",
        "/app/block/ 1", "/app/block/1 ", "/app/block/1.0", "/app/block/1/",
        "/app/block//1", "/a/b/header", "/../header", "/app/../header", "app/header",
        "/app/BLOCK/1", "/app/Header", "/app/report/", "/app/reports", "/app/Report",
        "//report",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct route r = parse(paths[i]);

        if (strcmp(paths[i], "/../header") == 0) {
            /* ".." is just a name that no file can have: not found later. */
            assert_int_equal(r.kind, ROUTE_HEADER);
            continue;
        }
        assert_int_equal(r.kind, ROUTE_NONE);
        assert_null(r.name);
    }
}

static void test_embedded_nul(void **state)
{
    struct route r;

    (void)state;
    route_parse("/a\0b/header", 11, &r);
    assert_int_equal(r.kind, ROUTE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_admin_paths),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_block_indexes),
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_embedded_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

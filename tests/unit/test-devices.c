/* SPDX-License-Identifier: MIT */
/* /devices and /devices/ID as text and JSON, from devices the tests make. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

/* 2026-12-01T19:04:29.123Z */
#define T0 1796151869123LL

static struct fleet_device device(const char *id)
{
    struct fleet_device d = {
        .address = "192.0.2.7",
        .firmware = "app",
        .first_seen_ms = T0,
        .last_seen_ms = T0 + 61877, /* 19:05:31.000 */
        .has_installed = true,
        .installed = 6,
        .offered = 7,
        .state = FLEET_DOWNLOADING,
        .blocks_total = 40,
        .blocks_served = 13,
        .bytes = 3380,
        .rate = 1500,
        .download_size = 40 * 260,
        .download_done = 13 * 260,
        .download_started_ms = T0 + 1000,
        .seq = 42,
    };

    snprintf(d.id, sizeof(d.id), "%s", id);
    return d;
}

static char *render(const struct fleet_device *list, size_t n, enum listing_format fmt)
{
    char *out;
    size_t len;

    assert_int_equal(devices_render(list, n, fmt, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_json(void **state)
{
    struct fleet_device d[2] = {device("0123456789abcdef01234567"), device("192.0.2.9")};
    char *out;

    (void)state;
    d[1].by_address = true;
    snprintf(d[1].address, sizeof(d[1].address), "192.0.2.9");
    d[1].has_installed = false;
    d[1].state = FLEET_CHECKING;
    d[1].blocks_total = d[1].blocks_served = 0;
    d[1].bytes = d[1].rate = d[1].download_size = d[1].download_done = 0;
    d[1].download_started_ms = 0;
    d[1].has_report = true;
    d[1].last_report = (struct fleet_event){.at_ms = T0 + 5, .is_report = true,
                                            .status = FLEET_REPORT_FAILED,
                                            .reason = FLEET_REASON_CRC, .version = 7};
    out = render(d, 2, LISTING_JSON);
    assert_string_equal(
        out,
        "[\n"
        "{\"id\":\"0123456789abcdef01234567\",\"by_address\":false,\"address\":\"192.0.2.7\","
        "\"firmware\":\"app\",\"state\":\"downloading\",\"installed\":6,\"offered\":7,"
        "\"blocks_total\":40,\"blocks_served\":13,\"percent\":32,\"bytes\":3380,\"rate\":1500,"
        "\"download_size\":10400,\"download_done\":3380,"
        "\"first_seen\":\"2026-12-01T19:04:29.123Z\",\"first_seen_ms\":1796151869123,"
        "\"last_seen\":\"2026-12-01T19:05:31.000Z\",\"last_seen_ms\":1796151931000,"
        "\"download_started\":\"2026-12-01T19:04:30.123Z\","
        "\"download_started_ms\":1796151870123,\"last_report\":null,\"seq\":42},\n"
        "{\"id\":\"192.0.2.9\",\"by_address\":true,\"address\":\"192.0.2.9\","
        "\"firmware\":\"app\",\"state\":\"checking\",\"installed\":null,\"offered\":7,"
        "\"blocks_total\":0,\"blocks_served\":0,\"percent\":0,\"bytes\":0,\"rate\":0,"
        "\"download_size\":0,\"download_done\":0,"
        "\"first_seen\":\"2026-12-01T19:04:29.123Z\",\"first_seen_ms\":1796151869123,"
        "\"last_seen\":\"2026-12-01T19:05:31.000Z\",\"last_seen_ms\":1796151931000,"
        "\"download_started\":null,\"download_started_ms\":null,"
        "\"last_report\":{\"at\":\"2026-12-01T19:04:29.128Z\",\"at_ms\":1796151869128,"
        "\"type\":\"report\",\"status\":\"failed\",\"reason\":\"crc\",\"version\":7},"
        "\"seq\":42}\n"
        "]\n");
    free(out);
    out = render(NULL, 0, LISTING_JSON);
    assert_string_equal(out, "[]\n");
    free(out);
}

static void test_text(void **state)
{
    struct fleet_device d = device("dev-1");
    char *out;

    (void)state;
    d.has_report = true;
    d.last_report = (struct fleet_event){.at_ms = T0, .is_report = true,
                                         .status = FLEET_REPORT_INSTALLED, .version = 7};
    out = render(&d, 1, LISTING_TEXT);
    assert_string_equal(out, "dev-1\n"
                             "  address: 192.0.2.7\n"
                             "  firmware: app\n"
                             "  state: downloading\n"
                             "  installed: 6\n"
                             "  offered: 7\n"
                             "  blocks: 13 of 40 (32%)\n"
                             "  bytes: 3380 at 1500 bytes/s\n"
                             "  download started: 2026-12-01T19:04:30.123Z\n"
                             "  seen: 2026-12-01T19:04:29.123Z to 2026-12-01T19:05:31.000Z\n"
                             "  last report: 2026-12-01T19:04:29.123Z report installed, "
                             "version 7\n"
                             "\n");
    free(out);
    out = render(NULL, 0, LISTING_TEXT);
    assert_string_equal(out, "no devices\n");
    free(out);
}

/* A name that is not UTF-8 stays JSON, and cannot forge a line of text. */
static void test_untrusted_bytes(void **state)
{
    struct fleet_device d = device("x");
    char *out;

    (void)state;
    snprintf(d.firmware, sizeof(d.firmware), "a\xff\xc3\x28\nstate: up-to-date");
    out = render(&d, 1, LISTING_JSON);
    assert_non_null(strstr(out, "\"firmware\":\"a\xef\xbf\xbd\xef\xbf\xbd(\\nstate: up-to-date\","));
    free(out);
    out = render(&d, 1, LISTING_TEXT);
    assert_non_null(strstr(out, "  firmware: a\\xff\\xc3(\\x0astate: up-to-date\n"));
    free(out);
}

static void test_one(void **state)
{
    struct fleet_device d = device("dev-1");
    struct fleet_event ev[] = {
        {.at_ms = T0, .state = FLEET_CHECKING, .version = 7},
        {.at_ms = T0 + 1000, .state = FLEET_DOWNLOADING, .version = 7},
        {.at_ms = T0 + 2000, .is_report = true, .status = FLEET_REPORT_REVERTED,
         .reason = FLEET_REASON_TIMEOUT, .version = 6},
    };
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(devices_render_one(&d, ev, 3, LISTING_JSON, &out, &len), 0);
    assert_non_null(strstr(out, "\"seq\":42,\"events\":["
                                "{\"at\":\"2026-12-01T19:04:29.123Z\",\"at_ms\":1796151869123,"
                                "\"type\":\"state\",\"state\":\"checking\",\"version\":7},"
                                "{\"at\":\"2026-12-01T19:04:30.123Z\",\"at_ms\":1796151870123,"
                                "\"type\":\"state\",\"state\":\"downloading\",\"version\":7},"
                                "{\"at\":\"2026-12-01T19:04:31.123Z\",\"at_ms\":1796151871123,"
                                "\"type\":\"report\",\"status\":\"reverted\","
                                "\"reason\":\"timeout\",\"version\":6}]}\n"));
    assert_int_equal(strncmp(out, "{\"id\":\"dev-1\",", 14), 0);
    free(out);
    assert_int_equal(devices_render_one(&d, ev, 3, LISTING_TEXT, &out, &len), 0);
    assert_non_null(strstr(out, "  events:\n"
                                "    2026-12-01T19:04:29.123Z state checking, version 7\n"
                                "    2026-12-01T19:04:30.123Z state downloading, version 7\n"
                                "    2026-12-01T19:04:31.123Z report reverted, version 6, "
                                "reason timeout\n"));
    free(out);
}

/* Times around leap days and century years, as Python's datetime gives them. */
static void test_times(void **state)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {68169600000, "1972-02-29T00:00:00.000Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},
        {951868799999, "2000-02-29T23:59:59.999Z"},
        {1709164800123, "2024-02-29T00:00:00.123Z"},
        {1709251199999, "2024-02-29T23:59:59.999Z"},
        {1798761599999, "2026-12-31T23:59:59.999Z"},
        {4107456000000, "2100-02-28T00:00:00.000Z"},
        {4107542400000, "2100-03-01T00:00:00.000Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
    };
    char want[64], *out;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fleet_device d = device("t");

        d.first_seen_ms = cases[i].ms;
        out = render(&d, 1, LISTING_JSON);
        snprintf(want, sizeof(want), "\"first_seen\":\"%s\",", cases[i].text);
        if (strstr(out, want) == NULL)
            fail_msg("%lld: no %s in %s", (long long)cases[i].ms, want, out);
        free(out);
    }
}

static void test_sort(void **state)
{
    struct fleet_device d[3] = {device("c"), device("a"), device("b")};

    (void)state;
    devices_sort(d, 3, (struct devices_order){DEVICES_BY_ID, false});
    assert_string_equal(d[0].id, "a");
    assert_string_equal(d[1].id, "b");
    assert_string_equal(d[2].id, "c");
}

/* Each ?sort= key, both ways, ties by id. */
static void test_orders(void **state)
{
    struct fleet_device d[3] = {device("a"), device("b"), device("c")};
    struct devices_order o;
    char got[4];

    (void)state;
    d[0].blocks_served = 40;  /* 100 % */
    d[1].blocks_served = 2;   /* 5 % */
    d[0].rate = 10;
    d[2].rate = 99;
    d[1].state = FLEET_STALLED;
    d[2].state = FLEET_CHECKING;
    d[2].last_seen_ms = T0;
    snprintf(d[1].firmware, sizeof(d[1].firmware), "%s", "boot");
    static const struct {
        const char *sort, *expect;
    } cases[] = {
        {"percent", "bca"}, {"-percent", "acb"}, {"rate", "acb"}, {"-rate", "bca"},
        {"state", "cab"},   {"-state", "bac"},   {"firmware", "acb"}, {"last_seen", "cab"},
        {"-id", "cba"},     {NULL, "abc"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(devices_order_parse(cases[i].sort, &o), 0);
        devices_sort(d, 3, o);
        for (int j = 0; j < 3; j++)
            got[j] = d[j].id[0];
        got[3] = 0;
        assert_string_equal(got, cases[i].expect);
    }
    assert_int_equal(devices_order_parse("size", &o), -EINVAL);
    assert_int_equal(devices_order_parse("-", &o), -EINVAL);
    assert_int_equal(devices_order_parse("", &o), -EINVAL);
}

/* An image download (no blocks) has its percent from its bytes. */
static void test_image_percent(void **state)
{
    struct fleet_device d = device("esp");
    char *out;

    (void)state;
    d.blocks_total = d.blocks_served = 0;
    d.download_size = 4000;
    d.download_done = 1000;
    out = render(&d, 1, LISTING_JSON);
    assert_non_null(strstr(out, "\"percent\":25,"));
    assert_non_null(strstr(out, "\"download_size\":4000,\"download_done\":1000,"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_untrusted_bytes),
        cmocka_unit_test(test_one),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_image_percent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The Prometheus text of /metrics, from counters and a view the tests fill
 * themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static struct generation gen = {.size = 1000, .crc = 0x1F52FD1C, .nblocks = 4,
                                .manifest_error = -2};

static char *render(const struct metrics *m, const struct metrics_view *v)
{
    char *out;
    size_t len;

    assert_int_equal(metrics_render(m, v, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

/* @line is a whole line of @out. */
static void has_line(const char *out, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = out; (p = strstr(p, line)) != NULL; p++)
        if ((p == out || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("no line \"%s\" in:\n%s", line, out);
}

static void test_requests(void **state)
{
    struct metrics *m;
    struct metrics_view v = {0};
    char *out;

    (void)state;
    assert_int_equal(metrics_new(&m), 0);
    for (int i = 0; i < 3; i++)
        metrics_request(m, ROUTE_BLOCK, 200, 260);
    metrics_request(m, ROUTE_BLOCK, 416, 0);
    metrics_request(m, ROUTE_HEADER, 404, 10);
    metrics_request(m, ROUTE_NONE, 599, 0);
    metrics_connection(m, 1);
    metrics_connection(m, 1);
    metrics_connection(m, -1);
    out = render(m, &v);
    has_line(out, "# HELP otad_requests_total Device-port requests answered, by endpoint and "
                  "status.");
    has_line(out, "# TYPE otad_requests_total counter");
    has_line(out, "otad_requests_total{endpoint=\"block\",status=\"200\"} 3");
    has_line(out, "otad_requests_total{endpoint=\"block\",status=\"416\"} 1");
    has_line(out, "otad_requests_total{endpoint=\"header\",status=\"404\"} 1");
    has_line(out, "otad_requests_total{endpoint=\"none\",status=\"other\"} 1");
    assert_null(strstr(out, "status=\"206\""));
    has_line(out, "otad_response_bytes_total{endpoint=\"block\"} 780");
    has_line(out, "otad_response_bytes_total{endpoint=\"header\"} 10");
    has_line(out, "otad_response_bytes_total{endpoint=\"image\"} 0");
    has_line(out, "# TYPE otad_connections gauge");
    has_line(out, "otad_connections 1");
    free(out);
    metrics_free(m);
}

static void test_reloads(void **state)
{
    struct metrics *m;
    struct metrics_view v = {0};
    char *out;

    (void)state;
    assert_int_equal(metrics_new(&m), 0);
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_ADDED});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_ADDED});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_REPLACED});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_SKIPPED});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_DUPLICATE});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_WRITING});
    metrics_catalog(m, &(struct catalog_change){.event = CATALOG_DROPPED});
    out = render(m, &v);
    has_line(out, "otad_reloads_total{result=\"added\"} 2");
    has_line(out, "otad_reloads_total{result=\"replaced\"} 1");
    has_line(out, "otad_reloads_total{result=\"version\"} 0");
    has_line(out, "otad_reloads_total{result=\"removed\"} 0");
    has_line(out, "otad_reloads_total{result=\"failed\"} 2");
    has_line(out, "otad_reloads_total{result=\"deferred\"} 1");
    free(out);
    metrics_free(m);
}

static void test_firmwares(void **state)
{
    struct generation sg = gen;
    struct image a = {.name = "app", .version = 7, .gen = &gen};
    struct image b = {.name = "q\"\\\n\xff", .version = 1, .gen = &sg, .verified = true,
                      .key_id = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
    struct catalog_item list[] = {{&a, 0}, {&b, 0}};
    struct metrics_view v = {.firmwares = list, .nfirmwares = 2, .catalog_memory = 123456};
    struct metrics *m;
    char *out;

    (void)state;
    sg.manifest_error = 0;
    assert_int_equal(metrics_new(&m), 0);
    out = render(m, &v);
    has_line(out, "# TYPE otad_firmware_info gauge");
    has_line(out, "otad_firmware_info{name=\"app\",version=\"7\",crc=\"0x1F52FD1C\","
                  "signed=\"false\",key_id=\"\"} 1");
    /* Quote, backslash and newline escaped; the stray byte is U+FFFD. */
    has_line(out, "otad_firmware_info{name=\"q\\\"\\\\\\n\xef\xbf\xbd\",version=\"1\","
                  "crc=\"0x1F52FD1C\",signed=\"true\",key_id=\"0123456789abcdef\"} 1");
    has_line(out, "otad_catalog_memory_bytes 123456");
    free(out);
    metrics_free(m);
}

static void test_fleet(void **state)
{
    struct metrics_tally tally[] = {
        {.firmware = "app", .state = FLEET_DOWNLOADING, .n = 4},
        {.firmware = "app", .state = FLEET_UP_TO_DATE, .n = 9},
        {.firmware = "b\xc3\x28", .state = FLEET_STALLED, .n = 1},
    };
    struct metrics_view v = {.tally = tally, .ntally = 3};
    struct metrics *m;
    char *out, line[128];
    uint64_t le = 0;

    (void)state;
    v.counts.downloads_started = 12;
    v.counts.downloads_completed = 10;
    v.counts.reports[FLEET_REPORT_INSTALLED] = 5;
    v.counts.reports[FLEET_REPORT_FAILED] = 2;
    v.counts.devices_evicted = 3;
    for (size_t i = 0; i < 8; i++)
        v.counts.duration_le[i] = le += i;
    v.counts.duration_count = 30;
    v.counts.duration_sum_ms = 61250;
    assert_int_equal(metrics_new(&m), 0);
    out = render(m, &v);
    has_line(out, "# TYPE otad_devices gauge");
    has_line(out, "otad_devices{firmware=\"app\",state=\"downloading\"} 4");
    has_line(out, "otad_devices{firmware=\"app\",state=\"up-to-date\"} 9");
    has_line(out, "otad_devices{firmware=\"b\xef\xbf\xbd(\",state=\"stalled\"} 1");
    has_line(out, "otad_downloads_started_total 12");
    has_line(out, "otad_downloads_completed_total 10");
    has_line(out, "# TYPE otad_download_duration_seconds histogram");
    le = 0;
    for (size_t i = 0; i < 8; i++) {
        /* The bound in seconds as a C double prints it, e.g. 0.5, 10. */
        snprintf(line, sizeof(line), "otad_download_duration_seconds_bucket{le=\"%g\"} %u",
                 fleet_duration_bounds_ms[i] / 1000.0, (unsigned)(le += i));
        has_line(out, line);
    }
    has_line(out, "otad_download_duration_seconds_bucket{le=\"+Inf\"} 30");
    has_line(out, "otad_download_duration_seconds_sum 61.25");
    has_line(out, "otad_download_duration_seconds_count 30");
    has_line(out, "otad_reports_total{status=\"installed\"} 5");
    has_line(out, "otad_reports_total{status=\"failed\"} 2");
    has_line(out, "otad_reports_total{status=\"confirmed\"} 0");
    has_line(out, "otad_devices_evicted_total 3");
    free(out);
    metrics_free(m);
}

/* Every family has its HELP and TYPE before its first sample. */
static void test_families(void **state)
{
    struct metrics *m;
    struct metrics_view v = {0};
    char *out, *save = NULL, typed[64] = "";

    (void)state;
    assert_int_equal(metrics_new(&m), 0);
    metrics_request(m, ROUTE_LISTING, 200, 1);
    out = render(m, &v);
    assert_int_equal(out[strlen(out) - 1], '\n');
    for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "# TYPE ", 7) == 0) {
            snprintf(typed, sizeof(typed), "%.*s", (int)strcspn(l + 7, " "), l + 7);
        } else if (l[0] != '#') {
            assert_int_equal(strncmp(l, "otad_", 5), 0);
            assert_int_equal(strncmp(l, typed, strlen(typed)), 0);
        }
    }
    free(out);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_reloads),
        cmocka_unit_test(test_firmwares),
        cmocka_unit_test(test_fleet),
        cmocka_unit_test(test_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

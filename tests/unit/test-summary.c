/* SPDX-License-Identifier: MIT */
/* /summary's JSON, from firmwares and counts the tests make, and the page's
 * files as the build embedded them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"
#include "summary.h"

static char *render(int64_t now, const struct fleet_counts *c, struct fleet_firmware *list,
                    size_t n)
{
    char *out;
    size_t len;

    assert_int_equal(summary_render(now, c, list, n, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_summary(void **state)
{
    struct fleet_counts c = {.devices = {3, 2, 1, 0, 4}, .downloads_started = 9,
                             .downloads_completed = 5};
    struct fleet_firmware fw[2] = {{.name = "zeta", .devices = {1, 0, 0, 0, 0}},
                                   {.name = "<b>a b</b>", .devices = {2, 2, 1, 0, 4},
                                    .completed = 5,
                                    .timeline = {.start_ms = 1000, .bucket_ms = 2000,
                                                 .counts = {3, 0, 2}}}};
    char *out;
    char expect[1024];

    (void)state;
    out = render(123456, &c, fw, 2);
    snprintf(expect, sizeof(expect),
             "{\"now_ms\":123456,"
             "\"devices\":{\"checking\":3,\"downloading\":2,\"downloaded\":1,\"stalled\":0,"
             "\"up-to-date\":4},\"downloads_started\":9,\"downloads_completed\":5,"
             "\"firmwares\":["
             "{\"name\":\"<b>a b</b>\",\"url_name\":\"%%3Cb%%3Ea%%20b%%3C%%2Fb%%3E\","
             "\"devices\":{\"checking\":2,\"downloading\":2,\"downloaded\":1,\"stalled\":0,"
             "\"up-to-date\":4},\"completed\":5,\"timeline\":{\"start_ms\":1000,"
             "\"bucket_ms\":2000,\"counts\":[3,0,2%s]}},"
             "{\"name\":\"zeta\",\"url_name\":\"zeta\","
             "\"devices\":{\"checking\":1,\"downloading\":0,\"downloaded\":0,\"stalled\":0,"
             "\"up-to-date\":0},\"completed\":0,\"timeline\":null}]}\n",
             ",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
             "0,0,0,0,0");
    assert_string_equal(out, expect);
    free(out);
    out = render(0, &(struct fleet_counts){0}, NULL, 0);
    assert_non_null(strstr(out, "\"firmwares\":[]}"));
    free(out);
}

/* The three files, at their paths, with their types; nothing else. */
static void test_page_files(void **state)
{
    static const char *const paths[][2] = {
        {"/", "text/html; charset=utf-8"},
        {"/status.css", "text/css; charset=utf-8"},
        {"/status.js", "text/javascript; charset=utf-8"},
    };
    const struct page_asset *a;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(a = page_find(paths[i][0]));
        assert_string_equal(a->type, paths[i][1]);
        assert_true(a->len > 100);
    }
    assert_memory_equal(page_find("/")->data, "<!doctype html>", 15);
    assert_null(page_find("/status.html"));
    assert_null(page_find(""));
    assert_null(page_find("/status.js/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_page_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Range, If-Range and If-None-Match interpretation for the image endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "range.h"

static enum range_result parse(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    *a = *b = 12345;
    return range_parse(v, size, a, b);
}

static void test_forms(void **state)
{
    uint64_t a, b;

    (void)state;
    assert_int_equal(parse(NULL, 1000, &a, &b), RANGE_FULL);
    assert_int_equal(parse("bytes=0-99", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 0 && b == 99);
    assert_int_equal(parse("bytes=500-", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 500 && b == 999);
    assert_int_equal(parse("bytes=-100", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 900 && b == 999);
    assert_int_equal(parse(" bytes=10-20 ", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 10 && b == 20);
    /* No white space inside a range (RFC 9110 grammar): not understood. */
    assert_int_equal(parse("bytes=10 - 20", 1000, &a, &b), RANGE_FULL);
    assert_int_equal(parse("bytes=999-999", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 999 && b == 999);
}

static void test_clamping(void **state)
{
    uint64_t a, b;

    (void)state;
    /* A resumed download may ask one byte past the end. */
    assert_int_equal(parse("bytes=900-1000", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 900 && b == 999);
    assert_int_equal(parse("bytes=0-99999999999999999", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 0 && b == 999);
    assert_int_equal(parse("bytes=5-18446744073709551615", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 5 && b == 999);
    assert_int_equal(parse("bytes=-5000", 1000, &a, &b), RANGE_PARTIAL);
    assert_true(a == 0 && b == 999);
}

static void test_unsatisfiable(void **state)
{
    uint64_t a, b;

    (void)state;
    assert_int_equal(parse("bytes=1000-", 1000, &a, &b), RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=1000-2000", 1000, &a, &b), RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=-0", 1000, &a, &b), RANGE_UNSATISFIABLE);
    /* An empty image has no last bytes, nor any other. */
    assert_int_equal(parse("bytes=-1", 0, &a, &b), RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=-5000", 0, &a, &b), RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=0-", 0, &a, &b), RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=0-0", 0, &a, &b), RANGE_UNSATISFIABLE);
}

/* Not understood, or several ranges: ignored, the whole image is sent. */
static void test_ignored(void **state)
{
    static const char *const ignored[] = {
        "", "bytes", "bytes=", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=1-2-3",
        "bytes=0-1,5-6", "bytes=--1", "bytes=+1-2", "bytes=99999999999999999999999-",
        "bytes=0x10-20",
    };
    uint64_t a, b;

    (void)state;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (parse(ignored[i], 1000, &a, &b) != RANGE_FULL)
            fail_msg("'%s' was not ignored", ignored[i]);
}

static void test_etag_lists(void **state)
{
    const char *e = "\"1f52fd1c-3e8\"";

    (void)state;
    assert_true(etag_list_matches("\"1f52fd1c-3e8\"", e, false));
    assert_true(etag_list_matches("*", e, false));
    assert_true(etag_list_matches("\"x\", \"1f52fd1c-3e8\"", e, false));
    assert_true(etag_list_matches("\"x\",\"1f52fd1c-3e8\"", e, false));
    assert_false(etag_list_matches("\"1f52fd1c-3e9\"", e, false));
    assert_false(etag_list_matches("1f52fd1c-3e8", e, false));
    assert_false(etag_list_matches("W/\"1f52fd1c-3e8\"", e, false));
    assert_true(etag_list_matches("W/\"1f52fd1c-3e8\"", e, true));
    assert_false(etag_list_matches("\"1f52fd1c-3e8", e, false));
    assert_false(etag_list_matches("", e, false));
    /* Optional white space around the list and its elements (RFC 9110 OWS). */
    assert_true(etag_list_matches("* ", e, false));
    assert_true(etag_list_matches("*\t", e, false));
    assert_true(etag_list_matches(" \t*\t ", e, false));
    assert_true(etag_list_matches("\"1f52fd1c-3e8\" \t", e, false));
    assert_true(etag_list_matches("\"x\" \t, \t\"1f52fd1c-3e8\"\t", e, false));
    assert_false(etag_list_matches("* x", e, false));
    assert_false(etag_list_matches("**", e, false));
}

static void test_value_is(void **state)
{
    (void)state;
    assert_true(http_value_is("close", "close"));
    assert_true(http_value_is(" \tclose\t ", "close"));
    assert_false(http_value_is("closer", "close"));
    assert_false(http_value_is("clos", "close"));
    assert_false(http_value_is("close x", "close"));
    assert_false(http_value_is("", "close"));
}

static void test_http_date(void **state)
{
    char buf[32];

    (void)state;
    http_date(784111777, buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date(0, buf);
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date(-1, buf);
    assert_string_equal(buf, "Wed, 31 Dec 1969 23:59:59 GMT");
    /* Four digits, zero-padded, for every year from 0 to 9999. */
    http_date(-30641760000, buf); /* 999-01-01 */
    assert_string_equal(buf, "Tue, 01 Jan 0999 00:00:00 GMT");
    http_date(-62135596800, buf); /* 1-01-01 */
    assert_string_equal(buf, "Mon, 01 Jan 0001 00:00:00 GMT");
    http_date(-62167219200, buf); /* 0-01-01 */
    assert_string_equal(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
    http_date(253402300799, buf); /* 9999-12-31 */
    assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    /* Beyond: the nearest date that can be shown. */
    http_date(253402300800, buf); /* 10000-01-01 */
    assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    http_date(INT64_MAX, buf);
    assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    http_date(-62167219201, buf);
    assert_string_equal(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
    http_date(INT64_MIN, buf);
    assert_string_equal(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
}

/* The decision for an image of 1000 bytes with this ETag, modified at
 * 784111777 (Sun, 06 Nov 1994 08:49:37 GMT). */
static unsigned decide(const char *range, const char *if_range, const char *if_none,
                       uint64_t *a, uint64_t *b)
{
    const struct range_conditions c = {
        .range = range, .if_range = if_range, .if_none_match = if_none};

    *a = *b = 12345;
    return range_decide(&c, "\"1f52fd1c-3e8\"", 784111777, 1000, a, b);
}

static void test_decide(void **state)
{
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT", *etag = "\"1f52fd1c-3e8\"";
    uint64_t a, b;

    (void)state;
    assert_int_equal(decide(NULL, NULL, NULL, &a, &b), 200);
    assert_true(a == 0 && b == 999);
    assert_int_equal(decide("bytes=100-199", NULL, NULL, &a, &b), 206);
    assert_true(a == 100 && b == 199);
    assert_int_equal(decide("bytes=0-9,20-29", NULL, NULL, &a, &b), 200);
    assert_true(a == 0 && b == 999);
    assert_int_equal(decide("bytes=1000-", NULL, NULL, &a, &b), 416);
    assert_true(a == 12345 && b == 12345);
    /* If-Range: the ETag or the exact date keep the range, anything else
     * voids it. */
    assert_int_equal(decide("bytes=-10", etag, NULL, &a, &b), 206);
    assert_true(a == 990 && b == 999);
    assert_int_equal(decide("bytes=-10", date, NULL, &a, &b), 206);
    assert_int_equal(decide("bytes=-10", " \"1f52fd1c-3e8\"\t", NULL, &a, &b), 206);
    assert_int_equal(decide("bytes=-10", "\tSun, 06 Nov 1994 08:49:37 GMT ", NULL, &a, &b), 206);
    assert_int_equal(decide("bytes=-10", "\"1f52fd1c-3e8\"x", NULL, &a, &b), 200);
    assert_int_equal(decide("bytes=-10", "\"0badbad0-3e8\"", NULL, &a, &b), 200);
    assert_true(a == 0 && b == 999);
    assert_int_equal(decide("bytes=-10", "Sun, 06 Nov 1994 08:49:38 GMT", NULL, &a, &b), 200);
    assert_int_equal(decide("bytes=1000-", "\"other\"", NULL, &a, &b), 200);
    assert_int_equal(decide(NULL, etag, NULL, &a, &b), 200);
    /* If-None-Match comes first, weak tags included. */
    assert_int_equal(decide("bytes=1000-", NULL, etag, &a, &b), 304);
    assert_int_equal(decide(NULL, NULL, "W/\"1f52fd1c-3e8\"", &a, &b), 304);
    assert_int_equal(decide(NULL, NULL, "*", &a, &b), 304);
    assert_int_equal(decide("bytes=0-0", NULL, "\"x\"", &a, &b), 206);
    assert_true(a == 0 && b == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_ignored),
        cmocka_unit_test(test_etag_lists),
        cmocka_unit_test(test_value_is),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

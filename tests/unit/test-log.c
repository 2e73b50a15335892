/* The escaping of untrusted bytes in log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "log.h"

/* @in (@len bytes) escaped into a buffer of @size bytes. */
static const char *escape(const char *in, size_t len, size_t size)
{
    static char buf[256];

    memset(buf, 'x', sizeof(buf));
    return log_escape(in, len, buf, size);
}

#define ESCAPED(lit) escape(lit, sizeof(lit) - 1, 256)

static void test_plain(void **state)
{
    (void)state;
    assert_string_equal(ESCAPED(""), "");
    assert_string_equal(ESCAPED("/app/block/3?x=1 y"), "/app/block/3?x=1 y");
    assert_string_equal(ESCAPED("~!\"%'"), "~!\"%'");
}

static void test_control_bytes(void **state)
{
    (void)state;
    /* A forged log line stays on the line it is part of. */
    assert_string_equal(ESCAPED("/a\nwarning: forged"), "/a\\x0awarning: forged");
    assert_string_equal(ESCAPED("\r\t\x1b[31m"), "\\x0d\\x09\\x1b[31m");
    assert_string_equal(ESCAPED("a\0b"), "a\\x00b");
    assert_string_equal(ESCAPED("\x7f"), "\\x7f");
    /* The escape character itself, so an escape in the input is told apart. */
    assert_string_equal(ESCAPED("\\x0a"), "\\x5cx0a");
}

static void test_utf8(void **state)
{
    (void)state;
    assert_string_equal(ESCAPED("caf\xc3\xa9"), "caf\xc3\xa9");
    assert_string_equal(ESCAPED("\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
                        "\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    assert_string_equal(ESCAPED("\xed\x9f\xbf \xee\x80\x80"), "\xed\x9f\xbf \xee\x80\x80");
    /* Not UTF-8: every byte escaped on its own. */
    assert_string_equal(ESCAPED("\xff\xfe"), "\\xff\\xfe");
    assert_string_equal(ESCAPED("\x80"), "\\x80");
    assert_string_equal(ESCAPED("\xc0\xaf"), "\\xc0\\xaf");             /* overlong '/' */
    assert_string_equal(ESCAPED("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");     /* overlong */
    assert_string_equal(ESCAPED("\xed\xa0\x80"), "\\xed\\xa0\\x80");     /* surrogate */
    assert_string_equal(ESCAPED("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
    assert_string_equal(ESCAPED("\xe2\x82"), "\\xe2\\x82");             /* cut short */
    assert_string_equal(ESCAPED("\xe2\x82x"), "\\xe2\\x82x");
    assert_string_equal(ESCAPED("\xc3\n"), "\\xc3\\x0a");
}

static void test_cut(void **state)
{
    (void)state;
    /* Never half an escape or half a character. */
    assert_string_equal(escape("ab\ncd", 5, 5), "ab");
    assert_string_equal(escape("ab\ncd", 5, 7), "ab\\x0a");
    assert_string_equal(escape("a\xc3\xa9", 3, 3), "a");
    assert_string_equal(escape("abc", 3, 1), "");
    assert_string_equal(escape("abc", 3, 3), "ab");
    /* LOG_ESCAPE_SIZE is always enough. */
    assert_string_equal(escape("\n\n\n", 3, LOG_ESCAPE_SIZE(3)), "\\x0a\\x0a\\x0a");
}

static void test_limit(void **state)
{
    struct log_limit l = LOG_LIMIT_INIT;
    unsigned skipped = 99;

    (void)state;
    /* The first passes, at any time, even 0 or before. */
    assert_true(log_limit_pass(&l, -5, 60, &skipped));
    assert_int_equal(skipped, 0);
    for (int t = -5; t < 55; t += 10)
        assert_false(log_limit_pass(&l, t, 60, &skipped));
    assert_true(log_limit_pass(&l, 55, 60, &skipped));
    assert_int_equal(skipped, 6);
    assert_false(log_limit_pass(&l, 114, 60, &skipped));
    assert_true(log_limit_pass(&l, 1000, 60, &skipped));
    assert_int_equal(skipped, 1);
    assert_true(log_limit_pass(&l, 1060, 60, &skipped));
    assert_int_equal(skipped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Names made safe to print: which are served as they are, and how the others
 * appear in a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "escape.h"

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(escape_utf8_len(""), 0);
    assert_int_equal(escape_utf8_len("a"), 1);
    assert_int_equal(escape_utf8_len("\xc3\xbc"), 2);         /* ü */
    assert_int_equal(escape_utf8_len("\xe5\x9b\xba"), 3);     /* 固 */
    assert_int_equal(escape_utf8_len("\xf0\x9f\x98\x80"), 4); /* U+1F600 */
    assert_int_equal(escape_utf8_len("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
    assert_int_equal(escape_utf8_len("\xff"), 0);
    assert_int_equal(escape_utf8_len("\xfe"), 0);
    assert_int_equal(escape_utf8_len("\x80"), 0);             /* continuation */
    assert_int_equal(escape_utf8_len("\xc0\xaf"), 0);         /* overlong '/' */
    assert_int_equal(escape_utf8_len("\xc1\xbf"), 0);
    assert_int_equal(escape_utf8_len("\xe0\x80\xaf"), 0);     /* overlong */
    assert_int_equal(escape_utf8_len("\xed\xa0\x80"), 0);     /* surrogate */
    assert_int_equal(escape_utf8_len("\xf0\x8f\xbf\xbf"), 0); /* overlong */
    assert_int_equal(escape_utf8_len("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    assert_int_equal(escape_utf8_len("\xf5\x80\x80\x80"), 0);
    /* Cut short by the end of the string: never read past it. */
    assert_int_equal(escape_utf8_len("\xc3"), 0);
    assert_int_equal(escape_utf8_len("\xe5\x9b"), 0);
    assert_int_equal(escape_utf8_len("\xf0\x9f\x98"), 0);
}

static void test_name_ok(void **state)
{
    (void)state;
    assert_true(escape_name_ok("fw"));
    assert_true(escape_name_ok("my fw 'v2' \"beta\" a\\b"));
    assert_true(escape_name_ok("Pr\xc3\xbc" "fung"));
    assert_true(escape_name_ok("\xe5\x9b\xba\xe4\xbb\xb6"));
    assert_true(escape_name_ok("\xc2\xa0nbsp"));
    assert_false(escape_name_ok("fake\n  version: 999"));
    assert_false(escape_name_ok("cr\r"));
    assert_false(escape_name_ok("tab\t"));
    assert_false(escape_name_ok("esc\x1b[31m"));
    assert_false(escape_name_ok("del\x7f"));
    assert_false(escape_name_ok("csi\xc2\x9b"));
    assert_false(escape_name_ok("\xff\xfe"));
    assert_false(escape_name_ok("latin1 \xfc"));
}

static void test_escape(void **state)
{
    char buf[ESCAPE_NAME_SIZE];

    (void)state;
    assert_string_equal(escape_name("plain", buf, sizeof(buf)), "plain");
    assert_string_equal(escape_name("", buf, sizeof(buf)), "");
    assert_string_equal(escape_name("fake\n  version: 999.bin", buf, sizeof(buf)),
                        "fake\\x0a  version: 999.bin");
    assert_string_equal(escape_name("\xff\xfe.bin", buf, sizeof(buf)), "\\xff\\xfe.bin");
    /* A backslash is doubled, so "\x0a" spelled out is not a newline. */
    assert_string_equal(escape_name("a\\x0a", buf, sizeof(buf)), "a\\\\x0a");
    assert_string_equal(escape_name("del\x7f csi\xc2\x9b", buf, sizeof(buf)),
                        "del\\x7f csi\\xc2\\x9b");
    assert_string_equal(escape_name("Pr\xc3\xbc" "fung \"q\"", buf, sizeof(buf)),
                        "Pr\xc3\xbc" "fung \"q\"");
    assert_string_equal(escape_name("\xe5\x9b", buf, sizeof(buf)), "\\xe5\\x9b");
}

static void test_escape_cut(void **state)
{
    char name[256], buf[ESCAPE_NAME_SIZE], small[8];

    (void)state;
    /* The longest file name, every byte escaped: it fits. */
    memset(name, '\n', 255);
    name[255] = '\0';
    escape_name(name, buf, sizeof(buf));
    assert_int_equal(strlen(buf), 4 * 255);
    /* Too long: cut at a whole piece, marked. */
    assert_string_equal(escape_name("abcdefgh", small, sizeof(small)), "abcd...");
    assert_string_equal(escape_name("abcdefg", small, sizeof(small)), "abcdefg");
    assert_string_equal(escape_name("a\nbcdef", small, sizeof(small)), "a...");
    assert_string_equal(escape_name("\xe5\x9b\xba\xe5\x9b\xba\xe5\x9b\xba", small, sizeof(small)),
                        "\xe5\x9b\xba...");
    assert_string_equal(escape_name("\xe5\x9b\xba\xe5\x9b", small, sizeof(small)),
                        "\xe5\x9b\xba...");
    assert_string_equal(escape_name("\n", small, 4), "...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

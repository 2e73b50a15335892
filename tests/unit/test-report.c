/* SPDX-License-Identifier: MIT */
/* The catalog's log lines: their words, their levels, and names that cannot
 * forge a line of their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "log.h"
#include "report.h"

static void test_lines(void **state)
{
    char line[768];

    (void)state;
    assert_int_equal(report_change(&(struct catalog_change){.event = CATALOG_REMOVED,
                                                            .name = "app"},
                                   false, line, sizeof(line)),
                     LOG_LEVEL_INFO);
    assert_string_equal(line, "removed app");
    assert_int_equal(report_change(&(struct catalog_change){.event = CATALOG_SKIPPED,
                                                            .file = "x.bin",
                                                            .reason = "empty file"},
                                   false, line, sizeof(line)),
                     LOG_LEVEL_WARNING);
    assert_string_equal(line, "x.bin: empty file; skipped");
    assert_int_equal(report_change(&(struct catalog_change){.event = CATALOG_DUPLICATE,
                                                            .file = "a.BIN",
                                                            .other = "a.bin"},
                                   false, line, sizeof(line)),
                     LOG_LEVEL_WARNING);
    assert_string_equal(line, "a.BIN: same name as a.bin; ignored");
}

/* Every name, file and other name is escaped: a newline becomes \x0a. */
static void test_names_escaped(void **state)
{
    char line[768];

    (void)state;
    report_change(&(struct catalog_change){.event = CATALOG_REMOVED,
                                           .name = "fake\n  version: 999"},
                  false, line, sizeof(line));
    assert_string_equal(line, "removed fake\\x0a  version: 999");
    report_change(&(struct catalog_change){.event = CATALOG_DUPLICATE, .file = "a\r.BIN",
                                           .other = "a\r.bin"},
                  false, line, sizeof(line));
    assert_null(strchr(line, '\r'));
    assert_string_equal(line, "a\\x0d.BIN: same name as a\\x0d.bin; ignored");
    report_change(&(struct catalog_change){.event = CATALOG_WRITING, .file = "\xff.bin"},
                  false, line, sizeof(line));
    assert_string_equal(line, "\\xff.bin: being written; loaded once its writer closes it");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_names_escaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Version file parsing: what devices compare to decide on an update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>

#include "helpers.h"
#include "version.h"

static int parse(const char *s, uint32_t *v)
{
    return version_parse(s, strlen(s), v);
}

static void test_parse_valid(void **state)
{
    uint32_t v = 0;

    (void)state;
    assert_int_equal(parse("7", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(parse(" 42\n", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(parse("\t0007\r\n", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(parse("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse("4294967295", &v), 0);
    assert_int_equal(v, 4294967295u);
}

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {"", " \n", "-1", "+1", "0x10", "1.0", "1 2", "v3",
                                      "12a", "\xff"};
    uint32_t v = 99;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &v), -EINVAL);
    assert_int_equal(parse("4294967296", &v), -ERANGE);
    assert_int_equal(parse("99999999999999999999999", &v), -ERANGE);
    assert_int_equal(v, 99); /* untouched on error */
}

static void test_parse_embedded_nul(void **state)
{
    uint32_t v;

    (void)state;
    assert_int_equal(version_parse("1\0" "2", 3, &v), -EINVAL);
}

static void test_read_files(void **state)
{
    char *dir = tmpdir_create();
    char path[4096];
    uint32_t v = 0;
    int dfd;

    (void)state;
    assert_non_null(dir);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(write_file(dir, "ok.txt", "12\n", 3), 0);
    assert_int_equal(version_read(dfd, "ok.txt", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(version_read(dfd, "missing.txt", &v), -ENOENT);
    assert_int_equal(write_file(dir, "empty.txt", "", 0), 0);
    assert_int_equal(version_read(dfd, "empty.txt", &v), -EINVAL);

    /* 64 bytes of padding around a number is still read whole ... */
    char buf[80];
    memset(buf, ' ', sizeof(buf));
    memcpy(buf + 30, "5", 1);
    assert_int_equal(write_file(dir, "pad.txt", buf, 64), 0);
    assert_int_equal(version_read(dfd, "pad.txt", &v), 0);
    assert_int_equal(v, 5);
    /* ... one byte more is too long, whatever it holds. */
    assert_int_equal(write_file(dir, "long.txt", buf, 65), 0);
    assert_int_equal(version_read(dfd, "long.txt", &v), -EFBIG);

    /* A huge sparse file is rejected after reading 65 bytes. */
    snprintf(path, sizeof(path), "%s/huge.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1L << 30), 0);
    close(fd);
    assert_int_equal(version_read(dfd, "huge.txt", &v), -EFBIG);

    /* A FIFO must neither block nor count as a version. */
    snprintf(path, sizeof(path), "%s/fifo.txt", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(version_read(dfd, "fifo.txt", &v), -ENODEV);
    snprintf(path, sizeof(path), "%s/sub.txt", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(version_read(dfd, "sub.txt", &v), -ENODEV);
    assert_int_equal(v, 5);
    close(dfd);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_embedded_nul),
        cmocka_unit_test(test_read_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

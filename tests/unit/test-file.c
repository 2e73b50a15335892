/* SPDX-License-Identifier: MIT */
/* Safe opening and reading of firmware directory entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "file.h"
#include "helpers.h"

static void test_open_regular(void **state)
{
    char *dir = tmpdir_create();
    char path[4096], buf[16];
    struct stat st;
    int dfd, fd;

    (void)state;
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(write_file(dir, "f", "hello", 5), 0);
    fd = file_open_regular(dfd, "f", &st);
    assert_true(fd >= 0);
    assert_int_equal(st.st_size, 5);
    /* Asking for more than there is stops at end of file. */
    assert_int_equal(file_read_upto(fd, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(file_read_upto(fd, buf, sizeof(buf)), 0);
    close(fd);

    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(file_open_regular(dfd, "fifo", &st), -ENODEV); /* and no hang */
    snprintf(path, sizeof(path), "%s/d", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(file_open_regular(dfd, "d", &st), -ENODEV);
    assert_int_equal(file_open_regular(dfd, "none", &st), -ENOENT);
    snprintf(path, sizeof(path), "%s/link", dir);
    assert_int_equal(symlink("f", path), 0);
    fd = file_open_regular(dfd, "link", &st);
    assert_true(fd >= 0);
    close(fd);
    close(dfd);
    tmpdir_remove(dir);
}

static void test_file_id(void **state)
{
    char *dir = tmpdir_create();
    struct file_id a, b, link;
    char path[4096];
    int dfd;

    (void)state;
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(write_file(dir, "f", "hello", 5), 0);
    assert_int_equal(file_id_read(dfd, "f", &a), 0);
    assert_int_equal(a.size, 5);
    assert_int_equal(file_id_read(dfd, "f", &b), 0);
    assert_true(file_id_equal(&a, &b));
    /* A symlink is followed: the identity is its target's. */
    snprintf(path, sizeof(path), "%s/link", dir);
    assert_int_equal(symlink("f", path), 0);
    assert_int_equal(file_id_read(dfd, "link", &link), 0);
    assert_true(file_id_equal(&a, &link));
    /* Rewritten with another size: a changed file. */
    assert_int_equal(write_file(dir, "f", "hello!", 6), 0);
    assert_int_equal(file_id_read(dfd, "f", &b), 0);
    assert_false(file_id_equal(&a, &b));
    assert_int_equal(file_id_read(dfd, "none", &b), -ENOENT);
    close(dfd);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_regular),
        cmocka_unit_test(test_file_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Dropping root: the user lookup, and (when the tests run as root) a child
 * that drops to nobody and can then neither read a root-only file nor
 * become root again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "privs.h"

static void test_lookup(void **state)
{
    struct privs p;
    char err[256];

    (void)state;
    assert_int_equal(privs_lookup("nobody", &p, err, sizeof(err)), 0);
    assert_int_equal(p.uid, 65534); /* Debian's nobody */
    assert_int_equal(p.drop, geteuid() == 0);
    assert_int_equal(privs_lookup("65534", &p, err, sizeof(err)), 0);
    assert_int_equal(p.uid, 65534);
    assert_int_equal(privs_lookup("root", &p, err, sizeof(err)), 0);
    assert_false(p.drop); /* root to root: nothing to drop */
    assert_int_equal(privs_lookup("no-such-user-here", &p, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "user: no user 'no-such-user-here'"));
    assert_int_equal(privs_lookup("4294967295", &p, err, sizeof(err)), -ENOENT);
}

static void test_drop(void **state)
{
    char *dir = tmpdir_create();
    char path[4200], err[256];
    struct privs p;
    int status;
    pid_t pid;

    (void)state;
    if (geteuid() != 0) {
        tmpdir_remove(dir);
        skip();
    }
    chmod(dir, 0755);
    assert_int_equal(write_file(dir, "secret", "x", 1), 0);
    snprintf(path, sizeof(path), "%s/secret", dir);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(privs_lookup("nobody", &p, err, sizeof(err)), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (privs_drop(&p, err, sizeof(err)) < 0)
            _exit(10);
        if (getuid() != 65534 || geteuid() != 65534 || getegid() != p.gid)
            _exit(11);
        if (open(path, O_RDONLY) >= 0 || errno != EACCES)
            _exit(12);
        if (setuid(0) == 0 || seteuid(0) == 0)
            _exit(13);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_drop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

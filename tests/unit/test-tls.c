/* SPDX-License-Identifier: MIT */
/* HTTPS certificate pairs: replaced pairs are freed once no connection that
 * could use them is open, not kept until exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"
#include "tls.h"

struct fixture {
    char *dir;
    char cert[4200], key[4200];
    struct tls *tls;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char cmd[9000], err[512];

    f->dir = tmpdir_create();
    snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-subj /CN=127.0.0.1 -days 2 -keyout '%s' -out '%s' 2>/dev/null",
             f->key, f->cert);
    if (system(cmd) != 0)
        return -1;
    if (tls_open(f->cert, f->key, &f->tls, err, sizeof(err)) < 0) {
        fprintf(stderr, "tls_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tls_close(f->tls);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void reload(struct fixture *f)
{
    char err[512];

    assert_int_equal(tls_reload(f->tls, err, sizeof(err)), 0);
}

/* With no connection open, a renewal frees the pair it replaces: 1,000
 * renewals hold one pair (they used to hold 1,001). */
static void test_renewals_free(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(tls_pairs_held(f->tls), 1);
    for (int i = 0; i < 1000; i++)
        reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 1);
}

/* A connection open across renewals keeps the pair current at its start and
 * every later one (its handshake may be handed any of them); its close lets
 * the next renewal free them. */
static void test_open_connection_keeps_pairs(void **state)
{
    struct fixture *f = *state;
    struct tls_hold *a, *b;

    tls_hold(f->tls, &a);
    reload(f);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 3);
    tls_hold(f->tls, &b);   /* started under the third pair */
    tls_release(f->tls, a);
    reload(f);              /* the first two go; the third is b's */
    assert_int_equal(tls_pairs_held(f->tls), 2);
    tls_release(f->tls, b);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 1);
}

/* A younger connection that closed does not free a pair an older one may
 * still be handed. */
static void test_older_connection_protects_newer_pairs(void **state)
{
    struct fixture *f = *state;
    struct tls_hold *old, *young;

    tls_hold(f->tls, &old);
    reload(f);
    tls_hold(f->tls, &young);
    tls_release(f->tls, young);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 3);
    tls_release(f->tls, old);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 1);
}

/* A connection that could not keep its claim keeps every pair until it has
 * closed. */
static void test_untracked_connection_keeps_all(void **state)
{
    struct fixture *f = *state;

    tls_hold(f->tls, NULL);
    reload(f);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 3);
    tls_release(f->tls, NULL);
    reload(f);
    assert_int_equal(tls_pairs_held(f->tls), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renewals_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_connection_keeps_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_connection_protects_newer_pairs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_untracked_connection_keeps_all, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

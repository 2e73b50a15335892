/* SPDX-License-Identifier: MIT */
/* Connection state: pins, and parking across the legacy keep-alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "conn.h"

static void test_pin(void **state)
{
    struct conn *c = conn_new();
    uint64_t gen = 0;

    (void)state;
    assert_false(conn_pinned(c, "app", 3, &gen));
    assert_int_equal(conn_pin(c, "app", 3, 7, 1), 0);
    assert_true(conn_pinned(c, "app", 3, &gen));
    assert_int_equal(gen, 7);
    assert_false(conn_pinned(c, "ap", 2, &gen));
    assert_false(conn_pinned(c, "apps", 4, &gen));
    assert_int_equal(conn_pin(c, "other", 5, 9, 1), 0); /* a header of another name re-pins */
    assert_false(conn_pinned(c, "app", 3, &gen));
    assert_true(conn_pinned(c, "other", 5, &gen));
    assert_int_equal(gen, 9);
    assert_false(conn_pinned(NULL, "app", 3, &gen));
    conn_free(c);
}

static struct sockaddr_in peer(unsigned short port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static void test_parking(void **state)
{
    struct conn_parking p;
    struct conn *a = conn_new(), *b = conn_new(), *got;
    struct sockaddr_in pa = peer(1000), pb = peer(2000);

    (void)state;
    conn_parking_init(&p);
    conn_pin(a, "fw", 2, 3, 1);
    conn_park(&p, a, 10, (struct sockaddr *)&pa, sizeof(pa));
    conn_park(&p, b, 11, (struct sockaddr *)&pb, sizeof(pb));
    /* Same descriptor number, another client: not ours. */
    assert_null(conn_claim(&p, 10, (struct sockaddr *)&pb, sizeof(pb)));
    got = conn_claim(&p, 10, (struct sockaddr *)&pa, sizeof(pa));
    assert_ptr_equal(got, a);
    uint64_t gen;
    assert_true(conn_pinned(got, "fw", 2, &gen));
    assert_int_equal(gen, 3);
    assert_null(conn_claim(&p, 10, (struct sockaddr *)&pa, sizeof(pa)));
    conn_free(got);
    conn_parking_fini(&p); /* frees b */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_parking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

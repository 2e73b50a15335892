/* SPDX-License-Identifier: MIT */
/* The core promise: cut the power at any flash operation of an update and
 * the next boot ends on a verified application, resuming the download
 * rather than starting over. Every cut point of a whole update is tried,
 * each in a separate run from the same starting flash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>

#include "fake_server.h"
#include "signing.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_state.h"

/* Spans two application sectors (64 KiB + part of a 128 KiB one). */
#define V1_SIZE (40u * 1024u + 77u)
#define V2_SIZE (70u * 1024u + 13u)

static struct ota_config cfg = {
    .recv_timeout_ms = 10, .block_retries = 3, .backoff_first_ms = 100,
    .backoff_max_ms = 1000, .attempts_with_app = 3,
};

static uint8_t *v1, *v2;
static struct fake_server server;
static struct host_net_ops net;
static jmp_buf cut_jmp;

/* A device running v1 that asked for an update; the server has v2. */
static void make_device(void)
{
    struct ota_state_store s;
    struct ota_state st = {0};

    assert_int_equal(host_flash_open(NULL), 0);
    memcpy(host_area_mem(OTA_AREA_PRIMARY), v1, V1_SIZE);
    signing_keep(OTA_AREA_PRIMARY, v1, V1_SIZE, 1);
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    st.flags = OTA_STATE_APP_VALID | OTA_STATE_UPDATE_REQUESTED;
    st.app_version = 1;
    st.app_size = V1_SIZE;
    st.app_crc = (uint32_t)crc32(0, v1, V1_SIZE);
    assert_int_equal(ota_state_write(&s, &st, false), 0);
}

static void serve(const uint8_t *img, uint32_t size, uint32_t version)
{
    fake_serve(&server, &net, img, size, version);
    signing_serve(&server);
}

/* Boots once; returns true if the power failed during it. */
static bool boot(long cut)
{
    volatile bool cut_happened = false;

    host_clear_boot();
    host_power_cut = &cut_jmp;
    host_flash_cut_after(cut);
    if (setjmp(cut_jmp) == 0)
        ota_boot_main(&cfg);
    else
        cut_happened = true;
    host_flash_cut_after(-1);
    return cut_happened;
}

static bool app_is(const uint8_t *img, uint32_t size)
{
    return crc32(0, host_area_mem(OTA_AREA_PRIMARY), size) ==
           crc32(0, img, size);
}

static int setup(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    v1 = fake_app(V1_SIZE, 1);
    v2 = fake_app(V2_SIZE, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    free(v1);
    free(v2);
    return 0;
}

/* Without a cut: how many flash operations a whole update takes. */
static long uncut_ops(void)
{
    long setup_ops;

    make_device();
    setup_ops = host_flash_ops();
    serve(v2, V2_SIZE, 2);
    assert_false(boot(-1));
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v2, V2_SIZE));
    assert_false(host_flash_violation());
    return host_flash_ops() - setup_ops;
}

static void test_every_cut_point(void **state)
{
    long total = uncut_ops(), resumed = 0;
    struct ota_state_store s;

    (void)state;
    /* 1 state sector erase + 1 record + 2 sector erases + a program and a
     * mark per block + the commit record. */
    assert_true(total >= 4 + 2 * (long)((V2_SIZE + 255) / 256));
    for (long cut = 1; cut <= total; cut++) {
        uint32_t verified = 0;

        make_device();
        serve(v2, V2_SIZE, 2);
        if (!boot(cut))
            fail_msg("cut at %ld of %ld: the update needed fewer operations", cut, total);
        assert_int_equal(host_jumped_to(), 0); /* never booted mid-update */
        assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
        if (s.cur.flags & OTA_STATE_DOWNLOADING)
            verified = ota_state_blocks_done(&s, (V2_SIZE + 255) / 256);

        /* Power back: the next boot must end on a verified application. */
        serve(v2, V2_SIZE, 2);
        assert_false(boot(-1));
        if (host_jumped_to() != HOST_APP_ADDR || !app_is(v2, V2_SIZE) || host_flash_violation())
            fail_msg("cut at flash operation %ld of %ld: booted %08x, v2 %s, violation %d", cut,
                     total, host_jumped_to(), app_is(v2, V2_SIZE) ? "yes" : "no",
                     host_flash_violation());
        /* Nothing verified before the cut is fetched again. */
        if (verified > 0) {
            resumed++;
            if (server.first_block >= 0 && server.first_block < (long)verified)
                fail_msg("cut at %ld: %u blocks were verified, the resumed run fetched block %ld",
                         cut, verified, server.first_block);
        }
    }
    print_message("power-cut sweep: %ld cut points, %ld of them resumed a download\n", total,
                  resumed);
    assert_true(resumed > total / 2);
}

/* Power fails again during the resumed update, at pseudo-random points:
 * each boot still makes progress and the last one ends on v2. */
static void test_repeated_cuts(void **state)
{
    uint32_t x = 12345;

    (void)state;
    for (int run = 0; run < 60; run++) {
        int boots = 0;

        make_device();
        serve(v2, V2_SIZE, 2);
        for (;;) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            serve(v2, V2_SIZE, 2);
            if (!boot(1 + (long)(x % 300)))
                break;
            assert_int_equal(host_jumped_to(), 0);
            assert_true(++boots < 50); /* progress, not a loop */
        }
        assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
        assert_true(app_is(v2, V2_SIZE));
        assert_false(host_flash_violation());
    }
}

/* Cut before the old application was touched, and no server afterwards: the
 * device boots v1 after its bounded attempts. */
static void test_cut_early_server_down(void **state)
{
    (void)state;
    for (long cut = 1; cut <= 2; cut++) {
        make_device();
        serve(v2, V2_SIZE, 2);
        assert_true(boot(cut));
        serve(v2, V2_SIZE, 2);
        server.down_opens = 1000000;
        assert_false(boot(-1));
        /* Cut during the erase of the spare state sector: v1 stands. */
        if (cut == 1) {
            assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
            assert_true(app_is(v1, V1_SIZE));
        }
    }
}

/* Cut in the middle of the download, then the server stays down for a
 * while: the device has nothing to boot and keeps retrying, with back-off,
 * until the server is back. */
static void test_mid_download_server_down(void **state)
{
    uint64_t slept;

    (void)state;
    make_device();
    serve(v2, V2_SIZE, 2);
    assert_true(boot(200));
    serve(v2, V2_SIZE, 2);
    server.down_opens = 40;
    slept = host_slept_ms();
    assert_false(boot(-1));
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v2, V2_SIZE));
    /* Backed off: waits grew up to the cap instead of spinning. */
    assert_true(host_slept_ms() - slept >= 5 * cfg.backoff_max_ms);
}

/* The server's image changed while the device was cut off: the download
 * starts over cleanly and installs the new image. */
static void test_image_changed_during_outage(void **state)
{
    uint8_t *v3 = fake_app(V2_SIZE, 3);

    (void)state;
    for (long cut = 150; cut <= 450; cut += 150) {
        make_device();
        serve(v2, V2_SIZE, 2);
        assert_true(boot(cut));
        serve(v3, V2_SIZE, 3);
        assert_false(boot(-1));
        assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
        assert_true(app_is(v3, V2_SIZE));
        assert_int_equal(server.first_block, 0);
        assert_false(host_flash_violation());
    }
    free(v3);
}

/* A bit flipped on the way: the block is fetched again, the image is right. */
static void test_corrupted_block(void **state)
{
    (void)state;
    make_device();
    serve(v2, V2_SIZE, 2);
    server.corrupt_once = true;
    assert_false(boot(-1));
    assert_true(app_is(v2, V2_SIZE));
    assert_int_equal(server.block_requests, (V2_SIZE + 255) / 256 + 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut_point),
        cmocka_unit_test(test_repeated_cuts),
        cmocka_unit_test(test_cut_early_server_down),
        cmocka_unit_test(test_mid_download_server_down),
        cmocka_unit_test(test_image_changed_during_outage),
        cmocka_unit_test(test_corrupted_block),
    };
    signing_args(argc, argv, &cfg);
    return cmocka_run_group_tests(tests, setup, teardown);
}

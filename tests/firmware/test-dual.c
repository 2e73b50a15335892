/* SPDX-License-Identifier: MIT */
/* The dual-slot flow on the f405 map: download beside the running
 * application, install by swap, trial boot, confirmation, revert, the
 * rejected image, and a boot that never waits for the server. Images and
 * expectations come from the test (fake_app, zlib), not from the core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>

#include "fake_server.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_err.h"
#include "ota_flash.h"
#include "ota_state.h"
#include "ota_update.h"

#define PRIMARY_ADDR 0x08020000u
#define SECTOR (128u * 1024u)
#define SIZE1 (5000u)
#define SIZE2 (9000u)
#define SIZE4 (SECTOR + 3000u) /* spans two sectors of the slots */

static struct ota_config cfg = {
    .recv_timeout_ms = 10, .block_retries = 2, .backoff_first_ms = 100,
    .backoff_max_ms = 800, .attempts_with_app = 3, .trial_boots = 1,
};

static uint8_t *v1, *v2, *v3, *v4;
static struct fake_server server;
static struct host_net_ops net;

static uint8_t *primary(void)
{
    return host_area_mem(OTA_AREA_PRIMARY);
}

static uint8_t *secondary(void)
{
    return host_area_mem(OTA_AREA_SECONDARY);
}

static struct ota_state cur(void)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    return s.cur;
}

static void write_state(const struct ota_state *st)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    assert_int_equal(ota_state_write(&s, st, false), 0);
}

/* A device running @img as a confirmed application of @version. */
static void install(const uint8_t *img, uint32_t size, uint32_t version, uint32_t extra)
{
    struct ota_state st = {.flags = OTA_STATE_APP_VALID | extra, .app_version = version,
                           .app_size = size, .app_crc = (uint32_t)crc32(0, img, size)};

    memcpy(primary(), img, size);
    write_state(&st);
}

static void serve(const uint8_t *img, uint32_t size, uint32_t version)
{
    fake_serve(&server, &net, img, size, version);
}

static void boot(void)
{
    host_clear_boot();
    ota_boot_main(&cfg);
}

/* Boots and checks that the application in the primary slot was started
 * and is exactly @img. */
static void boot_expect(const uint8_t *img, uint32_t size)
{
    boot();
    assert_int_equal(host_jumped_to(), PRIMARY_ADDR);
    assert_memory_equal(primary(), img, size);
    assert_false(host_flash_violation());
}

static void request_update(void)
{
    assert_int_equal(ota_request_update(), 0);
}

/* v1 installed asks for an update; v2 arrives and boots on trial. */
static void v1_updates_to_v2(void)
{
    install(v1, SIZE1, 1, 0);
    request_update();
    serve(v2, SIZE2, 2);
    boot_expect(v2, SIZE2);
}

static int setup_all(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    v1 = fake_app_at(SIZE1, 11, PRIMARY_ADDR);
    v2 = fake_app_at(SIZE2, 22, PRIMARY_ADDR);
    v3 = fake_app_at(SIZE2, 33, PRIMARY_ADDR);
    v4 = fake_app_at(SIZE4, 44, PRIMARY_ADDR);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    free(v1);
    free(v2);
    free(v3);
    free(v4);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    cfg.trial_boots = 1;
    host_flash_set_layout(HOST_LAYOUT_F405);
    return host_flash_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    return 0;
}

/* Factory fresh: the image arrives in the secondary, is swapped in, and
 * boots confirmed (there is nothing to revert to). */
static void test_factory_fresh(void **state)
{
    struct ota_state st;

    (void)state;
    serve(v2, SIZE2, 2);
    boot_expect(v2, SIZE2);
    st = cur();
    assert_int_equal(st.flags, OTA_STATE_APP_VALID);
    assert_int_equal(st.app_version, 2);
    assert_int_equal(st.op, OTA_OP_NONE);
}

/* v1 -> v2, confirmed: the download never touches the primary, v2 boots on
 * trial, confirms, and boots from then on without a write; v1 waits in the
 * secondary. */
static void test_update_confirmed(void **state)
{
    struct ota_state st;
    long ops;

    (void)state;
    v1_updates_to_v2();
    st = cur();
    /* The install was reported; the confirmation is due once it is made. */
    assert_int_equal(st.flags, OTA_STATE_APP_VALID | OTA_STATE_TRIAL | OTA_STATE_SECONDARY_VALID |
                                   OTA_STATE_REPORT_TRIAL);
    assert_int_equal(st.trials, 1);
    assert_int_equal(st.dl_version, 1);
    assert_memory_equal(secondary(), v1, SIZE1);
    assert_int_equal(ota_confirm(), 0);
    st = cur();
    assert_int_equal(st.flags,
                     OTA_STATE_APP_VALID | OTA_STATE_SECONDARY_VALID | OTA_STATE_REPORT_TRIAL);
    ops = host_flash_ops();
    assert_int_equal(ota_confirm(), 0); /* confirmed already: no write */
    assert_int_equal(host_flash_ops(), ops);
    /* The next boot reports the confirmation: one record clears it. */
    boot_expect(v2, SIZE2);
    assert_int_equal(host_flash_ops(), ops + 1);
    assert_int_equal(cur().flags, OTA_STATE_APP_VALID | OTA_STATE_SECONDARY_VALID);
    boot_expect(v2, SIZE2);
    boot_expect(v2, SIZE2);
    assert_int_equal(host_flash_ops(), ops + 1);
}

/* A new application that never confirms is reverted at the next boot; v1
 * runs confirmed, and v2 is remembered as rejected. */
static void test_unconfirmed_reverts(void **state)
{
    struct ota_state st;

    (void)state;
    v1_updates_to_v2();
    /* v2 resets without confirming (a watchdog, a fault, a power cut). */
    boot_expect(v1, SIZE1);
    st = cur();
    assert_int_equal(st.flags, OTA_STATE_APP_VALID);
    assert_int_equal(st.app_version, 1);
    assert_int_equal(st.rejected_size, SIZE2);
    assert_int_equal(st.rejected_crc, (uint32_t)crc32(0, v2, SIZE2));
    assert_memory_equal(secondary(), v2, SIZE2);
    boot_expect(v1, SIZE1); /* stays */
}

/* The rejected image is not downloaded again; different bytes are, even
 * under the same version number. */
static void test_rejected_not_again(void **state)
{
    (void)state;
    v1_updates_to_v2();
    boot_expect(v1, SIZE1);
    request_update();
    serve(v2, SIZE2, 2);
    boot_expect(v1, SIZE1);
    assert_int_equal(server.header_requests, 1);
    assert_int_equal(server.block_requests, 0);
    assert_false(cur().flags & OTA_STATE_UPDATE_REQUESTED); /* answered */
    request_update();
    serve(v3, SIZE2, 2);
    boot_expect(v3, SIZE2);
    assert_int_equal(server.block_requests, (SIZE2 + 255) / 256);
}

/* trial_boots = 3: the new application gets three boots, then is reverted. */
static void test_trial_boots(void **state)
{
    (void)state;
    cfg.trial_boots = 3;
    v1_updates_to_v2();
    boot_expect(v2, SIZE2);
    boot_expect(v2, SIZE2);
    assert_int_equal(cur().trials, 3);
    boot_expect(v1, SIZE1);
}

/* The server down when an update is asked for: one try of the header, no
 * back-off, and the installed application starts. The request stays, and
 * the next boot that reaches the server updates. */
static void test_server_down_boots_at_once(void **state)
{
    uint64_t slept = host_slept_ms();

    (void)state;
    install(v1, SIZE1, 1, 0);
    request_update();
    serve(v2, SIZE2, 2);
    server.down_opens = 1000;
    boot_expect(v1, SIZE1);
    assert_int_equal(host_slept_ms(), slept);
    assert_int_equal(server.down_opens, 999);
    assert_true(cur().flags & OTA_STATE_UPDATE_REQUESTED);
    server.down_opens = 0;
    boot_expect(v2, SIZE2);
    assert_false(cur().flags & OTA_STATE_UPDATE_REQUESTED);
}

/* The server goes away mid-download: the device starts v1 at once, its
 * primary untouched; the next boot resumes the download. */
static void test_interrupted_download(void **state)
{
    uint8_t *before = malloc(SECTOR);

    (void)state;
    install(v1, SIZE1, 1, 0);
    memcpy(before, primary(), SECTOR);
    request_update();
    serve(v2, SIZE2, 2);
    server.stop_after_blocks = 20;
    boot_expect(v1, SIZE1);
    assert_memory_equal(primary(), before, SECTOR);
    assert_int_equal(host_flash_erases(OTA_AREA_PRIMARY), 0);
    assert_int_equal(host_slept_ms(), 0);
    assert_true(cur().flags & OTA_STATE_DOWNLOADING);
    serve(v2, SIZE2, 2);
    boot_expect(v2, SIZE2);
    assert_int_equal(server.first_block, 20);
    free(before);
}

/* Wear: the flash erases of one update, per area. v1 (1 sector) -> v4 (2
 * sectors): the download erases the 2 secondary sectors; the swap, for
 * each sector holding either image, the scratch if the primary had bytes
 * there, the primary sector, and the secondary sector again. */
static void test_erase_counts(void **state)
{
    (void)state;
    install(v1, SIZE1, 1, 0);
    request_update();
    serve(v4, SIZE4, 4);
    boot_expect(v4, SIZE4);
    print_message("erases for an update of %u to %u bytes: secondary %ld, primary %ld, "
                  "scratch %ld, state %ld\n", SIZE1, SIZE4, host_flash_erases(OTA_AREA_SECONDARY),
                  host_flash_erases(OTA_AREA_PRIMARY), host_flash_erases(OTA_AREA_SCRATCH),
                  host_flash_erases(OTA_AREA_STATE_A) + host_flash_erases(OTA_AREA_STATE_B));
    assert_int_equal(host_flash_erases(OTA_AREA_SECONDARY), 2 + 1);
    assert_int_equal(host_flash_erases(OTA_AREA_PRIMARY), 2);
    assert_int_equal(host_flash_erases(OTA_AREA_SCRATCH), 1);
    assert_memory_equal(secondary(), v1, SIZE1);
    /* The revert swaps both sectors back. */
    boot_expect(v1, SIZE1);
    assert_memory_equal(secondary(), v4, SIZE4);
}

/* The previous image damaged in the secondary: no revert to it; the trial
 * application is kept rather than swapping in bad bytes. */
static void test_revert_needs_a_good_image(void **state)
{
    (void)state;
    v1_updates_to_v2();
    secondary()[100] ^= 0x01;
    boot_expect(v2, SIZE2);
    assert_false(cur().flags & OTA_STATE_TRIAL);
}

/* An update request made by an application on trial counts as a failed
 * trial: it must confirm first. */
static void test_request_during_trial(void **state)
{
    (void)state;
    v1_updates_to_v2();
    request_update();
    serve(v3, SIZE2, 3);
    boot_expect(v1, SIZE1);
    assert_int_equal(server.header_requests, 0);
}

/* The server's image is larger than a slot: refused before anything is
 * erased, and v1 boots. */
static void test_too_large(void **state)
{
    uint8_t *big = fake_app_at(384u * 1024u + 1u, 5, PRIMARY_ADDR);

    (void)state;
    install(v1, SIZE1, 1, 0);
    request_update();
    serve(big, 384u * 1024u + 1u, 9);
    boot_expect(v1, SIZE1);
    assert_int_equal(server.block_requests, 0);
    assert_int_equal(host_flash_erases(OTA_AREA_SECONDARY), 0);
    assert_false(cur().flags & OTA_STATE_UPDATE_REQUESTED); /* answered: it cannot fit */
    free(big);
}

/* On the single-slot map, confirming changes nothing. */
static void test_confirm_single_slot(void **state)
{
    long ops;

    (void)state;
    host_flash_set_layout(HOST_LAYOUT_F401);
    assert_int_equal(host_flash_open(NULL), 0);
    ops = host_flash_ops();
    assert_int_equal(ota_confirm(), 0);
    assert_int_equal(host_flash_ops(), ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_factory_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_confirmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconfirmed_reverts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_not_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trial_boots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_down_boots_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revert_needs_a_good_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_during_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_single_slot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
